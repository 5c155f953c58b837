//! The edge: what every request must be before any handler sees it, and
//! who sent it.
//!
//! - **Input**: the path, the query string and every text field of a form
//!   (URL-encoded or multipart) must be valid UTF-8 without control
//!   characters (tab, CR and LF allowed in bodies) or bidirectional
//!   overrides. Anything else is refused here with one clear 400, for
//!   every route at once, instead of reaching a query (PostgreSQL refuses
//!   NUL with an error) or a `Location` header (control characters make it
//!   invalid). A body over the limit is 413 however it is sent.
//! - **Client address**: the connecting peer, or, when that peer is one of
//!   the configured `trusted_proxies`, the address the proxy reports in
//!   `X-Forwarded-For` (or `Forwarded`). Rate limits and the audit trail
//!   use it.

use crate::error::AppError;
use crate::state::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use dimos_kernel::Error;
use dimos_kernel::config::IpNet;
use std::net::{IpAddr, SocketAddr};

/// The client's address as Dimos believes it (see the module docs).
#[derive(Clone, Copy, Debug)]
pub struct ClientAddr {
    pub ip: Option<IpAddr>,
    /// Whether the request came through a configured proxy (then the
    /// connecting peer says nothing about the client).
    pub via_proxy: bool,
}

/// The client behind `peer`: when `peer` is a trusted proxy, the first
/// address from the right of the forwarding chain that is not itself a
/// trusted proxy. Entries further left were written by the client and are
/// never believed.
pub fn client_addr(peer: Option<IpAddr>, headers: &HeaderMap, trusted: &[IpNet]) -> ClientAddr {
    let is_trusted = |ip: &IpAddr| trusted.iter().any(|n| n.contains(ip));
    let Some(peer) = peer else {
        return ClientAddr {
            ip: None,
            via_proxy: false,
        };
    };
    if !is_trusted(&peer) {
        return ClientAddr {
            ip: Some(peer),
            via_proxy: false,
        };
    }
    let chain = forwarded_chain(headers);
    let mut client = peer;
    for hop in chain.iter().rev() {
        match hop {
            Some(ip) if is_trusted(ip) => client = *ip,
            Some(ip) => {
                client = *ip;
                break;
            }
            // Garbage in the chain: stop at the last hop we can vouch for.
            None => break,
        }
    }
    ClientAddr {
        ip: Some(client),
        via_proxy: true,
    }
}

/// The forwarding chain, left (client side) to right (nearest proxy):
/// `X-Forwarded-For` if present, else `Forwarded: for=`.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .collect();
    if !xff.is_empty() {
        return xff
            .iter()
            .flat_map(|v| v.split(','))
            .map(|s| parse_node(s.trim()))
            .collect();
    }
    headers
        .get_all(header::FORWARDED)
        .iter()
        .map(|v| v.to_str().unwrap_or("?"))
        .flat_map(|v| v.split(','))
        .map(|element| {
            element
                .split(';')
                .find_map(|pair| {
                    let (k, v) = pair.trim().split_once('=')?;
                    k.eq_ignore_ascii_case("for")
                        .then(|| v.trim().trim_matches('"'))
                })
                .and_then(parse_node)
        })
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:443`, `[2001:db8::1]`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|r| r.parse().ok())
}

/// A client's own `X-Request-Id` is kept (a proxy's id ties its log to
/// ours) only when it looks like an id: 1–64 letters, digits, `-`, `_` or
/// `.`. Anything else is dropped and a fresh one is made, so nobody writes
/// what they like into our logs and error pages.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let ok = req
        .headers()
        .get_all("x-request-id")
        .iter()
        .map(|v| {
            v.as_bytes().len() <= 64
                && !v.is_empty()
                && v.as_bytes()
                    .iter()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        })
        .collect::<Vec<_>>();
    if ok.len() > 1 || ok.iter().any(|o| !o) {
        req.headers_mut().remove("x-request-id");
    }
    next.run(req).await
}

/// Makes a request's span a child of the caller's trace (W3C
/// `traceparent`, e.g. from the proxy) when traces are exported; without
/// an exporter the propagator is a no-op and so is this.
pub fn continue_trace(span: &tracing::Span, headers: &axum::http::HeaderMap) {
    use tracing_opentelemetry::OpenTelemetrySpanExt;
    struct Headers<'a>(&'a axum::http::HeaderMap);
    impl opentelemetry::propagation::Extractor for Headers<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(axum::http::HeaderName::as_str).collect()
        }
    }
    if !headers.contains_key("traceparent") {
        return;
    }
    let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    let _ = span.set_parent(parent);
}

/// Sets [`ClientAddr`] for everything after it.
pub async fn client(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let addr = client_addr(peer, req.headers(), state.trusted_proxies());
    req.extensions_mut().insert(addr);
    next.run(req).await
}

/// Why a value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    NotUtf8,
    ControlCharacter,
    BidiOverride,
}

impl Refused {
    fn message(self, what: &str) -> String {
        match self {
            Refused::NotUtf8 => format!("{what} is not valid UTF-8"),
            Refused::ControlCharacter => format!("{what} contains a control character"),
            Refused::BidiOverride => {
                format!("{what} contains a bidirectional override character")
            }
        }
    }
}

/// Checks decoded text. `multiline` allows tab, CR and LF (text areas).
pub fn check_text(s: &str, multiline: bool) -> Result<(), Refused> {
    for c in s.chars() {
        if matches!(c, '\t' | '\r' | '\n') {
            if multiline {
                continue;
            }
            return Err(Refused::ControlCharacter);
        }
        if c.is_control() {
            return Err(Refused::ControlCharacter);
        }
        // Explicit embeddings, overrides and isolates: they make text
        // display as something other than what it is.
        if matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
            return Err(Refused::BidiOverride);
        }
    }
    Ok(())
}

/// Checks raw bytes as text.
pub fn check_bytes(b: &[u8], multiline: bool) -> Result<(), Refused> {
    let s = std::str::from_utf8(b).map_err(|_| Refused::NotUtf8)?;
    check_text(s, multiline)
}

/// Checks every key and value of `application/x-www-form-urlencoded` data
/// (a query string or a body) after percent-decoding.
pub fn check_urlencoded(data: &[u8], multiline: bool) -> Result<(), Refused> {
    for pair in data.split(|b| *b == b'&') {
        let plus: Vec<u8> = pair
            .iter()
            .map(|b| if *b == b'+' { b' ' } else { *b })
            .collect();
        let decoded: Vec<u8> = percent_encoding::percent_decode(&plus).collect();
        check_bytes(&decoded, multiline)?;
    }
    Ok(())
}

fn bad(r: Refused, what: &str) -> Response {
    AppError(Error::BadRequest(r.message(what))).into_response()
}

/// The Content-Type as sent (a multipart boundary is case-sensitive).
fn content_type(headers: &HeaderMap) -> String {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// Reads the whole body (bounded by the body limit already in place):
/// over the limit is 413, however the body was sent (length or chunked).
async fn read_body(body: Body, limit: usize) -> Result<Bytes, Response> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        // The limit's error sits somewhere down the chain of causes.
        let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        let mut too_large = false;
        while let Some(c) = cause {
            too_large |= c.is::<http_body_util::LengthLimitError>();
            cause = c.source();
        }
        if too_large {
            AppError(Error::PayloadTooLarge).into_response()
        } else {
            AppError(Error::BadRequest(
                "the request body could not be read".into(),
            ))
            .into_response()
        }
    })
}

/// The input check of the module docs for the path and the query, on
/// every request (matched route or not).
pub async fn target(req: Request, next: Next) -> Response {
    let path_bytes: Vec<u8> =
        percent_encoding::percent_decode(req.uri().path().as_bytes()).collect();
    if let Err(r) = check_bytes(&path_bytes, false) {
        return bad(r, "the address");
    }
    if let Some(q) = req.uri().query()
        && let Err(r) = check_urlencoded(q.as_bytes(), false)
    {
        return bad(r, "the query string");
    }
    next.run(req).await
}

/// The input check of the module docs for forms, inside each host's body
/// limit (so an oversized form is the same 413 as any other body).
pub async fn input(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ct = content_type(req.headers());
    let ct_lower = ct.to_ascii_lowercase();
    let limit = state.config().http.body_limit_bytes;
    if ct_lower.starts_with("application/x-www-form-urlencoded") {
        let (parts, body) = req.into_parts();
        let bytes = match read_body(body, limit).await {
            Ok(b) => b,
            Err(res) => return res,
        };
        if let Err(r) = check_urlencoded(&bytes, true) {
            return bad(r, "a form field");
        }
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    if ct_lower.starts_with("multipart/form-data") {
        let Ok(boundary) = multer::parse_boundary(&ct) else {
            return AppError(Error::BadRequest(
                "a multipart form without a boundary".into(),
            ))
            .into_response();
        };
        let (parts, body) = req.into_parts();
        let bytes = match read_body(body, limit).await {
            Ok(b) => b,
            Err(res) => return res,
        };
        if let Err(res) = check_multipart(bytes.clone(), boundary).await {
            return res;
        }
        return next
            .run(Request::from_parts(parts, Body::from(bytes)))
            .await;
    }
    next.run(req).await
}

/// Every text field (a part without a file name) of a multipart form, and
/// every field name and file name, must be clean text. File contents are
/// the documents' business (sniffed and checked on upload).
async fn check_multipart(bytes: Bytes, boundary: String) -> Result<(), Response> {
    let stream = futures::stream::once(async move { Ok::<_, std::io::Error>(bytes) });
    let mut mp = multer::Multipart::new(stream, boundary);
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(AppError(Error::BadRequest(format!(
                    "the multipart form is malformed: {e}"
                )))
                .into_response());
            }
        };
        if let Some(name) = field.name() {
            check_text(name, false).map_err(|r| bad(r, "a field name"))?;
        }
        let is_file = field.file_name().is_some();
        if let Some(file) = field.file_name() {
            check_text(file, false).map_err(|r| bad(r, "a file name"))?;
        }
        let data = field.bytes().await.map_err(|e| {
            AppError(Error::BadRequest(format!(
                "the multipart form is malformed: {e}"
            )))
            .into_response()
        })?;
        if !is_file {
            check_bytes(&data, true).map_err(|r| bad(r, "a form field"))?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn nets(s: &[&str]) -> Vec<IpNet> {
        s.iter()
            .map(|c| dimos_kernel::config::parse_cidr(c).unwrap())
            .collect()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarded_headers_count_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.5".parse().unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4, 203.0.113.9")]);
        // No trusted proxies: the peer is the client, whatever it claims.
        let a = client_addr(Some(proxy), &h, &[]);
        assert_eq!(a.ip, Some(proxy));
        assert!(!a.via_proxy);
        // From the proxy: the right-most entry (what the proxy saw).
        let a = client_addr(Some(proxy), &h, &nets(&["10.0.0.0/8"]));
        assert_eq!(a.ip, Some("203.0.113.9".parse().unwrap()));
        assert!(a.via_proxy);
        // Proxies in a chain are skipped, the client's own claims are not believed.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.7, 10.0.0.9")]);
        let a = client_addr(Some(proxy), &h, &nets(&["10.0.0.0/8"]));
        assert_eq!(a.ip, Some("198.51.100.7".parse().unwrap()));
        // Two headers are one list.
        let h = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("x-forwarded-for", "198.51.100.8"),
        ]);
        let a = client_addr(Some(proxy), &h, &nets(&["10.0.0.5"]));
        assert_eq!(a.ip, Some("198.51.100.8".parse().unwrap()));
        // Garbage stops the walk at the proxy.
        let h = headers(&[("x-forwarded-for", "nonsense")]);
        let a = client_addr(Some(proxy), &h, &nets(&["10.0.0.5"]));
        assert_eq!(a.ip, Some(proxy));
    }

    #[test]
    fn the_forwarded_header_is_read_too() {
        let proxy: IpAddr = "127.0.0.1".parse().unwrap();
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https, for=\"[2001:db8:cafe::17]:4711\"",
        )]);
        let a = client_addr(Some(proxy), &h, &nets(&["127.0.0.1"]));
        assert_eq!(a.ip, Some("2001:db8:cafe::17".parse().unwrap()));
    }

    #[test]
    fn hostile_text_is_refused_and_ordinary_text_is_not() {
        assert_eq!(check_text("Παπαδόπουλος", false), Ok(()));
        assert_eq!(check_text("γραμμή 1\r\nγραμμή 2\t.", true), Ok(()));
        assert_eq!(check_text("a\nb", false), Err(Refused::ControlCharacter));
        assert_eq!(check_text("a\0b", true), Err(Refused::ControlCharacter));
        assert_eq!(check_text("\u{7f}", true), Err(Refused::ControlCharacter));
        assert_eq!(check_text("\u{85}", true), Err(Refused::ControlCharacter));
        assert_eq!(
            check_text("abc\u{202E}gpj.exe", true),
            Err(Refused::BidiOverride)
        );
        assert_eq!(check_bytes(b"\xff\xfe", true), Err(Refused::NotUtf8));
        assert_eq!(
            check_urlencoded(b"q=%00", false),
            Err(Refused::ControlCharacter)
        );
        assert_eq!(
            check_urlencoded(b"next=/%09/evil", false),
            Err(Refused::ControlCharacter)
        );
        assert_eq!(
            check_urlencoded(b"name=%C0%AF", true),
            Err(Refused::NotUtf8)
        );
        assert_eq!(check_urlencoded(b"a=%CE%91+b&c=d&e", false), Ok(()));
        assert_eq!(check_urlencoded(b"t=line%0D%0Aline", true), Ok(()));
    }

    proptest::proptest! {
        /// Whatever a client writes into the forwarding headers, the
        /// address believed is the peer or one a trusted proxy appended:
        /// never one of the client's own entries.
        #[test]
        fn a_client_cannot_choose_its_address(
            claimed in proptest::collection::vec((0u8..=255, 0u8..=255), 0..6),
            client in (1u8..=254, 0u8..=255),
            hops in 0usize..3,
        ) {
            let trusted = nets(&["10.0.0.0/8"]);
            let client_ip = format!("198.51.{}.{}", client.0, client.1);
            let mut chain: Vec<String> = claimed
                .iter()
                .map(|(a, b)| format!("10.{a}.{b}.1"))
                .collect();
            chain.push(client_ip.clone());
            for i in 0..hops {
                chain.push(format!("10.9.9.{i}"));
            }
            let h = headers(&[("x-forwarded-for", &chain.join(", "))]);
            let a = client_addr(Some("10.0.0.5".parse().unwrap()), &h, &trusted);
            // The client's own claims sit left of its real address (even
            // ones that look like proxies): never chosen.
            proptest::prop_assert_eq!(a.ip, Some(client_ip.parse().unwrap()));
            // From an untrusted peer, the headers are not read at all.
            let a = client_addr(Some("203.0.113.7".parse().unwrap()), &h, &trusted);
            proptest::prop_assert_eq!(a.ip, Some("203.0.113.7".parse().unwrap()));
        }

        #[test]
        fn checked_text_is_exactly_text_without_controls_or_overrides(s in ".{0,40}") {
            let ok = check_text(&s, true).is_ok();
            let clean = s.chars().all(|c| {
                matches!(c, '\t' | '\r' | '\n')
                    || !(c.is_control()
                        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
            });
            proptest::prop_assert_eq!(ok, clean);
        }
    }
}
