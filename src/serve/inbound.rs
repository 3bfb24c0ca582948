//! Inbound connections' deadlines: Go's `http.Server.IdleTimeout`,
//! `ReadTimeout` and `SetKeepAlivesEnabled(false)`, all switchable at
//! runtime.
//!
//! A connection waits for its next request from the moment its answer is
//! written until a byte of the next request arrives. Each wait reads the
//! idle timeout as it begins, as Go's `Server.idleTimeout` does:
//! `SERVER_IDLE_TIMEOUT`, or `SERVER_READ_TIMEOUT` when that is 0. So a
//! switch applies from each connection's next wait, and a connection
//! already waiting keeps the deadline it set (none, by default: the leak).
//! Switching `SERVER_KEEP_ALIVES` to false closes every connection waiting
//! now, as Go's `closeIdleConns` does.
//!
//! A request must then be read within `SERVER_READ_TIMEOUT` of its first
//! byte (of the connection's accepting, for its first request): one
//! deadline per request, as Go's `conn.readRequest` sets it. When it passes
//! before the head is in, the read fails, and hyper closes the connection
//! without an answer, as Go's server does. The same deadline ends the
//! body's reads, the route's own and those after its answer where the
//! route left some unread ([`crate::serve::leftover`]).
//!
//! Each request head's first read is screened for a `Transfer-Encoding`
//! that Go takes otherwise than hyper does ([`transfer_encoding`]).
//!
//! The watch lives in the connection's own task, in its socket's reads and
//! writes, and its timer is a tokio timer, not a task: watching adds
//! nothing to the task count. A connection closed while waiting reads as
//! closed by its client, so hyper ends it as it would any finished
//! keep-alive connection. One that has not had a first answer yet is not
//! waiting, as in Go: its first request may take its time.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::serve::transfer_encoding::{self, Screened};
use crate::settings::go_syntax::zero_means_none;
use crate::settings::knobs::Knobs;
use crate::settings::live::Live;

/// Every inbound connection of one server, as far as waiting goes.
#[derive(Debug)]
pub(crate) struct Inbound {
    live: Arc<Live>,
    open: Mutex<HashMap<u64, Arc<Shared>>>,
    next_id: AtomicU64,
}

/// What a connection's socket, its routes and a switch share of it: its
/// wait for a next request, the head and deadline of the request being
/// read, and whether that head's `Transfer-Encoding` was refused.
#[derive(Debug, Default)]
struct Shared {
    /// Whether it is waiting for its next request now.
    waiting: AtomicBool,
    /// Set to end the wait, and the connection with it.
    close: AtomicBool,
    /// Wakes the connection's task to see `close`.
    waker: Mutex<Option<Waker>>,
    /// Whether the head of the request being read has been read: its
    /// socket's read deadline is over.
    head_read: AtomicBool,
    /// The request's deadline, set as its head's first byte came: its
    /// body's reads, the route's and those after its answer, end there.
    deadline: Mutex<Option<Instant>>,
    /// Whether the request's head carried a `Transfer-Encoding` that Go
    /// refuses ([`transfer_encoding`]).
    encoding_refused: AtomicBool,
}

/// Tells a connection that its request's head has been read: the routes
/// are called.
#[derive(Debug, Clone)]
pub(crate) struct HeadRead(Arc<Shared>);

impl HeadRead {
    /// Marks the head read; returns the request's deadline, by which its
    /// body must have been read too (`None`: no `SERVER_READ_TIMEOUT`).
    pub(crate) fn mark_read(&self) -> Option<Instant> {
        self.0.head_read.store(true, Ordering::Release);
        *lock(&self.0.deadline)
    }

    /// Whether the head read carried a `Transfer-Encoding` that Go refuses
    /// and hyper would have refused in its own way.
    pub(crate) fn encoding_refused(&self) -> bool {
        self.0.encoding_refused.load(Ordering::Acquire)
    }
}

impl Inbound {
    pub(crate) fn new(live: Arc<Live>) -> Inbound {
        Inbound {
            live,
            open: Mutex::default(),
            next_id: AtomicU64::new(0),
        }
    }

    /// Watches `io`, a newly accepted connection's socket.
    pub(crate) fn wrap<IO>(self: &Arc<Self>, io: IO) -> InboundSocket<IO> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let wait = Arc::new(Shared::default());
        self.lock().insert(id, wait.clone());
        let mut socket = InboundSocket {
            io,
            id,
            wait,
            reading: None,
            head_begins: false,
            inbound: self.clone(),
            answered: false,
            timer: None,
        };
        socket.start_reading();
        socket
    }

    /// Closes every connection waiting for its next request now; returns
    /// how many.
    pub(crate) fn close_waiting(&self) -> usize {
        let open = self.lock();
        let waiting = open
            .values()
            .filter(|wait| wait.waiting.load(Ordering::Acquire));
        let mut closed = 0;
        for wait in waiting {
            wait.close.store(true, Ordering::Release);
            if let Some(waker) = lock(&wait.waker).take() {
                waker.wake();
            }
            closed += 1;
        }
        closed
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<Shared>>> {
        lock(&self.open)
    }
}

/// A std mutex: never held across an `.await`, and a poisoned one still
/// holds a valid value.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A connection's socket, watched between requests.
#[derive(Debug)]
pub struct InboundSocket<IO> {
    io: IO,
    id: u64,
    wait: Arc<Shared>,
    inbound: Arc<Inbound>,
    /// An answer was written and no byte of a next request read since.
    answered: bool,
    /// The idle deadline of this wait, read when it began: `Some(None)`
    /// for none, `None` before the wait began.
    timer: Option<Option<Pin<Box<Sleep>>>>,
    /// The deadline of the request head being read, read when its first
    /// byte came; `None` for none.
    reading: Option<Pin<Box<Sleep>>>,
    /// The next read starts a request's head: its bytes are screened.
    head_begins: bool,
}

/// A request head's deadline from now, by `SERVER_READ_TIMEOUT`.
fn read_deadline(knobs: &Knobs) -> Option<Pin<Box<Sleep>>> {
    zero_means_none(knobs.server_read_timeout).map(|timeout| Box::pin(tokio::time::sleep(timeout)))
}

impl<IO> InboundSocket<IO> {
    /// A request begins: its deadline, by `SERVER_READ_TIMEOUT` as it is
    /// now, for its head here and for its body where the routes read it.
    fn start_reading(&mut self) {
        self.head_begins = true;
        self.wait.encoding_refused.store(false, Ordering::Release);
        self.reading = read_deadline(&self.inbound.live.knobs());
        *lock(&self.wait.deadline) = self.reading.as_ref().map(|sleep| sleep.deadline());
    }

    /// Tells this connection when its requests' heads have been read.
    pub(crate) fn head_read(&self) -> HeadRead {
        HeadRead(self.wait.clone())
    }

    /// Whether the request head being read has run out of time.
    fn read_is_late(&mut self, cx: &mut Context<'_>) -> bool {
        if self.wait.head_read.load(Ordering::Acquire) {
            self.reading = None;
        }
        self.reading
            .as_mut()
            .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready())
    }

    /// Whether this wait is over without a next request: the switch closed
    /// the connection, or its idle deadline passed.
    fn wait_is_over(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.answered {
            return false;
        }
        if self.timer.is_none() {
            // The wait begins: read the timeout now, as Go does.
            let timeout = zero_means_none(self.inbound.live.knobs().server_idle_wait());
            self.timer = Some(timeout.map(|timeout| Box::pin(tokio::time::sleep(timeout))));
            self.wait.waiting.store(true, Ordering::Release);
        }
        let mut waker = lock(&self.wait.waker);
        if !waker
            .as_ref()
            .is_some_and(|known| known.will_wake(cx.waker()))
        {
            *waker = Some(cx.waker().clone());
        }
        drop(waker);
        if self.wait.close.load(Ordering::Acquire) {
            return true;
        }
        match &mut self.timer {
            Some(Some(timer)) => timer.as_mut().poll(cx).is_ready(),
            _ => false,
        }
    }

    /// Bytes of an answer went out: not waiting.
    fn wrote(&mut self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(count)) if *count > 0) {
            self.busy(true);
        }
    }

    /// A byte of the next request came, or an answer is being written:
    /// not waiting.
    fn busy(&mut self, answered: bool) {
        if self.answered && !answered {
            // The next request's first byte: its deadline starts.
            self.wait.head_read.store(false, Ordering::Release);
            self.start_reading();
        }
        self.answered = answered;
        if self.timer.take().is_some() {
            self.wait.waiting.store(false, Ordering::Release);
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for InboundSocket<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.busy(false);
                if std::mem::take(&mut this.head_begins) {
                    let head = &mut buf.filled_mut()[before..];
                    if transfer_encoding::screen_head(head) == Screened::Refused {
                        this.wait.encoding_refused.store(true, Ordering::Release);
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(result) => Poll::Ready(result),
            // Read as the client closing the connection.
            Poll::Pending if this.wait_is_over(cx) => Poll::Ready(Ok(())),
            // A failed read: hyper closes the connection without answering.
            Poll::Pending if this.read_is_late(cx) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request head did not come within SERVER_READ_TIMEOUT",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for InboundSocket<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bytes: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, bytes);
        this.wrote(&written);
        written
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(&written);
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let flushed = Pin::new(&mut this.io).poll_flush(cx);
        // The answer is out: the wait begins now. hyper may not read again
        // until the socket has something to read, so the wait's timer and
        // its waker for a switch are set up here, to wake the task that
        // then reads, and finds the wait over.
        if this.answered && matches!(flushed, Poll::Ready(Ok(()))) {
            let _ = this.wait_is_over(cx);
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

impl<IO> Drop for InboundSocket<IO> {
    fn drop(&mut self) {
        self.inbound.lock().remove(&self.id);
    }
}
