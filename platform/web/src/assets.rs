//! Static assets, embedded in the binary so the first command works on a
//! fresh machine with no npm step. `@digigov/css` (gov.gr design system,
//! BSD-2-Clause) is vendored by `infra/assets/update-digigov.sh`; Roboto,
//! the gov.gr typeface, from `@fontsource/roboto` (OFL-1.1).

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "digigov.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/digigov.css"),
    },
    Asset {
        name: "dimos.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/dimos.css"),
    },
    Asset {
        name: "roboto-greek-400-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-greek-400-normal.woff2"),
    },
    Asset {
        name: "roboto-latin-400-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-latin-400-normal.woff2"),
    },
    Asset {
        name: "roboto-greek-700-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-greek-700-normal.woff2"),
    },
    Asset {
        name: "roboto-latin-700-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-latin-700-normal.woff2"),
    },
    Asset {
        name: "dimos.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/dimos.js"),
    },
];

fn fingerprints() -> &'static Vec<(&'static str, String)> {
    // Computed once from constant data; a cache, not configuration.
    static F: OnceLock<Vec<(&'static str, String)>> = OnceLock::new();
    F.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| (a.name, hex::encode(&Sha256::digest(a.bytes)[..6])))
            .collect()
    })
}

fn urls(ext: &str) -> Vec<String> {
    fingerprints()
        .iter()
        .filter(|(n, _)| n.ends_with(ext))
        .map(|(n, h)| format!("/static/{n}?v={h}"))
        .collect()
}

/// Fingerprinted URLs, so browsers may cache assets forever.
pub fn css_urls() -> Vec<String> {
    urls(".css")
}

/// Scripts: progressive enhancement only, nothing depends on them.
pub fn js_urls() -> Vec<String> {
    urls(".js")
}

pub async fn serve(Path(name): Path<String>) -> Response {
    match ASSETS.iter().find(|a| a.name == name) {
        Some(a) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static(a.content_type),
                ),
                (
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("public, max-age=31536000, immutable"),
                ),
            ],
            a.bytes,
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
