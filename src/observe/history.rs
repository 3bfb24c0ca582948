//! A server's own recent figures, one sample a second for the last five
//! minutes, so that a page opened late still draws what happened before
//! it, and can say whether the counts leaked.
//!
//! The sampler is a thread, not a tokio task: the live task count it reads
//! is the figure it records, and a thread is not in it (as the log's writer
//! and the retainer's watch are not). Each tick reads counters the server
//! keeps anyway, in constant time, never `/proc/self/fd`, whose cost grows
//! with every leaked connection.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One sample every this long.
pub(crate) const STEP: Duration = Duration::from_secs(1);

/// The most samples kept: five minutes of them.
pub(crate) const KEPT: usize = 300;

/// A server's figures at one tick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Tick {
    /// Counts up from 0 at the server's start: a page asks for what came
    /// after the last one it has.
    pub(crate) seq: u64,
    /// When, in milliseconds since the Unix epoch.
    pub(crate) at_ms: u64,
    /// What it read, as fields of its own on the wire.
    #[serde(flatten)]
    pub(crate) read: Reading,
}

/// The figures a tick reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Reading {
    /// Live tokio tasks: `/hello`'s count.
    pub(crate) tasks: u64,
    /// Inbound connections open.
    pub(crate) connections: u64,
    /// Per-request clients the retainer holds.
    pub(crate) clients_held: u64,
    /// `/forward` requests answered so far, whatever their outcome.
    pub(crate) forwarded: u64,
    /// `/hello` requests answered so far.
    pub(crate) answered: u64,
}

/// The last [`KEPT`] samples, oldest first.
#[derive(Debug, Default)]
pub(crate) struct History {
    samples: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    samples: VecDeque<Tick>,
    next_seq: u64,
}

impl History {
    /// A history filled by a thread of its own from `read`, at once (the
    /// figures before any request) and then every [`STEP`]. The thread
    /// ends at the first tick after the history is dropped, or once `read`
    /// has nothing to read (the server it reads is gone).
    pub(crate) fn sampled(read: impl Fn() -> Option<Reading> + Send + 'static) -> Arc<History> {
        let history = Arc::new(History::default());
        let kept: Weak<History> = Arc::downgrade(&history);
        let started = std::thread::Builder::new()
            .name("history".to_owned())
            .spawn(move || {
                loop {
                    let (Some(history), Some(reading)) = (kept.upgrade(), read()) else {
                        return;
                    };
                    history.record(reading, now_ms());
                    drop(history);
                    std::thread::sleep(STEP);
                }
            });
        if let Err(err) = started {
            tracing::warn!(%err, "cannot start the history's thread: pages opened late draw no past");
        }
        history
    }

    /// Adds a sample of `reading` taken at `at_ms`, dropping the oldest
    /// beyond [`KEPT`].
    pub(crate) fn record(&self, reading: Reading, at_ms: u64) {
        let mut window = self.window();
        let seq = window.next_seq;
        window.next_seq += 1;
        window.samples.push_back(Tick {
            seq,
            at_ms,
            read: reading,
        });
        if window.samples.len() > KEPT {
            window.samples.pop_front();
        }
    }

    /// The samples after `seq`, or every one kept when `seq` is `None` or
    /// not one this history gave (the asker's is from before a restart).
    pub(crate) fn after(&self, seq: Option<u64>) -> Vec<Tick> {
        let window = self.window();
        let newer = |seq: u64| window.samples.iter().filter(move |s| s.seq > seq);
        match seq {
            Some(seq) if seq < window.next_seq => newer(seq).copied().collect(),
            _ => window.samples.iter().copied().collect(),
        }
    }

    /// Adds samples another server's history gave after this one's last:
    /// a mirror of it, sequence numbers and all. When they do not follow
    /// on (that server restarted), they replace what was kept.
    pub(crate) fn extend(&self, samples: &[Tick]) {
        let mut window = self.window();
        let follows = samples
            .first()
            .is_none_or(|first| window.next_seq <= first.seq);
        if !follows {
            window.samples.clear();
        }
        for sample in samples {
            window.samples.push_back(*sample);
            window.next_seq = sample.seq + 1;
        }
        let extra = window.samples.len().saturating_sub(KEPT);
        window.samples.drain(..extra);
    }

    /// The sequence number of the newest sample, if any.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        self.window().samples.back().map(|sample| sample.seq)
    }

    fn window(&self) -> std::sync::MutexGuard<'_, Window> {
        // A panic elsewhere while holding it leaves the samples whole.
        self.samples
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_millis().try_into().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(tasks: u64) -> Reading {
        Reading {
            tasks,
            ..Reading::default()
        }
    }

    #[test]
    fn keeps_the_last_five_minutes_and_hands_out_what_is_new() {
        let history = History::default();
        for tick in 0..(KEPT as u64 + 10) {
            history.record(reading(tick), tick * 1000);
        }
        let all = history.after(None);
        assert_eq!(all.len(), KEPT);
        assert_eq!(all[0].seq, 10);
        assert_eq!(all[KEPT - 1].read.tasks, KEPT as u64 + 9);
        let new = history.after(Some(KEPT as u64 + 7));
        assert_eq!(new.iter().map(|s| s.seq).collect::<Vec<_>>(), [308, 309]);
        assert!(history.after(Some(KEPT as u64 + 9)).is_empty());
    }

    #[test]
    fn a_sequence_number_it_never_gave_gets_everything() {
        let history = History::default();
        history.record(reading(3), 0);
        history.record(reading(4), 1000);
        assert_eq!(history.after(Some(57)).len(), 2);
        assert_eq!(history.after(Some(0)).len(), 1);
    }

    #[test]
    fn a_mirror_follows_on_and_starts_again_after_a_restart() {
        let source = History::default();
        let mirror = History::default();
        for tick in 0..5 {
            source.record(reading(tick), tick);
        }
        mirror.extend(&source.after(mirror.last_seq()));
        source.record(reading(5), 5);
        mirror.extend(&source.after(mirror.last_seq()));
        assert_eq!(mirror.after(None), source.after(None));

        let restarted = History::default();
        restarted.record(reading(9), 9);
        mirror.extend(&restarted.after(mirror.last_seq()));
        assert_eq!(mirror.after(None), restarted.after(None));
    }

    #[test]
    fn the_thread_samples_until_the_history_is_dropped() {
        let history = History::sampled(|| Some(reading(7)));
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while history.after(None).is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        assert_eq!(history.after(None)[0].read.tasks, 7);
    }
}
