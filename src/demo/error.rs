//! Why the demo could not finish, as opposed to a scenario that ran and
//! misbehaved, which is a result.

use reqwest::StatusCode;

use crate::harness::HarnessError;
use crate::serve::shutdown::Signal;

/// Why the demo could not finish.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot find this executable")]
    OwnExecutable(#[source] std::io::Error),
    #[error("cannot build the demo's client")]
    Client(#[source] reqwest::Error),
    #[error(transparent)]
    Start(#[from] HarnessError),
    #[error("no answer from {url}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: StatusCode,
        body: String,
    },
    #[error("{url} answered unexpected JSON")]
    Json {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{url} has no counters: server 1 must be this program, not the Go original")]
    Counters { url: String },
    #[error("cannot draw {path}: {reason}")]
    Chart { path: String, reason: String },
    #[error("cannot write the JSON report")]
    Report(#[source] serde_json::Error),
    #[error("interrupted by {0:?}")]
    Interrupted(Signal),
}
