//! Which route answers what. Both roles serve every route: which one a copy
//! plays depends only on which route is called, as in the Go original.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{any, get};

use crate::observe::metrics::CONTENT_TYPE_OPENMETRICS;
use crate::roles::forward::forward;
use crate::roles::hello::{HelloOptions, hello};
use crate::serve::dashboard;
use crate::serve::watch::Watched;

/// `/hello` and `/forward`, any method; `GET /metrics`; and for people,
/// the dashboard at `GET /` with the figures it polls.
pub fn app(hello_options: HelloOptions, watched: Watched) -> Router {
    Router::new()
        .route("/hello", any(hello))
        .with_state(hello_options)
        .merge(
            Router::new()
                .route("/forward", any(forward))
                .with_state(watched.forwarder.clone()),
        )
        .merge(
            Router::new()
                .route("/metrics", get(scrape))
                .route("/figures", get(figures))
                .route("/watch", get(watch))
                .with_state(watched),
        )
        .merge(dashboard::routes())
}

/// Answers the scrape.
async fn scrape(State(watched): State<Watched>) -> Response {
    let retained = watched.forwarder.retained_clients();
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
async fn watch(State(watched): State<Watched>) -> Response {
    match watched.watch().await {
        Ok(watch) => Json(watch).into_response(),
        Err(err) => encoding_failed(err),
    }
}

fn encoding_failed(err: std::fmt::Error) -> Response {
    tracing::error!(%err, "could not encode the metrics");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}
