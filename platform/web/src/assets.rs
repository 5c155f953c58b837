//! Static assets, embedded in the binary so the first command works on a
//! fresh machine with no npm step. `@digigov/css` (gov.gr design system,
//! BSD-2-Clause) is vendored by `infra/assets/update-digigov.sh`; Roboto,
//! the gov.gr typeface, from `@fontsource/roboto` (OFL-1.1). Leaflet
//! (BSD-2-Clause, `infra/assets/update-leaflet.sh`) and `dimos-map.js` are
//! served only to pages that show a map.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
    /// Linked from every page (else only from the pages that ask).
    global: bool,
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "digigov.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/digigov.css"),
        global: true,
    },
    Asset {
        name: "dimos.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/dimos.css"),
        global: true,
    },
    Asset {
        name: "roboto-greek-400-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-greek-400-normal.woff2"),
        global: true,
    },
    Asset {
        name: "roboto-latin-400-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-latin-400-normal.woff2"),
        global: true,
    },
    Asset {
        name: "roboto-greek-700-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-greek-700-normal.woff2"),
        global: true,
    },
    Asset {
        name: "roboto-latin-700-normal.woff2",
        content_type: "font/woff2",
        bytes: include_bytes!("../assets/fonts/roboto-latin-700-normal.woff2"),
        global: true,
    },
    Asset {
        name: "dimos.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/dimos.js"),
        global: true,
    },
    Asset {
        name: "leaflet.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/leaflet/leaflet.js"),
        global: false,
    },
    Asset {
        name: "leaflet.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("../assets/leaflet/leaflet.css"),
        global: false,
    },
    Asset {
        name: "dimos-map.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("../assets/dimos-map.js"),
        global: false,
    },
];

fn fingerprints() -> &'static Vec<(&'static str, String, bool)> {
    // Computed once from constant data; a cache, not configuration.
    static F: OnceLock<Vec<(&'static str, String, bool)>> = OnceLock::new();
    F.get_or_init(|| {
        ASSETS
            .iter()
            .map(|a| (a.name, hex::encode(&Sha256::digest(a.bytes)[..6]), a.global))
            .collect()
    })
}

fn urls(ext: &str) -> Vec<String> {
    fingerprints()
        .iter()
        .filter(|(n, _, global)| *global && n.ends_with(ext))
        .map(|(n, h, _)| format!("/static/{n}?v={h}"))
        .collect()
}

/// The fingerprinted URL of one asset (those only some pages link).
pub fn url(name: &str) -> Option<String> {
    fingerprints()
        .iter()
        .find(|(n, _, _)| *n == name)
        .map(|(n, h, _)| format!("/static/{n}?v={h}"))
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
