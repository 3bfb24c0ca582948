//! Which route answers what. Both roles serve every route: which one a copy
//! plays depends only on which route is called, as in the Go original.

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::{any, get, put};

use crate::roles::forward::answer_forward;
use crate::roles::hello::hello;
use crate::serve::access::named_host;
use crate::serve::dashboard;
use crate::serve::refusal::{method_not_allowed, no_route};
use crate::serve::state::AppState;
use crate::serve::switches::{get_settings, put_settings, put_upstream_settings};
use crate::serve::told::{get_figures, get_metrics};
use crate::serve::watch::get_watch;

/// `/hello` and `/forward`, any method; `GET /metrics`; the settings,
/// `GET` and `PUT /settings` and `PUT /upstream/settings`; and for people,
/// the dashboard at `GET /` with the figures it polls. Any other method
/// or path is refused in JSON, as every refusal is.
///
/// The demo's own routes, and `/metrics`, answer any Host, as the Go
/// original does; the settings, the figures and the dashboard only one
/// that names this server ([`named_host`]).
pub(crate) fn app(state: AppState) -> Router {
    let for_this_server_only = Router::new()
        .route("/settings", get(get_settings).put(put_settings))
        .route("/upstream/settings", put(put_upstream_settings))
        .route("/figures", get(get_figures))
        .route("/watch", get(get_watch))
        .merge(dashboard::routes())
        .route_layer(from_fn_with_state(state.clone(), named_host));
    Router::new()
        .route("/hello", any(hello))
        .route("/forward", any(answer_forward))
        .route("/metrics", get(get_metrics))
        .merge(for_this_server_only)
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(no_route)
        .with_state(state)
}
