//! Repeated log lines, summarised: when the same failure comes again and
//! again (every request of a load against a server out of descriptors),
//! one line a second for each kind, saying how many were left out since
//! the last one.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// How long after a line of one kind the next may come.
const WINDOW: Duration = Duration::from_secs(1);

/// The last line of each kind, and what was left out since.
#[derive(Debug)]
pub struct Repeats<K> {
    kinds: Mutex<Vec<(K, Window)>>,
}

#[derive(Debug, Clone, Copy)]
struct Window {
    logged_at: Instant,
    left_out: u64,
}

impl<K: PartialEq> Repeats<K> {
    pub const fn new() -> Self {
        Repeats {
            kinds: Mutex::new(Vec::new()),
        }
    }

    /// Whether a line of `kind` may be written `now`: `Some` with how many
    /// of its kind were left out before it, or `None` to leave it out.
    pub fn admit(&self, kind: K, now: Instant) -> Option<u64> {
        let mut kinds = self.kinds.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((_, window)) = kinds.iter_mut().find(|(known, _)| *known == kind) else {
            kinds.push((
                kind,
                Window {
                    logged_at: now,
                    left_out: 0,
                },
            ));
            return Some(0);
        };
        if now.saturating_duration_since(window.logged_at) < WINDOW {
            window.left_out += 1;
            return None;
        }
        let left_out = window.left_out;
        *window = Window {
            logged_at: now,
            left_out: 0,
        };
        Some(left_out)
    }
}

impl<K: PartialEq> Default for Repeats<K> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_a_second_per_kind_with_the_count_left_out() {
        let repeats = Repeats::new();
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
}
