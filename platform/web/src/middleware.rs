//! Request context (host → tenant, language), cross-site request refusal,
//! security headers, metrics, and rendering of every error response.

use crate::error::ErrorInfo;
use crate::extract::Lang;
use crate::metrics::HttpLabels;
use crate::state::AppState;
use crate::ui::Ui;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use dimos_kernel::{Error, Locale};
use dimos_tenancy::HostMatch;
use minijinja::context;
use std::time::Instant;

pub const LANG_COOKIE: &str = "dimos_lang";

/// Paths that answer on any host, even unknown or suspended ones.
fn is_infrastructure(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics" | "/tls/ask") || path.starts_with("/static/")
}

fn wants_json(headers: &HeaderMap, path: &str) -> bool {
    if path.starts_with("/api/") {
        return true;
    }
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    accept.contains("json") && !accept.contains("text/html")
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|kv| {
            kv.trim()
                .strip_prefix(name)
                .and_then(|r| r.strip_prefix('='))
        })
}

/// Greek unless the person chose English (cookie). API clients may ask with
/// `Accept-Language`.
fn choose_lang(headers: &HeaderMap, json: bool) -> Locale {
    if let Some(l) = cookie(headers, LANG_COOKIE).and_then(Locale::parse) {
        return l;
    }
    if json
        && let Some(l) = headers
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Locale::from_accept_language)
    {
        return l;
    }
    Locale::El
}

pub fn host_of(req: &Request) -> String {
    host_from(req.headers(), req.uri())
}

/// The host a request is for: the Host header, or the request target's
/// authority (HTTP/2 sends `:authority` instead).
pub fn host_from(headers: &HeaderMap, uri: &axum::http::Uri) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned)
        .or_else(|| uri.authority().map(std::string::ToString::to_string))
        .unwrap_or_default()
}

/// A state-changing request that a browser marks as coming from another
/// site is refused: forms here are only ever posted from their own origin.
/// (Session-bound CSRF tokens arrive with sign-in.)
fn is_cross_site(req: &Request) -> bool {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let h = req.headers();
    if h.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return true;
    }
    match h.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        Some("null") => true,
        Some(origin) => {
            let origin_host = origin.split("://").nth(1).unwrap_or(origin);
            !origin_host.eq_ignore_ascii_case(&host_of(req))
        }
        None => false,
    }
}

/// `/parking/` is the page at `/parking`: people type, paste and follow
/// both, so the one redirects (308 keeps the method) to the other. Paths
/// beginning `//` are left alone, so the redirect can never point off-site.
fn without_trailing_slash(uri: &axum::http::Uri) -> Option<HeaderValue> {
    let path = uri.path();
    // A backslash is a slash to browsers: `/\evil/` would go off-site.
    if path.len() < 2 || !path.ends_with('/') || path.starts_with("//") || path.contains('\\') {
        return None;
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() || trimmed.starts_with("//") {
        return None;
    }
    let to = match uri.query() {
        Some(q) => format!("{trimmed}?{q}"),
        None => trimmed.to_owned(),
    };
    HeaderValue::from_str(&to).ok()
}

pub async fn context(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let json = wants_json(req.headers(), &path);
    let lang = choose_lang(req.headers(), json);
    let matched = state.registry().resolve(&host_of(&req));
    if let HostMatch::Tenant(t) = &matched {
        tracing::Span::current().record("tenant", t.slug());
    }
    let request_id = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    req.extensions_mut().insert(matched.clone());
    req.extensions_mut().insert(Lang(lang));
    let seen = crate::ui::SeenUser::default();
    req.extensions_mut().insert(seen.clone());

    let early = if req.headers().get_all(header::HOST).iter().count() > 1 {
        // Which one would a proxy have routed by? Refuse rather than guess.
        Some(Error::BadRequest(
            "the request has more than one Host header".into(),
        ))
    } else if is_infrastructure(&path) {
        None
    } else if is_cross_site(&req) {
        Some(Error::Forbidden)
    } else {
        match &matched {
            HostMatch::Unknown => Some(Error::UnknownTenant),
            HostMatch::Tenant(t) if !t.is_active() => Some(Error::TenantSuspended),
            _ => None,
        }
    };
    if early.is_none()
        && let Some(to) = without_trailing_slash(req.uri())
    {
        return (StatusCode::PERMANENT_REDIRECT, [(header::LOCATION, to)]).into_response();
    }
    let res = match early {
        Some(e) => crate::error::AppError(e).into_response(),
        None => next.run(req).await,
    };
    if res.status().as_u16() < 400 || res.extensions().get::<crate::error::Rendered>().is_some() {
        return res;
    }
    let info = match res.extensions().get::<ErrorInfo>() {
        Some(i) => i.clone(),
        None => ErrorInfo::from(&Error::from_status(res.status().as_u16())),
    };
    // Kept from the handler's answer: the router's 405 names the methods
    // there are (RFC 9110 requires it); an API's answers say the client's
    // rate and how to authenticate (RFC 6750).
    let kept: Vec<_> = [
        header::ALLOW.as_str(),
        header::WWW_AUTHENTICATE.as_str(),
        "ratelimit",
        "ratelimit-policy",
    ]
    .iter()
    .filter_map(|name| Some((*name, res.headers().get(*name)?.clone())))
    .collect();
    let ui = Ui {
        state: state.clone(),
        lang,
        tenant: match &matched {
            HostMatch::Tenant(t) => Some(t.clone()),
            _ => None,
        },
        operator: matches!(matched, HostMatch::Operator),
        path,
        user: seen.take(),
    };
    let mut out = render_error(&ui, &info, &request_id, json, res.status());
    for (name, value) in kept {
        out.headers_mut().insert(name, value);
    }
    out
}

fn field_messages(ui: &Ui, info: &ErrorInfo) -> Vec<serde_json::Value> {
    info.fields
        .iter()
        .map(|f| {
            let message = ui.state.translator().field_message(ui.lang, f);
            serde_json::json!({ "field": f.field, "code": f.code, "message": message, "label": f.field })
        })
        .collect()
}

fn render_error(
    ui: &Ui,
    info: &ErrorInfo,
    request_id: &str,
    json: bool,
    status: StatusCode,
) -> Response {
    let title = ui.t(&info.title_key);
    let fields = field_messages(ui, info);
    let mut res = if json {
        let body = serde_json::json!({
            "type": format!("/problems/{}", info.code),
            "title": title,
            "status": status.as_u16(),
            "code": info.code,
            "detail": info.detail,
            "errors": fields,
            "request_id": request_id,
        });
        let mut r = (status, axum::Json(body)).into_response();
        r.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        r
    } else {
        let help = ui.t(&format!("{}-help", info.title_key));
        // Conflict reasons are stable codes; people read their translation.
        let detail = info.detail.as_ref().map(|d| {
            let key = format!("{}-{d}", info.title_key);
            if ui.state.translator().has(&key) {
                ui.t(&key)
            } else {
                d.clone()
            }
        });
        let ctx = context! {
            title => title,
            help => help,
            code => info.code,
            detail => detail,
            fields => fields,
            request_id => request_id,
        };
        match ui.render("error.html", ctx) {
            Ok(Html(body)) => (status, Html(body)).into_response(),
            // The error page itself failed: plain text, still no internals.
            Err(_) => (status, title).into_response(),
        }
    };
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));

    if let Some(secs) = info.retry_after
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    res
}

/// Inside a host's session layer: when a request ends in an error that no
/// page rendered (a body over the limit, a rejected form), the person is
/// still known, so the error page keeps the signed-in header.
pub async fn header_for_errors(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let (parts, body) = req.into_parts();
    let (mut copy, ()) = Request::new(()).into_parts();
    copy.method = parts.method.clone();
    copy.uri = parts.uri.clone();
    copy.headers = parts.headers.clone();
    copy.extensions = parts.extensions.clone();
    let res = next.run(Request::from_parts(parts, body)).await;
    let unrendered =
        res.status().as_u16() >= 400 && res.extensions().get::<crate::error::Rendered>().is_none();
    if unrendered
        && let Some(seen) = copy.extensions.get::<crate::ui::SeenUser>().cloned()
        && !seen.is_set()
    {
        // Loading the header user records it in `seen` for the error page.
        let _ = <Ui as axum::extract::FromRequestParts<AppState>>::from_request_parts(
            &mut copy, &state,
        )
        .await;
    }
    res
}

pub async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    let set = |h: &mut HeaderMap, name: &'static str, value: &'static str| {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    };
    if !h.contains_key("content-security-policy") {
        h.insert("content-security-policy", state.csp().clone());
    }
    set(h, "x-content-type-options", "nosniff");
    set(h, "x-frame-options", "DENY");
    set(h, "referrer-policy", "strict-origin-when-cross-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    set(h, "cross-origin-opener-policy", "same-origin");
    if state.config().behind_tls() {
        set(
            h,
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        );
    }
    res
}

pub async fn metrics(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().as_str().to_owned();
    let host = match state.registry().resolve(&host_of(&req)) {
        HostMatch::Tenant(_) => "tenant",
        HostMatch::Operator => "operator",
        HostMatch::Portal => "portal",
        HostMatch::Unknown => "other",
    };
    let res = next.run(req).await;
    let route = res
        .extensions()
        .get::<RouteTag>()
        .map_or_else(|| "unmatched".to_owned(), |r| r.0.to_string());
    let labels = HttpLabels {
        method: method.clone(),
        status: res.status().as_u16().to_string(),
        host: host.to_owned(),
    };
    state.metrics().requests.get_or_create(&labels).inc();
    state
        .metrics()
        .duration
        .get_or_create(&crate::metrics::RouteLabels { method, route })
        .observe(start.elapsed().as_secs_f64());
    res
}

/// The route a response answered, for the latency histogram.
#[derive(Debug, Clone)]
pub struct RouteTag(pub std::sync::Arc<str>);

/// Notes the matched route on the response (a route layer: only there is
/// the route known), so the metrics around the router can label by it.
pub async fn tag_route(path: axum::extract::MatchedPath, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    res.extensions_mut().insert(RouteTag(path.as_str().into()));
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_and_languages() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; dimos_lang=en; b=2"),
        );
        assert_eq!(choose_lang(&h, false), Locale::En);
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("en-GB"));
        assert_eq!(
            choose_lang(&h, false),
            Locale::El,
            "pages are Greek unless chosen otherwise"
        );
        assert_eq!(choose_lang(&h, true), Locale::En);
    }

    #[test]
    fn cross_site_posts_are_detected() {
        let req = |method: Method, headers: &[(&'static str, &'static str)]| {
            let mut r = Request::builder()
                .method(method)
                .uri("/")
                .header("host", "admin.localhost:8080");
            for (k, v) in headers {
                r = r.header(*k, *v);
            }
            r.body(axum::body::Body::empty()).unwrap()
        };
        assert!(!is_cross_site(&req(Method::POST, &[])));
        assert!(!is_cross_site(&req(
            Method::POST,
            &[("origin", "http://admin.localhost:8080")]
        )));
        assert!(is_cross_site(&req(
            Method::POST,
            &[("origin", "http://evil.example")]
        )));
        assert!(is_cross_site(&req(
            Method::POST,
            &[("sec-fetch-site", "cross-site")]
        )));
        assert!(!is_cross_site(&req(
            Method::GET,
            &[("sec-fetch-site", "cross-site")]
        )));
    }
}
