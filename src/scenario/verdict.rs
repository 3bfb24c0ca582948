//! What a scenario's numbers say, and whether that is what it should say.

use std::fmt;

/// Both roles' task counts at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub server2: usize,
    pub server1: usize,
}

impl Counts {
    /// Each role's higher count of the two.
    pub fn max(self, other: Counts) -> Counts {
        Counts {
            server2: self.server2.max(other.server2),
            server1: self.server1.max(other.server1),
        }
    }

    /// Whether both roles are under [`FLAT_BELOW`]: nothing leaked.
    pub fn is_flat(self) -> bool {
        self.server2 < FLAT_BELOW && self.server1 < FLAT_BELOW
    }

    /// Whether both roles gained a task for each of `requests` since
    /// `before`, give or take [`LEAK_SLACK`]: the leak.
    pub fn leaked_since(self, before: Counts, requests: usize) -> bool {
        let gained = requests.saturating_sub(LEAK_SLACK);
        self.server2 >= before.server2 + gained && self.server1 >= before.server1 + gained
    }
}

/// What one scenario recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// The counts `/forward` reported with each answer, in order.
    pub per_request: Vec<Counts>,
    /// Each role's own count from `/hello` after the idle wait.
    pub after_idle: Counts,
    /// Connections open on server 1, seen from its side: the leak as its
    /// `http_server_open_connections` shows it.
    pub server1_connections: OpenConnections,
}

/// Inbound connections open on a server, not counting the scrape's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OpenConnections {
    pub after_requests: usize,
    pub after_idle: usize,
}

/// Under this many tasks a role holds nothing leaked: the connection being
/// answered, the one to server 1 until its task sees the close, and room
/// for a closing connection whose task has not run yet.
pub const FLAT_BELOW: usize = 8;

/// A leak adds exactly one task per request on each role; this many fewer
/// still count as a leak, for the first requests, which may race the count
/// they report.
pub const LEAK_SLACK: usize = 3;

/// What a recording shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Both roles gained a task per request and kept them.
    Leaks,
    /// Both roles stayed under [`FLAT_BELOW`] throughout.
    Flat,
    /// Counts rose, then fell back under [`FLAT_BELOW`] once idle.
    ReclaimedAfterIdle,
    /// None of the above: something the demo does not expect.
    Unexplained,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Leaks => "leaks",
            Verdict::Flat => "flat",
            Verdict::ReclaimedAfterIdle => "reclaimed after idle",
            Verdict::Unexplained => "unexplained",
        })
    }
}

impl Verdict {
    /// Its name in one word, for a CSS class: `leaks`, `flat`,
    /// `reclaimed-after-idle` or `unexplained`.
    pub fn class(self) -> &'static str {
        match self {
            Verdict::Leaks => "leaks",
            Verdict::Flat => "flat",
            Verdict::ReclaimedAfterIdle => "reclaimed-after-idle",
            Verdict::Unexplained => "unexplained",
        }
    }
}

/// What a scenario should show. On the wire (`/watch`), `leaks`, `flat`
/// or `reclaimed-after-idle`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Expectation {
    Leaks,
    Flat,
    /// Back under [`FLAT_BELOW`] after the idle wait. A short run may never
    /// rise above it, so flat passes too.
    ReclaimedAfterIdle,
}

impl fmt::Display for Expectation {
    /// The verdict that meets it best, in the same words.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = match self {
            Expectation::Leaks => Verdict::Leaks,
            Expectation::Flat => Verdict::Flat,
            Expectation::ReclaimedAfterIdle => Verdict::ReclaimedAfterIdle,
        };
        verdict.fmt(f)
    }
}

impl Expectation {
    pub fn met_by(self, verdict: Verdict) -> bool {
        match self {
            Expectation::Leaks => verdict == Verdict::Leaks,
            Expectation::Flat => verdict == Verdict::Flat,
            Expectation::ReclaimedAfterIdle => {
                matches!(verdict, Verdict::ReclaimedAfterIdle | Verdict::Flat)
            }
        }
    }
}

impl Recording {
    /// Tasks added per request on each role, from the first answer to the
    /// last: (server 2, server 1).
    pub fn slope(&self) -> (f64, f64) {
        let (Some(first), Some(last)) = (self.per_request.first(), self.per_request.last()) else {
            return (0.0, 0.0);
        };
        let steps = self.per_request.len().saturating_sub(1).max(1) as f64;
        let rise = |from: usize, to: usize| (to as f64 - from as f64) / steps;
        (
            rise(first.server2, last.server2),
            rise(first.server1, last.server1),
        )
    }

    /// The highest count each role reported, the idle sample included.
    pub fn peak(&self) -> Counts {
        self.per_request
            .iter()
            .chain([&self.after_idle])
            .copied()
            .fold(Counts::default(), Counts::max)
    }

    /// The rule behind the table's last column.
    pub fn verdict(&self) -> Verdict {
        let first = self.per_request.first().copied().unwrap_or_default();
        let last = self.per_request.last().copied().unwrap_or_default();
        let requests = self.per_request.len().saturating_sub(1);
        let leaked_and_kept = !self.per_request.is_empty()
            && last.leaked_since(first, requests)
            && self.after_idle.leaked_since(first, requests);
        if leaked_and_kept {
            Verdict::Leaks
        } else if self.peak().is_flat() {
            Verdict::Flat
        } else if self.after_idle.is_flat() {
            Verdict::ReclaimedAfterIdle
        } else {
            Verdict::Unexplained
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(server2: usize, server1: usize) -> Counts {
        Counts { server2, server1 }
    }

    /// Counts that rise by `step` per request on both roles from 3 / 2.
    fn rising(requests: usize, step: usize) -> Vec<Counts> {
        (0..requests)
            .map(|i| counts(3 + i * step, 2 + i * step))
            .collect()
    }

    #[test]
    fn one_task_per_request_kept_after_idle_leaks() {
        let recording = Recording {
            server1_connections: OpenConnections::default(),
            per_request: rising(100, 1),
            after_idle: counts(102, 102),
        };
        assert_eq!(recording.slope(), (1.0, 1.0));
        assert_eq!(recording.verdict(), Verdict::Leaks);
    }

    #[test]
    fn a_leak_that_drains_when_idle_is_reclaimed_not_leaked() {
        let recording = Recording {
            server1_connections: OpenConnections::default(),
            per_request: rising(100, 1),
            after_idle: counts(2, 2),
        };
        assert_eq!(recording.verdict(), Verdict::ReclaimedAfterIdle);
        assert!(Expectation::ReclaimedAfterIdle.met_by(recording.verdict()));
        assert!(!Expectation::Leaks.met_by(recording.verdict()));
    }

    #[test]
    fn a_leak_on_one_side_only_is_unexplained() {
        let per_request = (0..100).map(|i| counts(3 + i, 2)).collect();
        let recording = Recording {
            server1_connections: OpenConnections::default(),
            per_request,
            after_idle: counts(102, 2),
        };
        assert_eq!(recording.verdict(), Verdict::Unexplained);
    }

    #[test]
    fn counts_under_eight_throughout_are_flat() {
        let recording = Recording {
            server1_connections: OpenConnections::default(),
            per_request: vec![counts(3, 2), counts(7, 7), counts(3, 2)],
            after_idle: counts(2, 2),
        };
        assert_eq!(recording.verdict(), Verdict::Flat);
        assert!(Expectation::Flat.met_by(Verdict::Flat));
        assert!(Expectation::ReclaimedAfterIdle.met_by(Verdict::Flat));
        assert!(!Expectation::Leaks.met_by(Verdict::Flat));
    }

    #[test]
    fn eight_is_not_flat() {
        let recording = Recording {
            server1_connections: OpenConnections::default(),
            per_request: vec![counts(3, 2), counts(8, 2)],
            after_idle: counts(2, 2),
        };
        assert_eq!(recording.verdict(), Verdict::ReclaimedAfterIdle);
        assert!(!Expectation::Flat.met_by(recording.verdict()));
    }

    #[test]
    fn slower_growth_than_a_task_per_request_is_not_a_leak() {
        let per_request = (0..100).map(|i| counts(3 + i / 2, 2 + i / 2)).collect();
        let recording = Recording {
            server1_connections: OpenConnections::default(),
            per_request,
            after_idle: counts(60, 60),
        };
        assert_eq!(recording.verdict(), Verdict::Unexplained);
    }

    #[test]
    fn a_leak_may_miss_at_most_the_slack() {
        let before = counts(2, 1);
        assert!(counts(102, 101).leaked_since(before, 100));
        assert!(counts(99, 98).leaked_since(before, 100));
        assert!(!counts(98, 101).leaked_since(before, 100), "server 2 short");
        assert!(!counts(102, 97).leaked_since(before, 100), "server 1 short");
    }

    #[test]
    fn nothing_recorded_is_not_a_leak() {
        let recording = Recording {
            server1_connections: OpenConnections::default(),
            per_request: Vec::new(),
            after_idle: counts(2, 2),
        };
        assert_eq!(recording.slope(), (0.0, 0.0));
        assert_eq!(recording.verdict(), Verdict::Flat);
    }
}
