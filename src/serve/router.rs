//! Which route answers what. Both roles serve every route: which one a copy
//! plays depends only on which route is called, as in the Go original.

use axum::Router;
use axum::extract::{Extension, Query, State};
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get, put};

use crate::observe::metrics::CONTENT_TYPE_OPENMETRICS;
use crate::roles::forward::answer_forward;
use crate::roles::hello::{HelloState, hello};
use crate::serve::dashboard;
use crate::serve::figures::Since;
use crate::serve::switch_guard::{self, Peer};
use crate::serve::switches;
use crate::serve::watch::Watched;

/// `/hello` and `/forward`, any method; `GET /metrics`; the settings,
/// `GET` and `PUT /settings` and `PUT /upstream/settings`; and for people,
/// the dashboard at `GET /` with the figures it polls.
///
/// The demo's own routes, and `/metrics`, answer any Host, as the Go
/// original does; the settings, the figures and the dashboard only one
/// that names this server (`switch_guard::named_host`).
pub fn app(watched: Watched) -> Router {
    let board = watched.board.clone();
    let named_host = from_fn_with_state(board.extra_hosts.clone(), switch_guard::named_host);
    let for_this_server_only = Router::new()
        .route(
            "/settings",
            get(switches::get_settings).put(switches::put_settings),
        )
        .route("/upstream/settings", put(switches::put_upstream_settings))
        .with_state(board.clone())
        .merge(
            Router::new()
                .route("/figures", get(figures))
                .route("/watch", get(watch))
                .with_state(watched.clone()),
        )
        .merge(dashboard::routes())
        .route_layer(named_host);
    Router::new()
        .route("/hello", any(hello))
        .with_state(HelloState {
            live: board.live.clone(),
            answers: watched.metrics.hello_answers.clone(),
        })
        .merge(
            Router::new()
                .route("/forward", any(answer_forward))
                .with_state(board.forwarder.clone()),
        )
        .merge(
            Router::new()
                .route("/metrics", get(scrape))
                .with_state(watched),
        )
        .merge(for_this_server_only)
}

/// Answers the scrape.
async fn scrape(State(watched): State<Watched>) -> Response {
    let retained = watched.board.forwarder.retained_clients();
    match watched.metrics.render(retained) {
        Ok(text) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response(),
        Err(err) => encoding_failed(err),
    }
}

/// This server's figures, as JSON, with its history's samples after
/// `?since=`.
async fn figures(State(watched): State<Watched>, Query(since): Query<Since>) -> Response {
    match watched.figures(since.since) {
        Ok(figures) => Json(figures).into_response(),
        Err(err) => encoding_failed(err),
    }
}

/// This server's figures, server 1's, and what the settings amount to.
async fn watch(
    State(watched): State<Watched>,
    Extension(peer): Extension<Peer>,
    Query(since): Query<Since>,
) -> Response {
    match watched.watch(peer.local, since).await {
        Ok(watch) => Json(watch).into_response(),
        Err(err) => encoding_failed(err),
    }
}

fn encoding_failed(err: std::fmt::Error) -> Response {
    tracing::error!(%err, "could not encode the metrics");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}
