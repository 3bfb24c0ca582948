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
    /// `before`, give or take `LEAK_SLACK`: the leak.
    pub fn leaked_since(self, before: Counts, requests: usize) -> bool {
        let gained = requests.saturating_sub(LEAK_SLACK);
        self.server2 >= before.server2 + gained && self.server1 >= before.server1 + gained
    }
}

/// What one scenario recorded.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Recording {
    /// The counts `/forward` reported with each answer, in order.
    pub(crate) per_request: Vec<Counts>,
    /// Each role's own count from `/hello` after the idle wait.
    pub(crate) after_idle: Counts,
}

/// Under this many tasks a role holds nothing leaked: the connection being
/// answered, the one to server 1 until its task sees the close, and room
/// for a closing connection whose task has not run yet.
pub const FLAT_BELOW: usize = 8;

/// A leak adds exactly one task per request on each role; this many fewer
/// still count as a leak, for the first requests, which may race the count
/// they report.
pub(crate) const LEAK_SLACK: usize = 3;

/// The fewest requests a scenario can be judged on: with fewer, a leak
/// need not gain a single task beyond [`LEAK_SLACK`], and any count, a
/// flat one too, reads as one (`demo --requests 4` read `leaks` for
/// `DISABLE_KEEP_ALIVES=true`). At this many every scenario read as its
/// entry promises, twice each.
pub(crate) const FEWEST_REQUESTS: usize = LEAK_SLACK + 2;

/// What a recording shows. On the wire (`/watch`), by its
/// [`class`](Verdict::class).
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
        f.write_str(self.words())
    }
}

impl Verdict {
    /// Its name in words: `leaks`, `flat`, `reclaimed after idle` or
    /// `unexplained`.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Verdict::Leaks => "leaks",
            Verdict::Flat => "flat",
            Verdict::ReclaimedAfterIdle => "reclaimed after idle",
            Verdict::Unexplained => "unexplained",
        }
    }

    /// Its name in one word, for a CSS class: `leaks`, `flat`,
    /// `reclaimed-after-idle` or `unexplained`.
    pub(crate) fn class(self) -> &'static str {
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.words())
    }
}

impl Expectation {
    /// The words of the verdict that meets it best.
    pub(crate) fn words(self) -> &'static str {
        match self {
            Expectation::Leaks => Verdict::Leaks,
            Expectation::Flat => Verdict::Flat,
            Expectation::ReclaimedAfterIdle => Verdict::ReclaimedAfterIdle,
        }
        .words()
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
    fn quiet(now: Counts) -> Stretch {
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

/// One role of a watched pair at one moment: the requests it has served so
/// far (server 2's `/forward`s, server 1's `/hello`s) and its task count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Point {
    pub(crate) requests: u64,
    pub(crate) tasks: usize,
}

/// The fewest requests a watched pair's verdict is read over...
pub(crate) const MIN_REQUESTS: u64 = 20;
/// ... and the most: its last this many, when there are that many.
pub(crate) const WINDOW_REQUESTS: u64 = 100;

/// What a watched pair's counts showed over its last requests: the
/// dashboard's badge and per-request figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub(crate) struct Seen {
    /// The verdict; `None` while requests still come and the counts fit
    /// no verdict yet: a fix that reclaims holds connections until they
    /// idle.
    pub(crate) verdict: Option<Verdict>,
    /// The same in words.
    pub(crate) words: &'static str,
    /// How many requests it was read over.
    pub(crate) requests: u64,
    /// Tasks gained per request: server 2's, server 1's.
    pub(crate) per_request: (f64, f64),
}

impl Seen {
    /// Reads each role's points, oldest first, with the rule of
    /// [`Stretch`], over server 2's last [`WINDOW_REQUESTS`] requests (or
    /// all there are, at least [`MIN_REQUESTS`]): from the point before the
    /// first of them to the point the last was in, then to the newest.
    ///
    /// Server 1 is read over as many of its own last requests, so that the
    /// two roles' points need not have been taken at the same moments (each
    /// server samples on its own clock's second): its count where the
    /// window starts lies between two of its points, and is read on the
    /// straight line through them, which a leak of one task per request
    /// follows exactly. `None` when either role has too few points.
    pub(crate) fn over(server2: &[Point], server1: &[Point]) -> Option<Seen> {
        let (newest2, newest1) = (server2.last()?, server1.last()?);
        let first2 = server2
            .iter()
            .rposition(|p| p.requests + WINDOW_REQUESTS <= newest2.requests)
            .unwrap_or(0);
        let requests = newest2.requests - server2[first2].requests;
        if requests < MIN_REQUESTS {
            return None;
        }
        let last2 = server2
            .iter()
            .position(|p| p.requests == newest2.requests)?;
        let (first1, from1) = tasks_at(server1, newest1.requests.checked_sub(requests)?)?;
        let last1 = server1
            .iter()
            .position(|p| p.requests == newest1.requests)?;
        let peak = |points: &[Point]| points.iter().map(|p| p.tasks).max().unwrap_or(0);
        let stretch = Stretch {
            first: Counts {
                server2: server2[first2].tasks,
                server1: first1,
            },
            last: Counts {
                server2: server2[last2].tasks,
                server1: server1[last1].tasks,
            },
            requests: usize::try_from(requests).unwrap_or(usize::MAX),
            now: Counts {
                server2: newest2.tasks,
                server1: newest1.tasks,
            },
            peak: Counts {
                server2: peak(&server2[first2..]),
                server1: peak(&server1[from1..]),
            },
        };
        let still_coming = last2 + 1 == server2.len();
        let (verdict, words) = match stretch.verdict() {
            Verdict::Unexplained if still_coming => (None, "measuring"),
            verdict => (Some(verdict), verdict.words()),
        };
        Some(Seen {
            verdict,
            words,
            requests,
            per_request: stretch.per_request(),
        })
    }
}

/// A role's task count when it had served `requests`, on the line between
/// its points on either side, and the index of the earlier one; `None`
/// when its points start after it.
fn tasks_at(points: &[Point], requests: u64) -> Option<(usize, usize)> {
    let after = points.iter().position(|p| p.requests >= requests)?;
    let later = points[after];
    if later.requests == requests {
        return Some((later.tasks, after));
    }
    let earlier = points[after.checked_sub(1)?];
    let part = (requests - earlier.requests) as f64 / (later.requests - earlier.requests) as f64;
    let tasks = earlier.tasks as f64 + part * (later.tasks as f64 - earlier.tasks as f64);
    Some((tasks.round() as usize, after - 1))
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
            per_request: Vec::new(),
            after_idle: counts(2, 2),
        };
        assert_eq!(recording.slope(), (0.0, 0.0));
        assert_eq!(recording.verdict(), Verdict::Flat);
    }

    /// Points a second apart: `requests` so far and the count at each.
    fn points(points: &[(u64, usize)]) -> Vec<Point> {
        points
            .iter()
            .map(|&(requests, tasks)| Point { requests, tasks })
            .collect()
    }

    #[test]
    fn a_watched_leak_reads_one_task_per_request_over_the_last_hundred() {
        // 60 requests a second for five seconds, each keeping a task on
        // both; server 1 samples half a second later than server 2.
        let server2: Vec<_> = (0..=5u64).map(|s| (s * 60, 3 + s as usize * 60)).collect();
        let server1: Vec<_> = (0..=5u64)
            .map(|s| (s * 60 + 30, 32 + s as usize * 60))
            .chain([(300, 302)])
            .collect();
        let seen = Seen::over(&points(&server2), &points(&server1)).expect("enough requests");
        assert_eq!(seen.verdict, Some(Verdict::Leaks));
        // From the point at 180 requests (the newest 100 or more back).
        assert_eq!(seen.requests, 120);
        assert_eq!(seen.per_request, (1.0, 1.0));
    }

    #[test]
    fn a_watched_reclaiming_fix_is_measuring_while_requests_come_then_reclaimed() {
        let server1 = points(&[(0, 2), (60, 62), (120, 62), (120, 2)]);
        let coming = points(&[(0, 3), (60, 63), (120, 63)]);
        let seen = Seen::over(&coming, &server1[..3]).expect("enough requests");
        assert_eq!((seen.verdict, seen.words), (None, "measuring"));
        let idle = points(&[(0, 3), (60, 63), (120, 63), (120, 3)]);
        let seen = Seen::over(&idle, &server1).expect("enough requests");
        assert_eq!(seen.verdict, Some(Verdict::ReclaimedAfterIdle));
    }

    #[test]
    fn too_few_requests_or_points_read_nothing() {
        let server1 = points(&[(0, 2), (20, 2)]);
        assert_eq!(Seen::over(&points(&[(0, 3), (19, 3)]), &server1), None);
        assert_eq!(Seen::over(&[], &server1), None);
        let started_late = points(&[(10, 2), (20, 2)]);
        assert_eq!(Seen::over(&points(&[(0, 3), (20, 3)]), &started_late), None);
        let seen = Seen::over(&points(&[(0, 3), (20, 3)]), &server1).expect("twenty");
        assert_eq!(
            (seen.verdict, seen.per_request),
            (Some(Verdict::Flat), (0.0, 0.0))
        );
    }
}
