//! SMS: how many segments a text costs (Greek capitals fit GSM-7, Greek
//! lowercase needs UCS-2), and the ways to send one: a configurable HTTP
//! gateway, or a file (the embedded default).

use async_trait::async_trait;
use serde::Serialize;
use std::path::PathBuf;

use crate::SendError;

/// The GSM 03.38 basic character set (each one septet).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\u{1b}ÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The extension table (each one escape plus one septet).
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Segments {
    pub encoding: Encoding,
    /// Septets (GSM-7) or UTF-16 code units (UCS-2).
    pub units: usize,
    pub segments: usize,
}

/// Segments of a text as a phone network counts them.
pub fn segments(text: &str) -> Segments {
    let mut septets = 0;
    let mut gsm = true;
    for c in text.chars() {
        if GSM7_BASIC.contains(c) {
            septets += 1;
        } else if GSM7_EXTENDED.contains(c) {
            septets += 2;
        } else {
            gsm = false;
            break;
        }
    }
    let (encoding, units, single, multi) = if gsm {
        (Encoding::Gsm7, septets, 160, 153)
    } else {
        (Encoding::Ucs2, text.encode_utf16().count(), 70, 67)
    };
    let segments = match units {
        0 => 0,
        n if n <= single => 1,
        n => n.div_ceil(multi),
    };
    Segments {
        encoding,
        units,
        segments,
    }
}

/// Greek text costs UCS-2 (70 characters a segment): GSM-7 holds only
/// ten Greek capitals. We send the text as written, accents and all, and
/// count what it costs.
#[async_trait]
pub trait SmsSender: Send + Sync + std::fmt::Debug {
    /// Returns the gateway's message id when it gives one.
    async fn send(&self, to: &str, sender: &str, text: &str) -> Result<String, SendError>;
}

/// Writes messages to `<dir>/sms.jsonl`.
#[derive(Debug)]
pub struct FileSms {
    pub dir: PathBuf,
}

#[async_trait]
impl SmsSender for FileSms {
    async fn send(&self, to: &str, sender: &str, text: &str) -> Result<String, SendError> {
        use tokio::io::AsyncWriteExt;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| SendError::retry(e.to_string()))?;
        let line = serde_json::json!({
            "to": to, "sender": sender, "text": text, "segments": segments(text),
        });
        let mut f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.join("sms.jsonl"))
            .await
            .map_err(|e| SendError::retry(e.to_string()))?;
        f.write_all(format!("{line}\n").as_bytes())
            .await
            .map_err(|e| SendError::retry(e.to_string()))?;
        tracing::info!(to, "SMS written to the outbox file");
        Ok(String::new())
    }
}

/// Any HTTP SMS gateway: URL, method, an authorisation header, and a body
/// template with `to`, `sender` and `text` (use `|tojson` inside JSON).
#[derive(Debug)]
pub struct HttpSms {
    pub client: reqwest::Client,
    pub url: String,
    pub method: reqwest::Method,
    pub auth_header: Option<String>,
    pub content_type: String,
    pub body: String,
}

impl HttpSms {
    /// Renders the body; a template that does not render is a configuration
    /// error, reported at start-up.
    pub fn render(&self, to: &str, sender: &str, text: &str) -> Result<String, String> {
        let mut env = minijinja::Environment::new();
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        env.render_str(
            &self.body,
            minijinja::context! { to, sender, text, segments => segments(text).segments },
        )
        .map_err(|e| format!("sms.http_body: {e}"))
    }
}

#[async_trait]
impl SmsSender for HttpSms {
    async fn send(&self, to: &str, sender: &str, text: &str) -> Result<String, SendError> {
        let body = self
            .render(to, sender, text)
            .map_err(SendError::permanent)?;
        let mut req = self
            .client
            .request(self.method.clone(), &self.url)
            .header("content-type", &self.content_type)
            .body(body);
        if let Some(h) = &self.auth_header {
            req = req.header("authorization", h);
        }
        let res = req
            .send()
            .await
            .map_err(|e| SendError::retry(e.to_string()))?;
        let status = res.status();
        let text = res.text().await.unwrap_or_default();
        if status.is_success() {
            Ok(text.chars().take(200).collect())
        } else if status.is_client_error() && status.as_u16() != 429 {
            Err(SendError::permanent(format!("gateway answered {status}")))
        } else {
            Err(SendError::retry(format!("gateway answered {status}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin_and_greek_capitals_are_gsm7_lowercase_greek_is_ucs2() {
        assert_eq!(segments("Hello").encoding, Encoding::Gsm7);
        // GSM-7 has ten Greek capitals; the others look Latin but are not.
        assert_eq!(segments("ΔΦΓΛΩΠΨΣΘΞ 12/2026").encoding, Encoding::Gsm7);
        assert_eq!(segments("ΔΗΜΟΣ").encoding, Encoding::Ucs2);
        let g = segments("Η αίτησή σας πρωτοκολλήθηκε");
        assert_eq!(g.encoding, Encoding::Ucs2);
        assert_eq!(g.units, 27);
        assert_eq!(g.segments, 1);
    }

    #[test]
    fn segment_boundaries() {
        assert_eq!(segments(&"a".repeat(160)).segments, 1);
        assert_eq!(segments(&"a".repeat(161)).segments, 2);
        assert_eq!(segments(&"a".repeat(306)).segments, 2);
        assert_eq!(segments(&"a".repeat(307)).segments, 3);
        // The euro sign takes two septets.
        assert_eq!(segments(&"€".repeat(80)).units, 160);
        assert_eq!(segments(&"€".repeat(81)).segments, 2);
        assert_eq!(segments(&"α".repeat(70)).segments, 1);
        assert_eq!(segments(&"α".repeat(71)).segments, 2);
        assert_eq!(segments(&"α".repeat(134)).segments, 2);
        assert_eq!(segments(&"α".repeat(135)).segments, 3);
        assert_eq!(segments("").segments, 0);
    }
}
