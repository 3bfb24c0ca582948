//! The dashboard at `GET /`: one page, its script and its style, all built
//! into the binary, loading nothing from any other host. The page polls
//! `/watch` (see [`crate::serve::watch`]) and draws the history each server
//! keeps of itself.

use axum::Router;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, X_FRAME_OPTIONS};
use axum::response::IntoResponse;
use axum::routing::get;

/// The page, its script and the look it shares with the demo's chart.
const PAGE: &str = include_str!("page/index.html");
const SCRIPT: &str = include_str!("page/page.js");
pub(crate) const LOOK: &str = include_str!("page/look.css");

/// `/`, `/page.js` and `/look.css`, for any state.
pub(crate) fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { served("text/html; charset=utf-8", PAGE) }),
        )
        .route(
            "/page.js",
            get(|| async { served("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/look.css",
            get(|| async { served("text/css; charset=utf-8", LOOK) }),
        )
}

fn served(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            // Always the running binary's own page, never a cached older one.
            (CACHE_CONTROL, "no-cache"),
            // Never inside another site's frame, where a hidden page could
            // catch a click meant for something else and make a switch.
            (CONTENT_SECURITY_POLICY, "frame-ancestors 'none'"),
            (X_FRAME_OPTIONS, "DENY"),
        ],
        body,
    )
}
