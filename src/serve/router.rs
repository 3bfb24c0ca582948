//! Which route answers what. Both roles serve every route: which one a copy
//! plays depends only on which route is called, as in the Go original.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};

use crate::observe::metrics::{CONTENT_TYPE_OPENMETRICS, Metrics};
use crate::roles::forward::{Forwarder, forward};
use crate::roles::hello::{HelloOptions, hello};

/// `/hello` and `/forward`, any method, and `GET /metrics`.
pub fn app(
    hello_options: HelloOptions,
    metrics: Arc<Metrics>,
    forwarder: Arc<Forwarder>,
) -> Router {
    let scraped = Scraped {
        metrics,
        forwarder: forwarder.clone(),
    };
    Router::new()
        .route("/hello", any(hello))
        .with_state(hello_options)
        .merge(
            Router::new()
                .route("/forward", any(forward))
                .with_state(forwarder),
        )
        .merge(
            Router::new()
                .route("/metrics", get(scrape))
                .with_state(scraped),
        )
}

/// What `/metrics` reads.
#[derive(Debug, Clone)]
struct Scraped {
    metrics: Arc<Metrics>,
    forwarder: Arc<Forwarder>,
}

/// Answers the scrape.
async fn scrape(State(scraped): State<Scraped>) -> Response {
    match scraped.metrics.render(scraped.forwarder.retained_clients()) {
        Ok(text) => ([(CONTENT_TYPE, CONTENT_TYPE_OPENMETRICS)], text).into_response(),
        Err(err) => {
            tracing::error!(%err, "could not encode the metrics");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}
