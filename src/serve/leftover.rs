//! What a route leaves unread of a request's body, read after its answer
//! is made, as Go's server reads it.
//!
//! No route here reads the body of `/hello` or `/forward`, and neither does
//! the Go original's handlers. Go's server then reads what is left, up to
//! 256 KB, before it writes the answer, within `ReadTimeout` when one is
//! set: a body that ends in time leaves the connection for the next
//! request; one that does not (slower than the deadline, larger, or
//! broken) gets its answer all the same, with `Connection: close`, and the
//! connection closes after it. hyper on its own would answer at once and
//! close the connection without saying so. A request that asked for `100
//! Continue` and never got it (its route read nothing) is not read at all,
//! as in Go: its answer closes the connection.

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;

/// The most of a body left unread that is read after the answer: Go's
/// `maxPostHandlerReadBytes`.
const MOST_READ: usize = 256 * 1024;

/// A request's body as the route gets it: when the route drops it before
/// its end, it goes back to the [`Leftover`] it came from.
#[derive(Debug)]
pub struct Tracked<B> {
    body: Option<B>,
    /// Whether the route asked for any of it: hyper sends `100 Continue`
    /// at the first ask.
    asked: bool,
    left: Leftover<B>,
}

/// Where a body dropped goes back to, and whether its route asked for any
/// of it.
#[derive(Debug)]
pub struct Leftover<B>(Arc<Mutex<Option<(B, bool)>>>);

impl<B> Clone for Leftover<B> {
    fn clone(&self) -> Self {
        Leftover(self.0.clone())
    }
}

impl<B: Body<Data = Bytes> + Unpin> Leftover<B> {
    /// `body`, tracked, and where its unread part will be.
    pub fn track(body: B) -> (Tracked<B>, Leftover<B>) {
        let left = Leftover(Arc::new(Mutex::new(None)));
        let tracked = Tracked {
            body: Some(body),
            asked: false,
            left: left.clone(),
        };
        (tracked, left)
    }

    /// Reads what the route left, as Go's server does; whether the
    /// connection may serve another request: the body ended within
    /// 256 KB and before `deadline` (none when `None`). A
    /// body that waits for `100 Continue` (`expects_continue`, and the
    /// route asked for none of it) is left unread.
    pub async fn read_to_end(self, expects_continue: bool, deadline: Option<Duration>) -> bool {
        let left = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        let body = match left {
            None => return true,
            Some((body, asked)) if asked || !expects_continue => body,
            Some((body, _)) => return body.is_end_stream(),
        };
        let reading = read_all(body);
        match deadline {
            Some(deadline) => tokio::time::timeout(deadline, reading)
                .await
                .unwrap_or(false),
            None => reading.await,
        }
    }
}

/// Reads `body` to its end; whether it ended within [`MOST_READ`] bytes.
async fn read_all<B: Body<Data = Bytes> + Unpin>(mut body: B) -> bool {
    let mut read = 0;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return false;
        };
        read += frame.data_ref().map_or(0, Bytes::len);
        if read > MOST_READ {
            return false;
        }
    }
    true
}

impl<B: Body<Data = Bytes> + Unpin> Body for Tracked<B> {
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, B::Error>>> {
        let this = self.get_mut();
        this.asked = true;
        match this.body.as_mut() {
            Some(body) => Pin::new(body).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.body
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}

impl<B> Drop for Tracked<B> {
    fn drop(&mut self) {
        if let Some(body) = self.body.take() {
            *self.left.0.lock().unwrap_or_else(PoisonError::into_inner) = Some((body, self.asked));
        }
    }
}
