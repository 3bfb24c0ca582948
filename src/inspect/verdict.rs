//! The rule that names what a row's connections are doing.
//!
//! The leak's signature, whatever the language: connections to one peer
//! that each carried one exchange and then sat idle, more of them as
//! requests go on. `tcp_info` shows both halves: a connection's data
//! segments each way (one out and one in for a request and its answer)
//! and the time since data last went either way.
//!
//! In order, a row:
//! - `leaks` when its idle connections used once number at least
//!   `standing`, or have grown by at least `growth` since the fewest the
//!   watch saw;
//! - `watching` until the watch has lasted `--idle`, the time a
//!   connection opened after it began needs to be seen idle;
//! - `closing` when more connections were seen gone than are open now:
//!   they end after use;
//! - `pool` otherwise: a bounded set, reused, or idle between bursts.
//!
//! A pool's connections carry many exchanges each, so a busy pool, or one
//! at rest after a burst, never counts towards `leaks`, however large.

use std::time::Duration;

use serde::Serialize;

/// At most this many data segments each way: one exchange, a request and
/// its answer, written in a write or two each.
pub const ONE_EXCHANGE_SEGMENTS: u32 = 4;

/// What a row's connections are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Watching,
    Leaks,
    Pool,
    Closing,
}

impl Verdict {
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Watching => "watching",
            Verdict::Leaks => "leaks",
            Verdict::Pool => "pool",
            Verdict::Closing => "closing",
        }
    }
}

/// The rule's two thresholds and the idle time.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    /// Idle connections used once that amount to a leak on their own.
    pub standing: usize,
    /// Growth in idle connections used once, during the watch, that
    /// amounts to a leak.
    pub growth: usize,
    /// No data either way for this long makes a connection idle.
    pub idle_after: Duration,
}

/// What the watch has seen of one row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Evidence {
    pub open: usize,
    pub idle_used_once: usize,
    /// The fewest idle connections used once at any sample of the watch.
    pub fewest_idle_used_once: usize,
    pub gone: u64,
    pub watched: Duration,
}

impl Rule {
    pub fn judge(&self, seen: &Evidence) -> Verdict {
        let grown = seen.idle_used_once - seen.fewest_idle_used_once.min(seen.idle_used_once);
        if seen.idle_used_once >= self.standing || grown >= self.growth {
            Verdict::Leaks
        } else if seen.watched < self.idle_after {
            Verdict::Watching
        } else if seen.gone > seen.open as u64 {
            Verdict::Closing
        } else {
            Verdict::Pool
        }
    }
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// The rule with `inspect`'s defaults, for the tests of the watch too.
    pub const RULE: Rule = Rule {
        standing: 20,
        growth: 5,
        idle_after: Duration::from_secs(5),
    };

    fn after(seconds: u64, evidence: Evidence) -> Verdict {
        RULE.judge(&Evidence {
            watched: Duration::from_secs(seconds),
            ..evidence
        })
    }

    #[test]
    fn many_idle_connections_used_once_leak_at_once() {
        let seen = Evidence {
            open: 400,
            idle_used_once: 400,
            fewest_idle_used_once: 400,
            ..Evidence::default()
        };
        assert_eq!(after(0, seen), Verdict::Leaks);
    }

    #[test]
    fn a_few_that_keep_coming_leak_once_they_have_grown_enough() {
        let seen = Evidence {
            open: 8,
            idle_used_once: 8,
            fewest_idle_used_once: 4,
            ..Evidence::default()
        };
        assert_eq!(after(10, seen), Verdict::Pool);
        let seen = Evidence {
            fewest_idle_used_once: 3,
            ..seen
        };
        assert_eq!(after(10, seen), Verdict::Leaks);
    }

    #[test]
    fn nothing_else_is_said_before_the_idle_time_has_passed() {
        let seen = Evidence {
            open: 8,
            ..Evidence::default()
        };
        assert_eq!(after(4, seen), Verdict::Watching);
        assert_eq!(after(5, seen), Verdict::Pool);
    }

    #[test]
    fn connections_that_end_after_use_are_closing() {
        let seen = Evidence {
            open: 8,
            gone: 9,
            ..Evidence::default()
        };
        assert_eq!(after(5, seen), Verdict::Closing);
        let all_gone = Evidence {
            open: 0,
            gone: 400,
            ..Evidence::default()
        };
        assert_eq!(after(5, all_gone), Verdict::Closing);
    }
}
