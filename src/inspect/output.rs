//! The samples' way to standard output: a thread of its own writes them,
//! so that a reader that stops reading (a pipe nobody empties, a paused
//! terminal) never stops the samples, nor the figures the exporter serves
//! from them. Up to [`QUEUE`] samples wait for the thread; past that a
//! sample's text is dropped and counted (`inspect_output_dropped_total`
//! on `/metrics`), never waited for. A reader that went away (a closed
//! pipe, `| head`) ends the watch, as a failed write always did.

use std::io::{self, Write};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

/// Samples waiting for the thread at most: a minute of the default
/// interval.
const QUEUE: usize = 60;

/// How long the end waits for what is queued to be written.
const AT_END: Duration = Duration::from_secs(1);

/// Standard output, written by a thread of its own.
pub(crate) struct Output {
    texts: SyncSender<String>,
    /// Says when the thread has written everything it was given, or failed.
    finished: Receiver<()>,
    dropped: u64,
}

impl Output {
    /// Starts the thread that writes standard output.
    pub(crate) fn start() -> io::Result<Output> {
        let (texts, queued) = mpsc::sync_channel::<String>(QUEUE);
        let (done, finished) = mpsc::channel();
        std::thread::Builder::new()
            .name("output".to_owned())
            .spawn(move || {
                let mut stdout = io::stdout().lock();
                for text in queued {
                    // A failed write ends the thread, and with it the
                    // queue: the watch then ends.
                    if stdout
                        .write_all(text.as_bytes())
                        .and_then(|()| stdout.flush())
                        .is_err()
                    {
                        break;
                    }
                }
                let _ = done.send(());
            })?;
        Ok(Output {
            texts,
            finished,
            dropped: 0,
        })
    }

    /// Hands `text` to the thread, or drops and counts it while the queue
    /// is full; `false` once the reader has gone.
    pub(crate) fn send(&mut self, text: String) -> bool {
        match self.texts.try_send(text) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                self.dropped += 1;
                true
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }

    /// Samples dropped so far because the reader was not reading.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Hands over the last text, and waits a moment for it and everything
    /// queued before it to be written: a stuck reader does not keep the
    /// watch from ending.
    pub(crate) fn finish(self, last: String) {
        let deadline = Instant::now() + AT_END;
        let mut last = Some(last);
        while let Some(text) = last.take() {
            match self.texts.try_send(text) {
                Err(TrySendError::Full(text)) if Instant::now() < deadline => {
                    last = Some(text);
                    std::thread::sleep(Duration::from_millis(10));
                }
                _ => {}
            }
        }
        drop(self.texts);
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = self.finished.recv_timeout(left);
    }
}
