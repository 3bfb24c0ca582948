//! What a route leaves unread of a request's body, read after its answer
//! is made, as Go's server reads it.
//!
//! No route here reads the body of `/hello` or `/forward`, and neither does
//! the Go original's handlers. Go's server then reads what is left, up to
//! 256 KB, before it writes the answer, by the request's deadline
//! (`ReadTimeout` from its first byte) when one is set: a body that ends in
//! time leaves the connection for the next request; one that does not
//! (slower than the deadline, larger, or broken) gets its answer all the
//! same, with `Connection: close`, and the connection closes after it. A
//! body whose announced length leaves 256 KB or more unread is not read at
//! all: its answer goes at once, closing. hyper on its own would answer at
//! once and close the connection without saying so. A request that asked
//! for `100 Continue` and never got it (its route read nothing) is not read
//! at all, as in Go: its answer closes the connection.
//!
//! The route's own reads end at the same deadline, with [`ReadTimedOut`].

use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use axum::BoxError;
use axum::body::Bytes;
use http_body::{Body, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::time::{Instant, Sleep};

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
    /// The request's deadline, when it has one.
    deadline: Option<Instant>,
    /// Its timer, made the first time the route waits for the body: most
    /// routes never read one.
    timer: Option<Pin<Box<Sleep>>>,
}

/// A body read past its request's deadline (`SERVER_READ_TIMEOUT`).
#[derive(Debug, thiserror::Error)]
#[error("the request's body did not come within SERVER_READ_TIMEOUT")]
pub(crate) struct ReadTimedOut;

/// Where a body dropped goes back to, and whether its route asked for any
/// of it.
#[derive(Debug)]
pub(crate) struct Leftover<B>(Arc<Mutex<Option<(B, bool)>>>);

impl<B> Clone for Leftover<B> {
    fn clone(&self) -> Self {
        Leftover(self.0.clone())
    }
}

impl<B: Body<Data = Bytes> + Unpin> Leftover<B> {
    /// `body`, tracked, read by `deadline` when there is one, and where
    /// its unread part will be.
    pub(crate) fn track(body: B, deadline: Option<Instant>) -> (Tracked<B>, Leftover<B>) {
        let left = Leftover(Arc::new(Mutex::new(None)));
        let tracked = Tracked {
            body: Some(body),
            asked: false,
            left: left.clone(),
            deadline,
            timer: None,
        };
        (tracked, left)
    }

    /// Reads what the route left, as Go's server does; whether the
    /// connection may serve another request: the body ended within
    /// 256 KB and before `deadline` (none when `None`). A body announced
    /// with 256 KB or more still unread is not read, nor is one that
    /// waits for `100 Continue` (`expects_continue`, and the route asked
    /// for none of it).
    pub(crate) async fn read_to_end(
        self,
        expects_continue: bool,
        deadline: Option<Instant>,
    ) -> bool {
        let left = self.0.lock().unwrap_or_else(PoisonError::into_inner).take();
        let body = match left {
            None => return true,
            Some((body, asked)) if asked || !expects_continue => body,
            Some((body, _)) => return body.is_end_stream(),
        };
        if body
            .size_hint()
            .exact()
            .is_some_and(|unread| unread >= MOST_READ as u64)
        {
            return false;
        }
        let reading = read_all(body);
        match deadline {
            Some(deadline) => tokio::time::timeout_at(deadline, reading)
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

impl<B> Body for Tracked<B>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        this.asked = true;
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        match Pin::new(body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|frame| frame.map_err(Into::into))),
            Poll::Pending => {
                let late = this.deadline.is_some_and(|deadline| {
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                    timer.as_mut().poll(cx).is_ready()
                });
                if late {
                    Poll::Ready(Some(Err(Box::new(ReadTimedOut))))
                } else {
                    Poll::Pending
                }
            }
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
