//! How `/forward` fails: a short JSON error for the caller, the whole cause
//! chain in both the answer and the log.

use std::error::Error;
use std::fmt;
use std::io;

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

/// Said with any error caused by running out of file descriptors, which
/// is where the leak ends on every machine given time.
const OUT_OF_DESCRIPTORS_HINT: &str = "this server is out of file descriptors, and every \
leaked upstream connection holds one: DISABLE_KEEP_ALIVES=true, IDLE_CONN_TIMEOUT, \
CLIENT_LIFETIME=request or CLIENT_LIFETIME=process here, or CONNECTION_CLOSE=true or \
SERVER_IDLE_TIMEOUT on server 1, stop the leak";

impl ForwardError {
    /// Whether server 1 did not answer within `REQUEST_TIMEOUT`.
    pub fn is_timeout(&self) -> bool {
        matches!(self, ForwardError::Upstream(UpstreamError::Request(err)) if err.is_timeout())
    }

    fn status(&self) -> StatusCode {
        match self {
            ForwardError::BuildClient(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ if self.is_timeout() => StatusCode::GATEWAY_TIMEOUT,
            _ if self.out_of_descriptors() => StatusCode::SERVICE_UNAVAILABLE,
            // The Go original answered 500 with plain text; a failing
            // upstream is a bad gateway, and JSON keeps the answer parseable.
            ForwardError::Upstream(_) => StatusCode::BAD_GATEWAY,
        }
    }

    fn out_of_descriptors(&self) -> bool {
        let mut source: Option<&(dyn Error + 'static)> = Some(self);
        while let Some(cause) = source {
            if cause
                .downcast_ref::<io::Error>()
                .is_some_and(is_out_of_descriptors)
            {
                return true;
            }
            source = cause.source();
        }
        false
    }

    /// The whole cause chain, and the way out when it is the leak's end.
    fn message(&self) -> String {
        let chain = cause_chain(self);
        if self.out_of_descriptors() {
            format!("{chain}; {OUT_OF_DESCRIPTORS_HINT}")
        } else {
            chain
        }
    }
}

/// Whether `err` is the process (EMFILE) or the system (ENFILE) running
/// out of file descriptors. The numbers are the same on Linux and macOS.
pub fn is_out_of_descriptors(err: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    matches!(err.raw_os_error(), Some(ENFILE | EMFILE))
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
        let message = self.message();
        tracing::error!(route = "/forward", error = %message, "failed");
        (self.status(), Json(json!({ "error": message }))).into_response()
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

    #[test]
    fn running_out_of_descriptors_is_recognised() {
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(24)));
        assert!(is_out_of_descriptors(&io::Error::from_raw_os_error(23)));
        assert!(!is_out_of_descriptors(&io::Error::from_raw_os_error(111)));
        assert!(!is_out_of_descriptors(&io::Error::other("no code")));
    }
}
