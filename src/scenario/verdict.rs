//! What a scenario's numbers say, and whether that is what it should say:
//! the one rule (`Stretch::verdict`), which the demo's recordings
//! (`recording.rs`) and the dashboard's window (`seen.rs`) both read by.

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
    /// `before`, give or take `LEAK_SLACK`: the leak.
    pub fn leaked_since(self, before: Counts, requests: usize) -> bool {
        let gained = requests.saturating_sub(LEAK_SLACK);
        self.server2 >= before.server2 + gained && self.server1 >= before.server1 + gained
    }
}

/// Under this many tasks a role holds nothing leaked: the connection being
/// answered, the one to server 1 until its task sees the close, and room
/// for a closing connection whose task has not run yet.
pub const FLAT_BELOW: usize = 8;

/// A leak adds exactly one task per request on each role; this many fewer
/// still count as a leak, for the first requests, which may race the count
/// they report.
pub(crate) const LEAK_SLACK: usize = 3;

/// What a recording shows, spelled one way ([`Verdict::word`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Verdict {
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
        f.write_str(self.word())
    }
}

impl Verdict {
    /// Its one spelling, serde's, wherever it shows: the demo's table and
    /// chart, the page, the JSON: `leaks`, `flat`, `reclaimed-after-idle`
    /// or `unexplained`.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Verdict::Leaks => "leaks",
            Verdict::Flat => "flat",
            Verdict::ReclaimedAfterIdle => "reclaimed-after-idle",
            Verdict::Unexplained => "unexplained",
        }
    }
}

/// What a scenario should show, spelled as the verdict that meets it.
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl Expectation {
    /// The spelling of the verdict that meets it best, serde's.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Expectation::Leaks => Verdict::Leaks,
            Expectation::Flat => Verdict::Flat,
            Expectation::ReclaimedAfterIdle => Verdict::ReclaimedAfterIdle,
        }
        .word()
    }

    pub(crate) fn met_by(self, verdict: Verdict) -> bool {
        match self {
            Expectation::Leaks => verdict == Verdict::Leaks,
            Expectation::Flat => verdict == Verdict::Flat,
            Expectation::ReclaimedAfterIdle => {
                matches!(verdict, Verdict::ReclaimedAfterIdle | Verdict::Flat)
            }
        }
    }
}

/// Both roles' counts over a stretch of requests and after it: what every
/// verdict is read from, the demo's table's and the dashboard's alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stretch {
    /// When the first request was answered.
    pub(crate) first: Counts,
    /// When the last was.
    pub(crate) last: Counts,
    /// Requests from the first to the last.
    pub(crate) requests: usize,
    /// Now, some time after the last.
    pub(crate) now: Counts,
    /// The highest count each role had over the stretch and since.
    pub(crate) peak: Counts,
}

impl Stretch {
    /// No requests, and these counts.
    pub(crate) fn quiet(now: Counts) -> Stretch {
        Stretch {
            first: now,
            last: now,
            requests: 0,
            now,
            peak: now,
        }
    }

    /// The rule: a task gained per request on both roles, and kept, is a
    /// leak; counts that never reached [`FLAT_BELOW`] are flat; counts that
    /// rose and are back under it are reclaimed.
    pub(crate) fn verdict(&self) -> Verdict {
        let leaked_and_kept = self.requests > 0
            && self.last.leaked_since(self.first, self.requests)
            && self.now.leaked_since(self.first, self.requests);
        if leaked_and_kept {
            Verdict::Leaks
        } else if self.peak.is_flat() {
            Verdict::Flat
        } else if self.now.is_flat() {
            Verdict::ReclaimedAfterIdle
        } else {
            Verdict::Unexplained
        }
    }

    /// Tasks gained per request on each role, from the first to the last:
    /// (server 2, server 1). Zero without requests.
    pub(crate) fn per_request(&self) -> (f64, f64) {
        let steps = self.requests.max(1) as f64;
        let rise = |from: usize, to: usize| (to as f64 - from as f64) / steps;
        (
            rise(self.first.server2, self.last.server2),
            rise(self.first.server1, self.last.server1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_is_spelled_one_way_in_json_and_in_text() {
        let verdicts = [
            Verdict::Leaks,
            Verdict::Flat,
            Verdict::ReclaimedAfterIdle,
            Verdict::Unexplained,
        ];
        for verdict in verdicts {
            let json = serde_json::to_string(&verdict).expect("JSON");
            assert_eq!(json, format!("\"{verdict}\""));
        }
        let expectations = [
            Expectation::Leaks,
            Expectation::Flat,
            Expectation::ReclaimedAfterIdle,
        ];
        for expectation in expectations {
            let json = serde_json::to_string(&expectation).expect("JSON");
            assert_eq!(json, format!("\"{expectation}\""));
        }
    }

    fn counts(server2: usize, server1: usize) -> Counts {
        Counts { server2, server1 }
    }

    #[test]
    fn a_leak_may_miss_at_most_the_slack() {
        let before = counts(2, 1);
        assert!(counts(102, 101).leaked_since(before, 100));
        assert!(counts(99, 98).leaked_since(before, 100));
        assert!(!counts(98, 101).leaked_since(before, 100), "server 2 short");
        assert!(!counts(102, 97).leaked_since(before, 100), "server 1 short");
    }
}
