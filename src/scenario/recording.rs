//! What one scenario recorded in the demo, and what it shows by the one
//! rule of `verdict.rs`.

use crate::scenario::verdict::{Counts, LEAK_SLACK, Stretch, Verdict};

/// What one scenario recorded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recording {
    /// The counts `/forward` reported with each answer, in order.
    pub(crate) per_request: Vec<Counts>,
    /// Each role's own count from `/hello` after the idle wait.
    pub(crate) after_idle: Counts,
}

/// The fewest requests a scenario can be judged on: with fewer, a leak
/// need not gain a single task beyond [`LEAK_SLACK`], and any count, a
/// flat one too, reads as one (`demo --requests 4` read `leaks` for
/// `DISABLE_KEEP_ALIVES=true`). At this many every scenario read as its
/// entry promises, twice each.
pub(crate) const FEWEST_REQUESTS: usize = LEAK_SLACK + 2;

impl Recording {
    /// Tasks added per request on each role, from the first answer to the
    /// last: (server 2, server 1).
    pub(crate) fn slope(&self) -> (f64, f64) {
        self.stretch().per_request()
    }

    /// The highest count each role reported, the idle sample included.
    pub(crate) fn peak(&self) -> Counts {
        self.per_request
            .iter()
            .chain([&self.after_idle])
            .copied()
            .fold(Counts::default(), Counts::max)
    }

    /// The rule behind the table's last column.
    pub(crate) fn verdict(&self) -> Verdict {
        self.stretch().verdict()
    }

    /// The requests from the first answer to the last, then the idle wait.
    fn stretch(&self) -> Stretch {
        let (Some(&first), Some(&last)) = (self.per_request.first(), self.per_request.last())
        else {
            return Stretch::quiet(self.after_idle);
        };
        Stretch {
            first,
            last,
            requests: self.per_request.len() - 1,
            now: self.after_idle,
            peak: self.peak(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::verdict::Expectation;

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
            per_request: rising(100, 1),
            after_idle: counts(102, 102),
        };
        assert_eq!(recording.slope(), (1.0, 1.0));
        assert_eq!(recording.verdict(), Verdict::Leaks);
    }

    #[test]
    fn a_leak_that_drains_when_idle_is_reclaimed_not_leaked() {
        let recording = Recording {
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
            per_request,
            after_idle: counts(102, 2),
        };
        assert_eq!(recording.verdict(), Verdict::Unexplained);
    }

    #[test]
    fn counts_under_eight_throughout_are_flat() {
        let recording = Recording {
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
            per_request,
            after_idle: counts(60, 60),
        };
        assert_eq!(recording.verdict(), Verdict::Unexplained);
    }

    #[test]
    fn nothing_recorded_is_not_a_leak() {
        let recording = Recording {
            per_request: Vec::new(),
            after_idle: counts(2, 2),
        };
        assert_eq!(recording.slope(), (0.0, 0.0));
        assert_eq!(recording.verdict(), Verdict::Flat);
    }
}
