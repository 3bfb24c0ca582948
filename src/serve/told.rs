//! The routes a server tells of itself by: `GET /metrics` for a scrape,
//! and `GET /figures`, the same typed, for a page or a program.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use crate::observe::metrics::{CONTENT_TYPE_OPENMETRICS, Metrics};
use crate::observe::tasks::alive_tasks;
use crate::roles::forward::Forwarder;
use crate::serve::figures::{Figures, Since};
use crate::serve::state::AppState;

/// This server's figures now, with its history's samples after `since`.
pub(crate) fn figures_of(state: &AppState, since: Option<u64>) -> Figures {
    Figures {
        instance: state.forwarder.instance().to_owned(),
        knobs: state.live.current().given.clone(),
        fixed: state.given.fixed(),
        switches: state.switch_log.last(),
        tasks: u64::try_from(alive_tasks()).unwrap_or(u64::MAX),
        counters: Some(state.metrics.counters(state.forwarder.held_clients())),
        history: state.history.after(since),
    }
}

/// `GET /metrics`: every metric, for a scrape.
pub(crate) async fn get_metrics(
    State(metrics): State<Arc<Metrics>>,
    State(forwarder): State<Arc<Forwarder>>,
) -> Response {
    match metrics.render(forwarder.held_clients()) {
        Ok(text) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response(),
        Err(err) => {
            tracing::error!(%err, "could not encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// `GET /figures`: this server's figures, as JSON, with its history's
/// samples after `?since=`.
pub(crate) async fn get_figures(State(state): State<AppState>, since: Since) -> Json<Figures> {
    Json(figures_of(&state, since.since))
}
