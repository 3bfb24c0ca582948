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

/// A chart's opening, in the dashboard's look: the SVG element of
/// `width` by `height`, the look, the page's background and `title`. The
/// demo's chart and `inspect --chart` begin with it.
pub(crate) fn chart_start(width: f64, height: f64, title: &str) -> String {
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}">
<style>{LOOK}</style>
<rect width="{width}" height="{height}" fill="#f3f5f8"/>
<text x="14" y="30" class="panel-title" style="font-size:20px">{title}</text>
"##
    )
}

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
