//! What a watched pair's counts showed over its last requests, read from
//! both servers' histories by the one rule of `verdict.rs`: the
//! dashboard's badge.

use crate::scenario::verdict::{Counts, Stretch, Verdict};

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
        let verdict = match stretch.verdict() {
            Verdict::Unexplained if still_coming => None,
            verdict => Some(verdict),
        };
        Some(Seen {
            verdict,
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
        assert_eq!(seen.verdict, None, "measuring");
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
