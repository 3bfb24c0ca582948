//! What every request gets on its way in and out, before and after its
//! route: the two ends of its connection (for the switches' guard), a
//! place in the count of requests in flight (so that a shutdown can say
//! how many its grace period cut short; connections would over-count, a
//! kept-alive one may carry no request), and `Connection: close` on its
//! answer while `SERVER_KEEP_ALIVES` is off, as Go's
//! `SetKeepAlivesEnabled(false)` answers.
//!
//! One wrapper around the routes, not three middleware layers: it is on
//! the path of every `/hello`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::header::CONNECTION;
use axum::http::{HeaderValue, Request, Response};
use hyper_util::service::TowerToHyperService;

use crate::serve::switch_guard::Peer;
use crate::settings::live::Live;

/// The routes, as hyper calls them.
pub type Routes = TowerToHyperService<axum::Router>;

/// The count of requests being answered now.
#[derive(Debug, Clone, Default)]
pub struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// How many requests are being answered now.
    pub fn now(&self) -> usize {
        self.0.load(Ordering::Relaxed)
    }

    fn enter(&self) -> Entered {
        self.0.fetch_add(1, Ordering::Relaxed);
        Entered(self.clone())
    }
}

/// One request's place in the count, given up when dropped: answered, or
/// cut short.
struct Entered(InFlight);

impl Drop for Entered {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The routes of one connection, wrapped.
#[derive(Clone)]
pub struct Wrapped {
    pub routes: Routes,
    pub peer: Peer,
    pub in_flight: InFlight,
    pub live: Arc<Live>,
}

type Answer<Body> = <Routes as hyper::service::Service<Request<Body>>>::Response;
type Failure<Body> = <Routes as hyper::service::Service<Request<Body>>>::Error;

impl<Body> hyper::service::Service<Request<Body>> for Wrapped
where
    Routes: hyper::service::Service<Request<Body>, Response = Response<axum::body::Body>>,
    <Routes as hyper::service::Service<Request<Body>>>::Future: Send + 'static,
{
    type Response = Answer<Body>;
    type Error = Failure<Body>;
    type Future = Pin<Box<dyn Future<Output = Result<Answer<Body>, Failure<Body>>> + Send>>;

    fn call(&self, mut request: Request<Body>) -> Self::Future {
        request.extensions_mut().insert(self.peer);
        let entered = self.in_flight.enter();
        let answering = self.routes.call(request);
        let live = self.live.clone();
        Box::pin(async move {
            let _entered = entered;
            let mut response = answering.await?;
            if !live.knobs().server_keep_alives {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        })
    }
}
