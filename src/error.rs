//! How `/forward` fails: a short JSON error for the caller, the whole cause
//! chain in both the answer and the log.

use std::error::Error;
use std::fmt;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::upstream::UpstreamError;

/// Why `/forward` could not answer.
#[derive(Debug)]
pub enum ForwardError {
    /// The per-request client could not be built.
    BuildClient(reqwest::Error),
    /// Server 1 did not give a usable answer.
    Upstream(UpstreamError),
}

impl fmt::Display for ForwardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ForwardError::BuildClient(_) => write!(f, "could not build the upstream client"),
            ForwardError::Upstream(_) => write!(f, "could not forward to server 1"),
        }
    }
}

impl Error for ForwardError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            ForwardError::BuildClient(err) => Some(err),
            ForwardError::Upstream(err) => Some(err),
        }
    }
}

impl ForwardError {
    fn status(&self) -> StatusCode {
        match self {
            ForwardError::BuildClient(_) => StatusCode::INTERNAL_SERVER_ERROR,
            // The Go original answered 500 with plain text; a failing
            // upstream is a bad gateway, and JSON keeps the answer parseable.
            ForwardError::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }
}

/// `err` and each of its sources, joined by ": ".
pub fn cause_chain(err: &dyn Error) -> String {
    let mut chain = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        chain.push_str(": ");
        chain.push_str(&cause.to_string());
        source = cause.source();
    }
    chain
}

impl IntoResponse for ForwardError {
    fn into_response(self) -> Response {
        let chain = cause_chain(&self);
        tracing::error!(route = "/forward", error = %chain, "failed");
        (self.status(), Json(json!({ "error": chain }))).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chain_lists_every_cause_in_order() {
        let decode = serde_json::from_str::<u8>("x").unwrap_err();
        let err = ForwardError::Upstream(UpstreamError::Decode(decode));
        assert_eq!(
            cause_chain(&err),
            "could not forward to server 1: upstream answer is not the expected JSON: \
             expected value at line 1 column 1"
        );
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
    }
}
