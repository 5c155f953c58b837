//! Pages every tenant host has (home, language switch, branding) and the
//! portal on the base domain.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use dimos_kernel::{Error, Locale};
use dimos_web::error::Result;
use dimos_web::extract::CurrentTenant;
use dimos_web::middleware::LANG_COOKIE;
use dimos_web::state::AppState;
use dimos_web::ui::Ui;
use minijinja::context;
use serde::Deserialize;

pub async fn home(ui: Ui, _tenant: CurrentTenant) -> Result<Html<String>> {
    ui.render("home.html", context! {})
}

pub async fn portal(ui: Ui, State(state): State<AppState>) -> Result<Html<String>> {
    let municipalities: Vec<_> = state
        .registry()
        .tenants()
        .iter()
        .filter(|t| t.is_active())
        .map(|t| {
            let host = t.canonical_host(state.registry().base_domain());
            context! { name => t.name(ui.lang), url => state.config().public_origin(&host) }
        })
        .collect();
    ui.render("portal.html", context! { municipalities })
}

#[derive(Deserialize)]
pub struct Next {
    next: Option<String>,
}

/// Only a path on this host: the target is resolved as a browser would
/// (which drops tabs and newlines and reads a backslash as `/`) against a
/// placeholder origin, and kept only if it stays there. What comes back is
/// the normalised, percent-encoded path and query, always a valid
/// `Location`.
pub fn safe_next(next: Option<String>) -> String {
    const HERE: &str = "https://same-host.invalid/";
    let Some(n) = next else { return "/".into() };
    if !n.starts_with('/') || n.chars().any(|c| c.is_control() || c == '\\') {
        return "/".into();
    }
    let Ok(base) = url::Url::parse(HERE) else {
        return "/".into();
    };
    match base.join(&n) {
        Ok(u)
            if u.origin() == base.origin() && u.username().is_empty() && u.password().is_none() =>
        {
            let mut out = u.path().to_owned();
            if let Some(q) = u.query() {
                out.push('?');
                out.push_str(q);
            }
            // Scheme-relative after normalisation (`/./\/evil`): refused.
            if out.starts_with("//") {
                "/".into()
            } else {
                out
            }
        }
        _ => "/".into(),
    }
}

/// Sets the language cookie and goes back: a plain link, no JavaScript.
pub async fn switch_lang(
    State(state): State<AppState>,
    Path(code): Path<String>,
    Query(q): Query<Next>,
) -> Result<Response> {
    let lang = Locale::parse(&code).ok_or(Error::NotFound)?;
    let secure = if state.config().behind_tls() {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly{secure}",
        lang.code()
    );
    let mut res = Redirect::to(&safe_next(q.next)).into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_str(&cookie).map_err(Error::internal)?,
    );
    Ok(res)
}

/// The tenant's colours as theme variables of @digigov/css, so pages need no
/// inline styles and the CSP can forbid them.
pub async fn branding_css(t: CurrentTenant) -> Response {
    let c = &t.tenant.spec.primary_colour;
    let hex = c.as_str();
    let rgb = (1..7)
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&hex[i..i + 2], 16)
                .unwrap_or(0)
                .to_string()
        })
        .collect::<Vec<_>>()
        .join(",");
    let css = format!(
        ":root,:before,:after{{--color-primary:{hex};--color-primary-rgb:{rgb};--color-link:{hex};--color-link-rgb:{rgb}}}\n"
    );
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        css,
    )
        .into_response()
}

pub async fn logo(State(state): State<AppState>, t: CurrentTenant) -> Result<Response> {
    let logo = state
        .registry()
        .store()
        .logo(t.tenant.id)
        .await?
        .ok_or(Error::NotFound)?;
    let ct = HeaderValue::from_str(&logo.content_type).map_err(Error::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, ct),
            (
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            ),
            // An SVG opened directly must not run anything on the tenant's origin.
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
            ),
        ],
        logo.bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn redirects_stay_on_site() {
        assert_eq!(safe_next(Some("/a?b=1".into())), "/a?b=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "evil",
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r//evil.example",
            "/.//evil.example",
            "/x/..//evil.example",
            "/\0",
            "/\u{1}x",
            "/\u{7f}",
            " /evil",
        ] {
            assert_eq!(safe_next(Some(bad.into())), "/", "{bad:?}");
        }
        assert_eq!(safe_next(None), "/");
        // Kept, normalised and percent-encoded: always a valid Location.
        assert_eq!(
            safe_next(Some("/parking/ά ω".into())),
            "/parking/%CE%AC%20%CF%89"
        );
        assert_eq!(safe_next(Some("/a/../b?x=1".into())), "/b?x=1");
        assert_eq!(
            safe_next(Some("/%09/evil.example".into())),
            "/%09/evil.example"
        );
    }

    #[test]
    fn whatever_comes_in_the_target_is_a_path_on_this_host() {
        let base = url::Url::parse("https://here.example/").unwrap();
        let mut rng = 0x9e3779b97f4a7c15u64;
        let alphabet: Vec<char> = "/\\.?#%@:ab\t\n\r \u{0}\u{7f}ά".chars().collect();
        for _ in 0..20_000 {
            let len = (rng % 12) as usize;
            let s: String = (0..len)
                .map(|_| {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    alphabet[usize::try_from(rng % alphabet.len() as u64).unwrap_or(0)]
                })
                .collect();
            let out = safe_next(Some(s.clone()));
            assert!(
                out.starts_with('/') && !out.starts_with("//"),
                "{s:?} -> {out:?}"
            );
            assert!(
                axum::http::HeaderValue::from_str(&out).is_ok(),
                "{s:?} -> {out:?}"
            );
            let resolved = base.join(&out).unwrap();
            assert_eq!(
                resolved.host_str(),
                Some("here.example"),
                "{s:?} -> {out:?}"
            );
        }
    }
}
