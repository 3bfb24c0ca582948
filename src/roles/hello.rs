//! Server 1's role: `/hello`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderValue;
use axum::http::header::CONNECTION;
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::observe::metrics::Metrics;
use crate::observe::tasks::alive_tasks;
use crate::roles::json_answer::json_answer;
use crate::settings::live::Live;

/// `/hello`'s body, `{"msg":"Hello World","goRoutines":N}`, in that order.
/// The field keeps its Go name so that a Go and a Rust server can stand in
/// for each other on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Hello {
    pub(crate) msg: String,
    #[serde(rename = "goRoutines")]
    pub(crate) go_routines: usize,
}

/// Answers any method with the live task count, and with `Connection:
/// close` while the connection-close fix is in effect: hyper then closes
/// the connection after this answer, and the client, reading the header,
/// does not pool it; in Go and in Rust alike the leaked connection never
/// forms. The knob is read for each answer, so a switch applies to the
/// answers after it.
pub(crate) async fn hello(
    State(live): State<Arc<Live>>,
    State(metrics): State<Arc<Metrics>>,
) -> Response {
    // Every answer counts: how a server knows it plays server 1.
    metrics.hello_answers.inc();
    let body = Hello {
        msg: "Hello World".to_owned(),
        go_routines: alive_tasks(),
    };
    let mut response = json_answer("/hello", &body);
    if live.knobs().connection_close {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
