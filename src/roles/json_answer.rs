//! Answers with a JSON body and logs it, as both Go handlers do.

use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Serializes `body` once, logs it and answers `200` with it.
pub fn json_answer(route: &'static str, body: &impl Serialize) -> Response {
    match serde_json::to_string(body) {
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
