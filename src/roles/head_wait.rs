//! How long a call waits for server 1's answer head once its request is
//! written: Go's `Transport.ResponseHeaderTimeout`, which reqwest has no
//! setting for.
//!
//! Go starts the clock when the request, body and all, has been written
//! to the connection, and stops it when the answer's head has been read;
//! connecting and reading the answer's body are not bounded by it. Here
//! the request's body says when hyper is done with it ([`WrittenBody`]):
//! hyper lets go of a body once it has taken its last byte for the wire.
//! A request without a body (a GET after a redirect) starts the clock
//! when it is handed to the client, so that its connecting counts too.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http_body::{Body, Frame, SizeHint};
use tokio::sync::oneshot;

/// A request body of fixed bytes that says, when hyper lets go of it,
/// that the request has been written.
#[derive(Debug)]
pub(crate) struct WrittenBody {
    bytes: Option<&'static [u8]>,
    length: u64,
    written: Option<oneshot::Sender<()>>,
}

impl WrittenBody {
    /// `bytes` as a body, and what hears that it was written.
    pub(crate) fn new(bytes: &'static [u8]) -> (WrittenBody, oneshot::Receiver<()>) {
        let (written, heard) = oneshot::channel();
        let body = WrittenBody {
            bytes: Some(bytes),
            length: bytes.len() as u64,
            written: Some(written),
        };
        (body, heard)
    }
}

impl Body for WrittenBody {
    type Data = &'static [u8];
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        Poll::Ready(self.bytes.take().map(|bytes| Ok(Frame::data(bytes))))
    }

    fn is_end_stream(&self) -> bool {
        self.bytes.is_none()
    }

    /// Exact, so that hyper sends a `Content-Length` as for any fixed body.
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.length)
    }
}

impl Drop for WrittenBody {
    fn drop(&mut self) {
        if let Some(written) = self.written.take() {
            // Nobody may be listening: no timeout was set.
            let _ = written.send(());
        }
    }
}

/// The head did not come within this limit of the request being written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct HeadTimedOut(pub(crate) Duration);

/// Waits for `answer`, the call's head, at most `limit` from when
/// `written` hears the request written (from now, without one); `None`
/// waits as long as it takes, as Go's zero value does.
pub(crate) async fn head_within<T>(
    limit: Option<Duration>,
    written: Option<oneshot::Receiver<()>>,
    answer: impl Future<Output = T>,
) -> Result<T, HeadTimedOut> {
    let Some(limit) = limit else {
        return Ok(answer.await);
    };
    let deadline = async {
        if let Some(written) = written {
            // A body dropped unwritten ends the wait too; the call fails
            // on its own then.
            let _ = written.await;
        }
        tokio::time::sleep(limit).await;
    };
    tokio::select! {
        answer = answer => Ok(answer),
        () = deadline => Err(HeadTimedOut(limit)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_clock_starts_when_the_body_is_let_go_of() {
        let (body, written) = WrittenBody::new(b"{}");
        let slow_head = async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            "head"
        };
        let waited = tokio::spawn(head_within(
            Some(Duration::from_secs(1)),
            Some(written),
            slow_head,
        ));
        // Written 30 s in: the head has come by then, within the limit.
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(body);
        assert_eq!(waited.await.expect("ran"), Ok("head"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_later_than_the_limit_after_writing_times_out() {
        let (body, written) = WrittenBody::new(b"{}");
        drop(body);
        let slow_head = tokio::time::sleep(Duration::from_secs(10));
        let limit = Some(Duration::from_secs(1));
        assert_eq!(
            head_within(limit, Some(written), slow_head).await,
            Err(HeadTimedOut(Duration::from_secs(1)))
        );
        let never = std::future::pending::<()>();
        assert_eq!(
            head_within(limit, None, never).await,
            Err(HeadTimedOut(Duration::from_secs(1)))
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_limit_waits_as_long_as_it_takes() {
        let slow_head = async {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            "head"
        };
        assert_eq!(head_within(None, None, slow_head).await, Ok("head"));
    }
}
