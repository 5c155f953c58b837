//! Email through lettre: SMTP (plain for a local relay, STARTTLS or TLS,
//! with authentication, pooled connections) or `.eml` files in a folder,
//! the embedded default.

use crate::SendError;
use lettre::message::{Mailbox, MultiPart, header::ContentType};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;

pub use lettre::Address;

#[derive(Clone)]
pub enum Mailer {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    File(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
            Mailer::File(_, d) => write!(f, "Mailer::File({})", d.display()),
        }
    }
}

/// An email ready to go.
#[derive(Debug, Clone)]
pub struct Email {
    pub id: uuid::Uuid,
    pub from_name: String,
    pub from_address: String,
    pub reply_to: Option<String>,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl Mailer {
    /// `smtp://host:25` (plain, for a local relay), `smtp://user:pass@host:587?tls=required`
    /// (STARTTLS), `smtps://user:pass@host:465` (TLS).
    ///
    /// `ca_pem`: extra trusted roots (a relay with a private CA); the
    /// system's web roots otherwise.
    pub fn smtp(url: &str, ca_pem: Option<&[u8]>) -> Result<Mailer, String> {
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
        let bad = |e: &dyn std::fmt::Display| format!("mail.smtp_url: {e}");
        let u = url::Url::parse(url).map_err(|e| bad(&e))?;
        let host = u.host_str().ok_or_else(|| bad(&"no host"))?.to_owned();
        let tls_mode = u
            .query_pairs()
            .find(|(k, _)| k == "tls")
            .map(|(_, v)| v.into_owned());
        let params = || -> Result<TlsParameters, String> {
            let mut b = TlsParameters::builder(host.clone());
            if let Some(pem) = ca_pem {
                // Each certificate of a bundle; a file with none is a mistake.
                const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
                let text = String::from_utf8_lossy(pem);
                let blocks: Vec<String> = text
                    .split(BEGIN)
                    .skip(1)
                    .map(|b| format!("{BEGIN}{b}"))
                    .collect();
                if blocks.is_empty() {
                    return Err("mail.smtp_ca_file: no PEM certificate in the file".into());
                }
                for block in blocks {
                    let cert = Certificate::from_pem(block.as_bytes())
                        .map_err(|e| format!("mail.smtp_ca_file: {e}"))?;
                    b = b.add_root_certificate(cert);
                }
            }
            b.build_rustls().map_err(|e| bad(&e))
        };
        let (tls, default_port) = match (u.scheme(), tls_mode.as_deref()) {
            ("smtps", _) => (Tls::Wrapper(params()?), 465),
            ("smtp", Some("required")) => (Tls::Required(params()?), 587),
            ("smtp", Some("opportunistic")) => (Tls::Opportunistic(params()?), 587),
            ("smtp", None | Some("none")) => (Tls::None, 25),
            (s, t) => return Err(bad(&format!("unsupported scheme {s} or tls={t:?}"))),
        };
        let mut b = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host.clone())
            .port(u.port().unwrap_or(default_port))
            .tls(tls)
            .timeout(Some(std::time::Duration::from_secs(20)));
        if !u.username().is_empty() {
            let user = url::form_urlencoded::parse(format!("u={}", u.username()).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default();
            let pass = u
                .password()
                .and_then(|p| {
                    url::form_urlencoded::parse(format!("p={p}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                })
                .unwrap_or_default();
            b = b.credentials(Credentials::new(user, pass));
        }
        Ok(Mailer::Smtp(b.build()))
    }

    pub fn file(dir: PathBuf) -> Mailer {
        Mailer::File(AsyncFileTransport::new(&dir), dir)
    }

    pub async fn send(&self, e: &Email) -> Result<String, SendError> {
        let from: Mailbox = format!("{} <{}>", e.from_name, e.from_address)
            .parse()
            .or_else(|_| e.from_address.parse())
            .map_err(|_| SendError::permanent(format!("invalid sender {}", e.from_address)))?;
        let to: Mailbox =
            e.to.parse()
                .map_err(|_| SendError::permanent(format!("invalid recipient {}", e.to)))?;
        let mut b = Message::builder()
            .from(from)
            .to(to)
            .subject(e.subject.clone())
            // Stable per message: a retry after an unacknowledged send is
            // recognisable as the same message.
            .message_id(Some(format!("<{}@dimos>", e.id.simple())));
        if let Some(r) = e.reply_to.as_deref().filter(|r| !r.is_empty())
            && let Ok(r) = r.parse::<Mailbox>()
        {
            b = b.reply_to(r);
        }
        let msg = b
            .multipart(MultiPart::alternative_plain_html(
                e.text.clone(),
                e.html.clone(),
            ))
            .map_err(|err| SendError::permanent(err.to_string()))?;
        let _ = ContentType::TEXT_PLAIN;
        match self {
            Mailer::Smtp(t) => t
                .send(msg)
                .await
                .map(|r| r.message().collect::<Vec<_>>().join(" "))
                .map_err(|err| {
                    if err.is_permanent() && !relay_refused_us(&err) {
                        SendError::permanent(err.to_string())
                    } else {
                        SendError::retry(err.to_string())
                    }
                }),
            Mailer::File(t, dir) => {
                tokio::fs::create_dir_all(dir)
                    .await
                    .map_err(|err| SendError::retry(err.to_string()))?;
                let id = t
                    .send(msg)
                    .await
                    .map_err(|err| SendError::retry(err.to_string()))?;
                tracing::info!(to = %e.to, file = %dir.join(format!("{id}.eml")).display(), "email written to the outbox folder");
                Ok(id)
            }
        }
    }
}

/// The relay refused *us*, not the message: authentication required or
/// refused (530, 534, 535, 538 — the x3x replies). That is the operator's
/// configuration to fix; the message must wait for it, not be given up.
fn relay_refused_us(err: &lettre::transport::smtp::Error) -> bool {
    use lettre::transport::smtp::response::Category;
    err.status()
        .is_some_and(|code| code.category == Category::Unspecified3)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The pooled transport spawns its reaper on the runtime.
    #[tokio::test]
    async fn smtp_urls_choose_the_tls_mode_and_refuse_nonsense() {
        for ok in [
            "smtp://relay:25",
            "smtp://user:p%40ss@relay:587?tls=required",
            "smtp://relay?tls=opportunistic",
            "smtps://user:pass@relay:465",
        ] {
            assert!(Mailer::smtp(ok, None).is_ok(), "{ok}");
        }
        for bad in ["http://relay", "smtp://relay?tls=sometimes", "not a url"] {
            assert!(Mailer::smtp(bad, None).is_err(), "{bad}");
        }
        assert!(Mailer::smtp("smtps://relay", Some(b"not a certificate")).is_err());
    }
}
