//! The log's writer: standard error, written from a thread of its own, so
//! that no request waits for the terminal or the pipe, and nothing waits
//! for a reader that stopped reading (a paused `| less`, a hung log
//! shipper).
//!
//! A request's task only hands its line over to a queue. While the thread
//! keeps up, nothing is lost. When the queue is full because the reader is
//! stuck, a line is dropped and counted, never waited for: serving,
//! `/metrics` and shutdown go on. `log_lines_dropped_total` in `/metrics`
//! counts them, and once the writer can write again, it first writes one
//! line saying how many. At exit, what is queued gets about a second to be
//! written. The writer is a thread, not a task: the task count is the
//! demo's subject.

use std::io::{self, Write};
use std::sync::{Arc, OnceLock};

use tracing_appender::non_blocking::{ErrorCounter, NonBlocking, NonBlockingBuilder, WorkerGuard};

/// Lines waiting for the log's thread at most. Each place costs its share
/// of memory from the start (tracing-appender's default, 128,000, cost
/// 3 MiB of resident memory).
const QUEUE_LINES: usize = 4096;

/// The process's count of dropped lines, once the log is set up.
static DROPPED: OnceLock<ErrorCounter> = OnceLock::new();

/// The writer for the process's log, and the guard that writes out what is
/// queued when it is dropped, at exit (for up to about a second).
pub fn writer() -> (NonBlocking, WorkerGuard) {
    let counter: Arc<OnceLock<ErrorCounter>> = Arc::new(OnceLock::new());
    let known = counter.clone();
    let reporting = Reporting {
        // The thread writes a queue's worth in one go, and flushes each
        // time the queue runs dry: one system call for many lines.
        inner: io::BufWriter::new(io::stderr()),
        dropped: Box::new(move || known.get().map_or(0, ErrorCounter::dropped_lines)),
        reported: 0,
    };
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(true)
        .buffered_lines_limit(QUEUE_LINES)
        .finish(reporting);
    let _ = counter.set(writer.error_counter());
    let _ = DROPPED.set(writer.error_counter());
    (writer, guard)
}

/// Lines dropped so far because the reader was stuck; 0 where the log is
/// not this module's (a test's process).
pub(crate) fn dropped_lines() -> u64 {
    DROPPED
        .get()
        .map_or(0, |counter| counter.dropped_lines() as u64)
}

/// Standard error, as the log's thread writes it: before the first line
/// after some were dropped, a line saying how many.
struct Reporting<W> {
    inner: W,
    /// How many lines were dropped so far.
    dropped: Box<dyn Fn() -> usize + Send>,
    /// How many dropped lines were already reported.
    reported: usize,
}

impl<W: Write> Write for Reporting<W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let dropped = (self.dropped)();
        if dropped > self.reported {
            writeln!(
                self.inner,
                "WARN log: {} lines were dropped while the log's reader was not reading",
                dropped - self.reported
            )?;
            self.reported = dropped;
        }
        self.inner.write(line)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn dropped_lines_are_reported_once_before_the_next_line() {
        let dropped = Arc::new(AtomicUsize::new(0));
        let count = dropped.clone();
        let mut reporting = Reporting {
            inner: Vec::new(),
            dropped: Box::new(move || count.load(Ordering::Relaxed)),
            reported: 0,
        };
        reporting.write_all(b"first\n").expect("written");
        dropped.store(7, Ordering::Relaxed);
        reporting.write_all(b"second\n").expect("written");
        reporting.write_all(b"third\n").expect("written");
        assert_eq!(
            String::from_utf8_lossy(&reporting.inner),
            "first\nWARN log: 7 lines were dropped while the log's reader was not reading\n\
             second\nthird\n"
        );
    }
}
