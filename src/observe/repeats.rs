//! Repeated log lines, summarised: when the same failure comes again and
//! again (every request of a load against a server out of descriptors),
//! one line a second for each kind, saying how many were left out since
//! the last one. When a flood stops, a closing line says how many were
//! left out after the last line, within about a second, so that the
//! counts of the lines add up to the failures. A thread of its own writes
//! it (not a task: the task count is the demo's subject), and ends when
//! nothing is left to say.

use std::fmt::Debug;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

/// How long after a line of one kind the next may come.
const WINDOW: Duration = Duration::from_secs(1);

/// The last line of each kind, and what was left out since.
#[derive(Debug)]
pub(crate) struct Repeats<K: 'static> {
    kinds: Mutex<Kinds<K>>,
    /// Writes a closing line: the kind, and how many were left out.
    close: fn(&K, u64),
}

#[derive(Debug)]
struct Kinds<K> {
    windows: Vec<(K, Window)>,
    /// Whether the thread that writes closing lines runs.
    closing: bool,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    logged_at: Instant,
    left_out: u64,
    /// When the last one of its kind came, logged or not.
    last_at: Instant,
}

impl<K: PartialEq + Copy + Debug + Send + Sync> Repeats<K> {
    /// Lines of each kind, at most one a second; `close` writes the line
    /// that ends a flood.
    pub(crate) const fn new(close: fn(&K, u64)) -> Self {
        Repeats {
            kinds: Mutex::new(Kinds {
                windows: Vec::new(),
                closing: false,
            }),
            close,
        }
    }

    /// Whether a line of `kind` may be written `now`: `Some` with how many
    /// of its kind were left out before it, or `None` to leave it out.
    pub(crate) fn admit(&'static self, kind: K, now: Instant) -> Option<u64> {
        let mut kinds = self.lock();
        let Some((_, window)) = kinds.windows.iter_mut().find(|(known, _)| *known == kind) else {
            kinds.windows.push((
                kind,
                Window {
                    logged_at: now,
                    left_out: 0,
                    last_at: now,
                },
            ));
            return Some(0);
        };
        window.last_at = now;
        if now.saturating_duration_since(window.logged_at) < WINDOW {
            window.left_out += 1;
            if !kinds.closing {
                kinds.closing = thread::Builder::new()
                    .name("log-repeats".to_owned())
                    .spawn(move || self.write_closing_lines())
                    .is_ok();
            }
            return None;
        }
        let left_out = window.left_out;
        *window = Window {
            logged_at: now,
            left_out: 0,
            last_at: now,
        };
        Some(left_out)
    }
}

impl<K: PartialEq + Copy + Debug + Send + Sync> Repeats<K> {
    /// Each window that closes with lines left out, and none of its kind
    /// for a quarter of a second (the flood has stopped; one still going
    /// gets its next line from `admit`), gets its closing line; ends when
    /// no window has any.
    fn write_closing_lines(&self) {
        loop {
            thread::sleep(WINDOW / 4);
            let now = Instant::now();
            let (closed, pending) = {
                let mut kinds = self.lock();
                let closed: Vec<(K, u64)> = kinds
                    .windows
                    .iter_mut()
                    .filter(|(_, window)| {
                        window.left_out > 0
                            && now.saturating_duration_since(window.logged_at) >= WINDOW
                            && now.saturating_duration_since(window.last_at) >= WINDOW / 4
                    })
                    .map(|(kind, window)| {
                        let left_out = std::mem::take(&mut window.left_out);
                        window.logged_at = now;
                        (*kind, left_out)
                    })
                    .collect();
                let pending = kinds.windows.iter().any(|(_, window)| window.left_out > 0);
                // From here a new flood starts a new thread.
                kinds.closing = pending;
                (closed, pending)
            };
            for (kind, left_out) in &closed {
                (self.close)(kind, *left_out);
            }
            if !pending {
                return;
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, Kinds<K>> {
        self.kinds.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ignore(_: &&str, _: u64) {}

    #[test]
    fn one_line_a_second_per_kind_with_the_count_left_out() {
        static REPEATS: Repeats<&str> = Repeats::new(ignore);
        let repeats = &REPEATS;
        let start = Instant::now();
        let at = |millis| start + Duration::from_millis(millis);
        assert_eq!(repeats.admit("a", at(0)), Some(0));
        assert_eq!(repeats.admit("b", at(1)), Some(0), "another kind");
        for millis in [2, 500, 999] {
            assert_eq!(repeats.admit("a", at(millis)), None);
        }
        assert_eq!(repeats.admit("a", at(1000)), Some(3));
        assert_eq!(repeats.admit("a", at(1500)), None);
        assert_eq!(repeats.admit("a", at(2600)), Some(1));
        assert_eq!(repeats.admit("b", at(2601)), Some(0));
    }

    static CLOSED: Mutex<Vec<(&str, u64)>> = Mutex::new(Vec::new());

    fn record(kind: &&'static str, left_out: u64) {
        CLOSED.lock().expect("the list").push((kind, left_out));
    }

    #[test]
    fn a_flood_that_stops_gets_a_closing_line_with_what_was_left_out() {
        static REPEATS: Repeats<&str> = Repeats::new(record);
        let now = Instant::now();
        assert_eq!(REPEATS.admit("flood", now), Some(0));
        for _ in 0..3 {
            assert_eq!(REPEATS.admit("flood", Instant::now()), None);
        }
        let deadline = Instant::now() + Duration::from_secs(3);
        while CLOSED.lock().expect("the list").is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(*CLOSED.lock().expect("the list"), [("flood", 3)]);
        // Then nothing is left out: the next line, a window on, says 0.
        assert_eq!(REPEATS.admit("flood", Instant::now() + WINDOW), Some(0));
    }
}
