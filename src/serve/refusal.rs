//! How every refusal reads: a status, and one line as `{"error": ...}`;
//! a method a route does not take (405, with axum's `Allow` kept) and a
//! path no route has (404) included.

use axum::Json;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Why a request was refused: its status, and the line the caller gets as
/// `{"error": ...}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) why: String,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, why: impl Into<String>) -> Refusal {
        Refusal {
            status,
            why: why.into(),
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": self.why }))).into_response()
    }
}

/// A method the route does not take: 405, the `Allow` header added by the
/// route.
pub(crate) async fn method_not_allowed(method: Method, uri: Uri) -> Refusal {
    Refusal::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!(
            "{method} is not taken on {}; the Allow header lists what is",
            uri.path()
        ),
    )
}

/// A path no route has: 404.
pub(crate) async fn no_route(uri: Uri) -> Refusal {
    Refusal::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {}; the routes are /hello, /forward, /metrics, /settings, /figures, /watch and the dashboard at /",
            uri.path()
        ),
    )
}
