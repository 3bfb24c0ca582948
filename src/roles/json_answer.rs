//! Answers with a JSON body and logs it, as both Go handlers do.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The most of a body a log line shows: `/forward` nests whatever server 1
/// answered, which may be up to 1 MiB.
const LOGGED_BYTES: usize = 1024;

/// Serializes `body` once, logs it (its first KB, and its size when it is
/// longer) and answers `200` with it.
pub(crate) fn json_answer(route: &'static str, body: &impl Serialize) -> Response {
    match serde_json::to_string(body) {
        Ok(text) if text.len() > LOGGED_BYTES => {
            let mut end = LOGGED_BYTES;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let shown = &text[..end];
            tracing::info!(route, body = %shown, bytes = text.len(), "answered (body cut)");
            ([(CONTENT_TYPE, "application/json")], text).into_response()
        }
        Ok(text) => {
            tracing::info!(route, body = %text, "answered");
            ([(CONTENT_TYPE, "application/json")], text).into_response()
        }
        Err(err) => {
            tracing::error!(route, %err, "could not serialize the answer");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
