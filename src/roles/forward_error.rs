//! How `/forward` fails: a short JSON error for the caller, the whole cause
//! chain in both the answer and the log.

use std::error::Error;
use std::io;
use std::time::Instant;

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::failure::{cause_chain, is_out_of_descriptors};
use crate::observe::metrics::Outcome;
use crate::observe::repeats::Repeats;
use crate::roles::upstream::UpstreamError;
use crate::scenario;

/// Why `/forward` could not answer.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ForwardError {
    /// The per-request client could not be built.
    #[error("could not build the upstream client")]
    BuildClient(#[source] reqwest::Error),
    /// Server 1 did not give a usable answer.
    #[error("could not forward to server 1")]
    Upstream(#[source] UpstreamError),
    /// The request had already come through this server's `/forward`.
    #[error(
        "forwarding loop: this request already came through this server's /forward \
         (Via: {via}); UPSTREAM_URL must lead to server 1's /hello, not back to /forward"
    )]
    Loop { via: String },
}

impl ForwardError {
    /// What the failure is, as both its count and its answer say it: the
    /// one place the question is asked, in this order. A loop first, since
    /// it costs nothing; this server out of descriptors before anything
    /// else, since whatever failed then failed for that; a client that
    /// could not be built, since nothing was sent; server 1 too slow; any
    /// other failure of server 1.
    fn classified(&self) -> (Outcome, StatusCode) {
        match self {
            ForwardError::Loop { .. } => (Outcome::loop_detected, StatusCode::LOOP_DETECTED),
            _ if self.out_of_descriptors() => {
                (Outcome::local_resources, StatusCode::SERVICE_UNAVAILABLE)
            }
            ForwardError::BuildClient(_) => (
                Outcome::client_build_failed,
                StatusCode::INTERNAL_SERVER_ERROR,
            ),
            _ if self.is_timeout() => (Outcome::timeout, StatusCode::GATEWAY_TIMEOUT),
            // The Go original answered 500 with plain text; a failing
            // upstream is a bad gateway, and JSON keeps the answer parseable.
            ForwardError::Upstream(_) => (Outcome::upstream_error, StatusCode::BAD_GATEWAY),
        }
    }

    /// How the request counts in `forward_requests_total`.
    pub(crate) fn outcome(&self) -> Outcome {
        self.classified().0
    }

    /// Whether server 1 did not answer within `REQUEST_TIMEOUT`, or sent
    /// no head within `RESPONSE_HEADER_TIMEOUT`.
    fn is_timeout(&self) -> bool {
        match self {
            ForwardError::Upstream(UpstreamError::Request(err)) => err.is_timeout(),
            ForwardError::Upstream(UpstreamError::HeadTimeout(_)) => true,
            _ => false,
        }
    }

    fn out_of_descriptors(&self) -> bool {
        self.caused_by(is_out_of_descriptors)
    }

    /// Whether server 1 refused the connection: nothing listens there.
    fn refused(&self) -> bool {
        self.caused_by(|err| err.kind() == io::ErrorKind::ConnectionRefused)
    }

    /// Whether an I/O error among the causes is `what`.
    fn caused_by(&self, what: impl Fn(&io::Error) -> bool) -> bool {
        let mut source: Option<&(dyn Error + 'static)> = Some(self);
        while let Some(cause) = source {
            if cause.downcast_ref::<io::Error>().is_some_and(&what) {
                return true;
            }
            source = cause.source();
        }
        false
    }

    /// The whole cause chain and, when it is where the leak ends, the way
    /// out: every leaked connection holds a descriptor; when nothing
    /// listens at server 1's address, how to start it.
    fn message(&self) -> String {
        let chain = cause_chain(self);
        if self.out_of_descriptors() {
            format!(
                "{chain}; this server is out of file descriptors, and every leaked upstream \
                 connection holds one: {}",
                scenario::ways_out()
            )
        } else if self.refused() {
            format!(
                "{chain}; is server 1 running where UPSTREAM_URL says? Start it with \
                 `cargo run --release` (it listens on :8080), or point UPSTREAM_URL at it"
            )
        } else {
            chain
        }
    }
}

/// The failures logged lately, by outcome.
static LOGGED: Repeats<Outcome> = Repeats::new(flood_ended);

/// The line that closes a flood of one outcome: how many failed like it
/// after the last line said so.
fn flood_ended(outcome: &Outcome, left_out: u64) {
    tracing::error!(
        route = "/forward",
        ?outcome,
        left_out,
        "failed; no more since"
    );
}

impl IntoResponse for ForwardError {
    /// The answer, and a log line: the first of its kind in a second, with
    /// how many of its kind were left out before it.
    fn into_response(self) -> Response {
        let message = self.message();
        if let Some(left_out) = LOGGED.admit(self.outcome(), Instant::now()) {
            tracing::error!(route = "/forward", error = %message, left_out, "failed");
        }
        (self.classified().1, Json(json!({ "error": message }))).into_response()
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
        assert_eq!(
            err.classified(),
            (Outcome::upstream_error, StatusCode::BAD_GATEWAY)
        );
    }

    #[test]
    fn a_client_that_cannot_be_built_is_its_own_outcome_and_a_500() {
        let build = reqwest::Client::builder()
            .user_agent("no\nnewlines")
            .build()
            .expect_err("a user agent with a newline is refused");
        let err = ForwardError::BuildClient(build);
        assert_eq!(
            err.classified(),
            (
                Outcome::client_build_failed,
                StatusCode::INTERNAL_SERVER_ERROR
            )
        );
    }

    #[test]
    fn a_head_too_late_is_a_timeout_and_a_504() {
        let late = UpstreamError::HeadTimeout(std::time::Duration::from_secs(1));
        assert_eq!(
            ForwardError::Upstream(late).classified(),
            (Outcome::timeout, StatusCode::GATEWAY_TIMEOUT)
        );
    }
}
