//! What every request gets on its way in and out, before and after its
//! route: the two ends of its connection (for the Host rule, the switch
//! rule and `/watch`, which tells a server 2 from its own server 1), a
//! place in the count of requests in flight (so that a shutdown can say
//! how many its grace period cut short; connections would over-count, a
//! kept-alive one may carry no request), what its route left of its body
//! read as Go's server reads it ([`crate::serve::leftover`]), and
//! `Connection: close` on its answer while `SERVER_KEEP_ALIVES` is off, as
//! Go's `SetKeepAlivesEnabled(false)` answers, or when that body did not
//! end in time; and Go's 501 to a transfer encoding it does not take.
//!
//! One wrapper around the routes, not three middleware layers: it is on
//! the path of every `/hello`.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::header::{CONNECTION, EXPECT, TRANSFER_ENCODING};
use axum::http::{HeaderValue, Request, Response, Version};
use hyper_util::service::TowerToHyperService;

use crate::observe::ends::Ends;
use crate::serve::inbound::HeadRead;
use crate::serve::leftover::{Leftover, Tracked};
use crate::serve::transfer_encoding;
use crate::settings::live::Live;

/// The routes, as hyper calls them.
pub type Routes = TowerToHyperService<axum::Router>;

/// The count of requests being answered now.
#[derive(Debug, Clone, Default)]
pub(crate) struct InFlight(Arc<AtomicUsize>);

impl InFlight {
    /// How many requests are being answered now.
    pub(crate) fn now(&self) -> usize {
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
    pub(crate) routes: Routes,
    pub(crate) ends: Ends,
    pub(crate) in_flight: InFlight,
    pub(crate) live: Arc<Live>,
    /// Ends the read deadline of each request's head as it is answered.
    pub(crate) head_read: HeadRead,
}

type Answer<Body> = <Routes as hyper::service::Service<Request<Tracked<Body>>>>::Response;
type Failure<Body> = <Routes as hyper::service::Service<Request<Tracked<Body>>>>::Error;

impl<Body> hyper::service::Service<Request<Body>> for Wrapped
where
    Body: http_body::Body<Data = axum::body::Bytes> + Unpin + Send + 'static,
    Body::Error: Into<axum::BoxError>,
    Routes: hyper::service::Service<Request<Tracked<Body>>, Response = Response<axum::body::Body>>,
    <Routes as hyper::service::Service<Request<Tracked<Body>>>>::Future: Send + 'static,
{
    type Response = Answer<Body>;
    type Error = Failure<Body>;
    type Future = Pin<Box<dyn Future<Output = Result<Answer<Body>, Failure<Body>>> + Send>>;

    fn call(&self, request: Request<Body>) -> Self::Future {
        let deadline = self.head_read.mark_read();
        if self.head_read.encoding_refused() || refused_encoding(&request) {
            return Box::pin(async { Ok(transfer_encoding::not_implemented()) });
        }
        let (parts, body) = request.into_parts();
        let expects_continue = parts
            .headers
            .get(EXPECT)
            .is_some_and(|expect| expect.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let (body, left) = Leftover::track(body, deadline);
        let mut request = Request::from_parts(parts, body);
        request.extensions_mut().insert(self.ends);
        let entered = self.in_flight.enter();
        let answering = self.routes.call(request);
        let live = self.live.clone();
        Box::pin(async move {
            let _entered = entered;
            let mut response = answering.await?;
            let reusable = left.read_to_end(expects_continue, deadline).await;
            if !reusable || !live.knobs().server_keep_alives {
                response
                    .headers_mut()
                    .insert(CONNECTION, HeaderValue::from_static("close"));
            }
            Ok(response)
        })
    }
}

/// Whether Go refuses `request`'s `Transfer-Encoding`, where hyper took
/// it (`gzip, chunked`, or the field twice).
fn refused_encoding<B>(request: &Request<B>) -> bool {
    let fields = request.headers().get_all(TRANSFER_ENCODING);
    transfer_encoding::refused(
        request.version() == Version::HTTP_11,
        fields.iter().map(HeaderValue::as_bytes),
    )
}
