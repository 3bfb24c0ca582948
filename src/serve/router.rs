//! Which route answers what. Both roles serve every route: which one a copy
//! plays depends only on which route is called, as in the Go original.

use std::sync::Arc;

use axum::extract::{Extension, State};
use axum::http::header::{CONNECTION, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get, put};
use axum::{Router, middleware};

use crate::observe::metrics::CONTENT_TYPE_OPENMETRICS;
use crate::roles::forward::forward;
use crate::roles::hello::{HelloState, hello};
use crate::serve::dashboard;
use crate::serve::switch_guard::Peer;
use crate::serve::switches;
use crate::serve::watch::Watched;
use crate::settings::live::Live;

/// `/hello` and `/forward`, any method; `GET /metrics`; the settings,
/// `GET` and `PUT /settings` and `PUT /upstream/settings`; and for people,
/// the dashboard at `GET /` with the figures it polls. Every answer says
/// `Connection: close` while `SERVER_KEEP_ALIVES` is false.
pub fn app(watched: Watched) -> Router {
    let board = watched.board.clone();
    Router::new()
        .route("/hello", any(hello))
        .with_state(HelloState {
            live: board.live.clone(),
            answers: watched.metrics.hello_answers.clone(),
        })
        .merge(
            Router::new()
                .route("/forward", any(forward))
                .with_state(board.forwarder.clone()),
        )
        .merge(
            Router::new()
                .route("/settings", get(switches::settings).put(switches::switch))
                .route("/upstream/settings", put(switches::switch_upstream))
                .with_state(board.clone()),
        )
        .merge(
            Router::new()
                .route("/metrics", get(scrape))
                .route("/figures", get(figures))
                .route("/watch", get(watch))
                .with_state(watched),
        )
        .merge(dashboard::routes())
        .layer(middleware::map_response_with_state(
            board.live.clone(),
            keep_alive_or_close,
        ))
}

/// Go's `SetKeepAlivesEnabled(false)` for the answers after it: each says
/// `Connection: close`, and hyper closes its connection once it is sent.
async fn keep_alive_or_close(State(live): State<Arc<Live>>, mut response: Response) -> Response {
    if !live.knobs().server_keep_alives {
        response
            .headers_mut()
            .insert(CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Answers the scrape.
async fn scrape(State(watched): State<Watched>) -> Response {
    let retained = watched.board.forwarder.retained_clients();
    match watched.metrics.render(retained) {
        Ok(text) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response(),
        Err(err) => encoding_failed(err),
    }
}

/// This server's figures, as JSON.
async fn figures(State(watched): State<Watched>) -> Response {
    match watched.figures() {
        Ok(figures) => Json(figures).into_response(),
        Err(err) => encoding_failed(err),
    }
}

/// This server's figures, server 1's, and what the settings amount to.
async fn watch(State(watched): State<Watched>, Extension(peer): Extension<Peer>) -> Response {
    match watched.watch(peer.local).await {
        Ok(watch) => Json(watch).into_response(),
        Err(err) => encoding_failed(err),
    }
}

fn encoding_failed(err: std::fmt::Error) -> Response {
    tracing::error!(%err, "could not encode the metrics");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}
