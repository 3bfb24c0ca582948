//! The log's writer: standard error, written from a thread of its own, so
//! that no request waits for the terminal or the pipe, and nothing waits
//! for a reader that stopped reading (a paused `| less`, a hung log
//! shipper).
//!
//! A request's task only hands its line over to a queue. While the thread
//! keeps up, nothing is lost. When the queue is full because the reader
//! is stuck, a line is dropped and counted, never waited for: serving,
//! `/metrics` and shutdown go on. A write that fails (a closed pipe, a
//! full disk, a closed descriptor) loses its lines, counted too.
//! `log_lines_dropped_total` in `/metrics` counts them all, and once the
//! writer can write again, it first writes one line saying how many. At
//! exit, what is queued gets about a second to be written. The writer is
//! a thread, not a task: the task count is the demo's subject.

use std::io::{self, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Lines waiting for the log's thread at most: about half a megabyte of
/// the usual lines.
const QUEUE_LINES: usize = 4096;

/// How long the thread, woken by a first line, lets more gather before it
/// writes them all: at most a few hundred wake-ups a second, however many
/// lines come, where a wake-up per line costs a busy server about a
/// twentieth of its answers (`scripts/layers.sh`).
const GATHER: Duration = Duration::from_millis(2);

/// How long the process waits at exit for what is queued to be written.
const AT_EXIT: Duration = Duration::from_secs(1);

/// Lines lost so far, in this process: dropped while the reader was stuck,
/// or in a write that failed.
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Lines lost so far, dropped while the reader was stuck or in a write
/// that failed; 0 where the log is not this module's (a test's process).
pub(crate) fn dropped_lines() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// The lines handed over and not yet written.
#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    lines: usize,
    /// The thread waits for a first line, and must be woken.
    asleep: bool,
    /// The process is ending: write what is here, then stop.
    closed: bool,
}

#[derive(Default)]
struct Queue {
    pending: Mutex<Pending>,
    woken: Condvar,
}

impl Queue {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What the log's lines are written to: a queue the log's thread empties.
/// Each `write` is one whole line, as the log formats it.
#[derive(Clone)]
pub struct Writer(Arc<Queue>);

impl Write for Writer {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let mut pending = self.0.lock();
        if pending.lines >= QUEUE_LINES {
            DROPPED.fetch_add(1, Ordering::Relaxed);
            return Ok(line.len());
        }
        pending.bytes.extend_from_slice(line);
        pending.lines += 1;
        if pending.asleep {
            pending.asleep = false;
            self.0.woken.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes out what is queued when dropped, at exit, for up to a second.
pub struct Guard {
    queue: Arc<Queue>,
    done: mpsc::Receiver<()>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.queue.lock().closed = true;
        self.queue.woken.notify_one();
        let _ = self.done.recv_timeout(AT_EXIT);
    }
}

/// The writer for the process's log, and the guard that writes out what is
/// queued when it is dropped, at exit.
pub fn writer() -> (Writer, Guard) {
    let queue = Arc::new(Queue::default());
    let (finished, done) = mpsc::channel();
    let reporting = Reporting {
        inner: io::stderr(),
        dropped: Box::new(dropped_lines),
        reported: 0,
    };
    let emptied = queue.clone();
    // Without the thread, nothing empties the queue: it fills, and every
    // line after is dropped and counted.
    let _ = std::thread::Builder::new()
        .name("log".to_owned())
        .spawn(move || {
            write_out(&emptied, reporting);
            let _ = finished.send(());
        });
    (Writer(queue.clone()), Guard { queue, done })
}

/// The log's thread: sleeps until a first line comes, lets more gather
/// for [`GATHER`], then writes them all in one go, until the process ends.
fn write_out(queue: &Queue, mut out: Reporting<impl Write>) {
    let mut batch = Vec::new();
    loop {
        let mut pending = queue.lock();
        while pending.lines == 0 && !pending.closed {
            pending.asleep = true;
            pending = queue
                .woken
                .wait(pending)
                .unwrap_or_else(PoisonError::into_inner);
        }
        if pending.lines == 0 {
            return;
        }
        if !pending.closed {
            drop(pending);
            std::thread::sleep(GATHER);
            pending = queue.lock();
        }
        std::mem::swap(&mut batch, &mut pending.bytes);
        let lines = std::mem::take(&mut pending.lines);
        drop(pending);
        // A write that fails (a reader gone, a full disk, a closed
        // descriptor) loses the batch, counted whole: some of its lines
        // may have reached the reader before the failure. The server goes
        // on.
        if out.write_all(&batch).and_then(|()| out.flush()).is_err() {
            DROPPED.fetch_add(lines as u64, Ordering::Relaxed);
        }
        batch.clear();
    }
}

/// Standard error, as the log's thread writes it: before the first line
/// after some were dropped, a line saying how many.
struct Reporting<W> {
    inner: W,
    /// How many lines were dropped so far.
    dropped: Box<dyn Fn() -> u64 + Send>,
    /// How many dropped lines were already reported.
    reported: u64,
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

    #[test]
    fn lines_gathered_are_written_in_order_and_all_of_them_at_exit() {
        let queue = Arc::new(Queue::default());
        let mut writer = Writer(queue.clone());
        let written = Arc::new(Mutex::new(Vec::new()));
        let out = Reporting {
            inner: Shared(written.clone()),
            dropped: Box::new(|| 0),
            reported: 0,
        };
        let emptied = queue.clone();
        let thread = std::thread::spawn(move || write_out(&emptied, out));
        for line in 0..100 {
            writer
                .write_all(format!("line {line}\n").as_bytes())
                .unwrap();
        }
        queue.lock().closed = true;
        queue.woken.notify_one();
        thread.join().expect("the log's thread ends once closed");
        let expected: String = (0..100).map(|line| format!("line {line}\n")).collect();
        assert_eq!(String::from_utf8_lossy(&written.lock().unwrap()), expected);
    }

    #[test]
    fn a_full_queue_drops_and_counts_the_lines_after() {
        let mut writer = Writer(Arc::new(Queue::default()));
        let before = dropped_lines();
        for _ in 0..QUEUE_LINES + 3 {
            writer.write_all(b"a line\n").unwrap();
        }
        assert_eq!(writer.0.lock().lines, QUEUE_LINES);
        assert!(dropped_lines() >= before + 3);
    }

    /// A writer the test reads back.
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn dropped_lines_are_reported_once_before_the_next_line() {
        let dropped = Arc::new(AtomicU64::new(0));
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
