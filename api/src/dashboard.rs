//! The dashboard: one page and its assets, embedded in the binary (no CDN, no build step).
//! Open routes, not in the OpenAPI document: the page asks for the key and sends it on
//! its own `/v1` calls. The page is never cached (a deploy shows at once); it names its
//! assets with a hash of their contents, so those are cached for good.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::AppState;

/// (name, Content-Type, bytes)
const ASSETS: &[(&str, &str, &[u8])] = &[
    (
        "app.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/app.js"),
    ),
    (
        "app.css",
        "text/css; charset=utf-8",
        include_bytes!("../assets/app.css"),
    ),
    (
        "lightweight-charts.standalone.production.js",
        "text/javascript; charset=utf-8",
        include_bytes!("../assets/lightweight-charts.standalone.production.js"),
    ),
    (
        "lightweight-charts.LICENSE.txt",
        "text/plain; charset=utf-8",
        include_bytes!("../assets/lightweight-charts.LICENSE.txt"),
    ),
];

const INDEX: &str = include_str!("../assets/index.html");

/// Scripts, styles and calls from this origin only; the page cannot be framed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// `GET /` and `GET /assets/{name}`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(index))
        .route("/assets/{name}", get(asset))
}

/// FNV-1a over every asset: changes when any of them does.
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for (_, _, bytes) in ASSETS {
            for b in *bytes {
                h = (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        format!("{h:016x}")
    })
}

fn page() -> &'static str {
    static PAGE: OnceLock<String> = OnceLock::new();
    PAGE.get_or_init(|| INDEX.replace("{{version}}", version()))
}

fn respond(content_type: &'static str, cache: &'static str, body: &'static [u8]) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

async fn index() -> Response {
    let mut response = respond("text/html; charset=utf-8", "no-cache", page().as_bytes());
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}

async fn asset(Path(name): Path<String>) -> Result<Response, ApiError> {
    let (_, content_type, bytes) = ASSETS
        .iter()
        .find(|(n, _, _)| *n == name)
        .ok_or_else(|| ApiError::NotFound(format!("no asset {name:?}")))?;
    // Linked as `?v=<hash of the contents>`: a new build is a new URL.
    Ok(respond(
        content_type,
        "public, max-age=31536000, immutable",
        bytes,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_links_every_script_and_style_with_the_version() {
        let page = page();
        assert!(!page.contains("{{"), "a placeholder is left");
        for name in [
            "app.js",
            "app.css",
            "lightweight-charts.standalone.production.js",
        ] {
            assert!(
                page.contains(&format!("assets/{name}?v={}", version())),
                "{name} is not linked"
            );
            assert!(ASSETS.iter().any(|(n, _, _)| *n == name));
        }
    }
}
