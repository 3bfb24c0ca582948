//! The rule that names what a row's connections are doing, whole, each
//! part with the reason it is there.
//!
//! The leak's signature in any language: a connection per request (or per
//! few requests), used in one stretch right after it opened and never
//! again, while more of the same pile up at the pace of the traffic. The
//! rule reads it in two steps, from what the kernel's `tcp_info` shows of
//! each connection and what the watch saw between samples: which
//! connections were *used once* ([`Rule::used_once`]), and whether those of
//! a row make a *staircase* ([`Pile::is_staircase`]) rather than a cliff.
//!
//! Nothing here rests on a connection's size alone: answers of 1 MB, an
//! upload per request, TLS records and HTTP/2's frames all change how many
//! segments a connection carries, while a connection left behind after its
//! use looks the same in every language and protocol.
//!
//! What `tcp_info` cannot separate, the rule cannot either: streams or
//! websockets opened one by one and silent since, a pool that scaled up
//! over several seconds, or many clients behind one address arriving one
//! by one, each look like a leak; a leak made in one burst looks like a
//! scale-up. `docs/operators.md` lists them.

use std::time::Duration;

use serde::Serialize;

/// At most this many writes on the side that wrote less is one stretch of
/// use, as one sample can tell it, counted from each side's data segments
/// and bytes ([`Traffic::writes_sent`]). Every exchange on a connection
/// is a write or more each way, so a pool, which sends request after
/// request on each connection, has many on both sides (18 or more on every
/// pool connection measured), while a connection used for one request has
/// few on one side at least, whatever was sent the other way. Every leaked
/// connection measured made 1 to 6 there: a GET 1; three calls over TLS or
/// six over HTTP/1.1, 5 and 6; an HTTP/2 client per request, 4 and 5; an
/// upload per request over a 1500-byte MTU, 2 (its answer), where the
/// upload's own side made 2 or 3 writes from Python and 4 to 13 from Go's
/// `net/http` for 1 MB, a large write leaving a part-filled segment each
/// time the send queue ran dry. 8 sits between.
///
/// [`Traffic::writes_sent`]: super::tcp_info::Traffic::writes_sent
pub(crate) const FEW_WRITES: u32 = 8;

/// Requests sent within this much of each other went out in one burst: 50
/// calls at once left within 40 ms from Go and within 1 ms from Node, and
/// streams or websockets opened together alike, while a leak's connections
/// are asked for one request at a time. Six times the slowest burst seen,
/// for a loaded machine, and a quarter of [`SPREAD`].
pub(crate) const BURST: Duration = Duration::from_millis(250);

/// A staircase spans at least this much time: long enough that no burst,
/// even a slow one, passes for one, and short enough that a leak of one
/// request a second or faster shows it within seconds.
pub(crate) const SPREAD: Duration = Duration::from_secs(1);

/// What a row's connections are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RowVerdict {
    Watching,
    Leaks,
    Pool,
    Closing,
}

impl RowVerdict {
    pub(crate) fn word(self) -> &'static str {
        match self {
            RowVerdict::Watching => "watching",
            RowVerdict::Leaks => "leaks",
            RowVerdict::Pool => "pool",
            RowVerdict::Closing => "closing",
        }
    }
}

/// The rule's two thresholds and the idle time.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    /// Connections used once, in a staircase, that are a leak however old
    /// (`--leak-count`). Its default, 15: a leak of one connection every
    /// 4 s must read `leaks` by the time 15 stand, to a watch begun long
    /// after it did (a minute's pile of such a leak is 15). Every healthy
    /// shape measured, watched after its load ended, left its connections
    /// used once in one burst, one to a row, or none at all (a pool's are
    /// reused; a long poll's unanswered; streams, websockets and a
    /// scale-up opened at once are a burst of 25 to 46; 200 clients from
    /// 200 addresses are a row each), so none comes near 15 in a staircase. The price, in
    /// `docs/operators.md`: 15 streams or websockets opened one by one, and
    /// silent since, read `leaks` where 20 were needed before.
    pub(crate) standing: usize,
    /// Connections used once, asked for since the watch began and in a
    /// staircase, that are a leak growing now.
    pub(crate) growth: usize,
    /// No data either way for this long makes a connection idle.
    pub(crate) idle_after: Duration,
}

/// One open connection, as the rule reads it. The request side is what a
/// client sent (out on its row) or what a server received (in on its row);
/// the answer side is the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Usage {
    /// The writes of the side that wrote less, near enough
    /// ([`FEW_WRITES`]).
    pub(crate) fewest_writes: u32,
    pub(crate) answer_segments: u32,
    /// How long no data has gone either way.
    pub(crate) quiet: Duration,
    /// Whether the watch saw data move again after it had seen the
    /// connection idle.
    pub(crate) reused: bool,
    /// For a connection the watch saw open: the time from the sample before
    /// it was first seen to when it went quiet, the longest it can have
    /// been in use. `None` for one open when the watch began, or quiet
    /// since before (held by no descriptor of the process until then).
    pub(crate) stretch: Option<Duration>,
}

impl Rule {
    /// Whether a connection was used once and left: all four hold.
    pub(crate) fn used_once(&self, connection: &Usage) -> bool {
        // Idle: a connection in use is not left behind.
        let idle = connection.quiet >= self.idle_after;
        // Answered: a long poll, or any request still waiting, has carried
        // nothing on its answer side (0 for each of 25 long polls), while
        // every leaked connection carried its answer.
        let answered = connection.answer_segments > 0;
        // Never used again: a pool's connection is used after a pause, a
        // leaked one never is. Only a watch of two samples or more sees it.
        let not_reused = !connection.reused;
        // In one stretch: few writes on one side at least, as one sample
        // can tell; or, for a connection the watch saw open, quiet within
        // `--idle` of its opening, however it was written.
        let one_stretch = connection.fewest_writes <= FEW_WRITES
            || connection
                .stretch
                .is_some_and(|stretch| stretch < self.idle_after);
        idle && answered && not_reused && one_stretch
    }

    /// Whether a pile of connections used once is a leak: a staircase of
    /// `standing`, however old (all one sample can show), or a staircase of
    /// `growth` among those asked for since the watch began. The second
    /// counts those asked for up to `--idle` before it too: they were too
    /// fresh to be idle at its start, and so are part of what it saw grow.
    pub(crate) fn leaks(&self, pile: &Pile) -> bool {
        let fresh = -(self.idle_after.as_millis() as i64);
        pile.is_staircase(self.standing) || pile.asked_since(fresh).is_staircase(self.growth)
    }

    /// Whether the connections used once across a process's outbound rows
    /// are a leak, each row's pile given: only rows holding two or more
    /// count. A client shared by the process keeps at most one idle
    /// connection to a host it calls one request at a time, so a host
    /// holding two used once was given a new connection while one sat
    /// idle, which is what a client per request does (30 hosts, 4 each). A
    /// server's inbound rows are never added up: many clients each keeping
    /// one connection is how a server is used.
    pub(crate) fn leaks_across_peers<'a>(&self, piles: impl IntoIterator<Item = &'a Pile>) -> bool {
        let asked_at = piles
            .into_iter()
            .filter(|pile| pile.counts_across_peers())
            .flat_map(|pile| pile.asked_at.iter().copied())
            .collect();
        self.leaks(&Pile { asked_at })
    }

    /// The verdict of a row, in this order: `leaks`; `watching` until the
    /// watch has lasted `--idle`, the time a connection opened after it
    /// began needs to be seen idle; `closing` when more connections were
    /// seen gone than are open now, as when they end after use; else
    /// `pool`: a bounded set, reused, or idle after a burst.
    pub(crate) fn judge(&self, seen: &Evidence) -> RowVerdict {
        if self.leaks(&seen.used_once) {
            RowVerdict::Leaks
        } else if seen.watched < self.idle_after {
            RowVerdict::Watching
        } else if seen.gone > seen.open as u64 {
            RowVerdict::Closing
        } else {
            RowVerdict::Pool
        }
    }
}

/// What the watch has seen of one row.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Evidence {
    pub(crate) open: usize,
    pub(crate) gone: u64,
    pub(crate) watched: Duration,
    pub(crate) used_once: Pile,
}

/// The connections used once of a row, by when each was asked for: the
/// time its request side last carried data, in milliseconds from the start
/// of the watch (before it, negative). The request's time, not the
/// answer's, marks the pace of the traffic: a burst's requests leave
/// together even when a slow server answers them one after another (a
/// Python server answered 50 at once over 200 ms).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pile {
    pub(crate) asked_at: Vec<i64>,
}

impl Pile {
    pub(crate) fn len(&self) -> usize {
        self.asked_at.len()
    }

    /// Whether the pile counts towards a leak over many peers: two or
    /// more, as [`Rule::leaks_across_peers`] says why.
    pub(crate) fn counts_across_peers(&self) -> bool {
        self.asked_at.len() >= 2
    }

    /// The time between the first and the last asked for.
    pub(crate) fn spread(&self) -> Duration {
        let first = self.asked_at.iter().min();
        let last = self.asked_at.iter().max();
        match (first, last) {
            (Some(first), Some(last)) => Duration::from_millis(last.abs_diff(*first)),
            _ => Duration::ZERO,
        }
    }

    /// The most that were asked for within [`BURST`] of each other.
    pub(crate) fn largest_burst(&self) -> usize {
        largest_burst(&sorted(&self.asked_at)).1
    }

    /// Whether at least `count` were asked for one after another over
    /// [`SPREAD`] or more: a staircase, not a cliff. A burst that holds
    /// more than half of the pile is set aside first, and so on with the
    /// rest: a scale-up's connections used once went out together, and so
    /// did streams opened at once, while a leak's pile up one request at a
    /// time (so a leak beside a burst is still found, and a pile of one
    /// never is).
    pub(crate) fn is_staircase(&self, count: usize) -> bool {
        let mut times = sorted(&self.asked_at);
        loop {
            if times.len() < count {
                return false;
            }
            let (start, length) = largest_burst(&times);
            if 2 * length > times.len() {
                times.drain(start..start + length);
                continue;
            }
            let span = times.last().zip(times.first()).map(|(l, f)| l - f);
            return span.is_some_and(|span| span >= SPREAD.as_millis() as i64);
        }
    }

    /// Those asked for after `millis` from the start of the watch.
    pub(crate) fn asked_since(&self, millis: i64) -> Pile {
        Pile {
            asked_at: self
                .asked_at
                .iter()
                .copied()
                .filter(|at| *at > millis)
                .collect(),
        }
    }
}

fn sorted(times: &[i64]) -> Vec<i64> {
    let mut times = times.to_vec();
    times.sort_unstable();
    times
}

/// In sorted `times`: where the largest run within [`BURST`] starts, and
/// how many it holds.
fn largest_burst(times: &[i64]) -> (usize, usize) {
    let burst = BURST.as_millis() as i64;
    let mut largest = (0, 0);
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] > burst {
            start += 1;
        }
        if end + 1 - start > largest.1 {
            largest = (start, end + 1 - start);
        }
    }
    largest
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::inspect::args::STANDING;

    /// The rule with `inspect`'s defaults, for the tests of the watch too.
    pub(crate) const RULE: Rule = Rule {
        standing: STANDING as usize,
        growth: 5,
        idle_after: Duration::from_secs(5),
    };

    /// A leaked GET's connection, idle for a minute.
    pub(crate) const LEAKED: Usage = Usage {
        fewest_writes: 1,
        answer_segments: 1,
        quiet: Duration::from_secs(60),
        reused: false,
        stretch: None,
    };

    /// `count` asked for `every` milliseconds apart from `first`.
    pub(crate) fn stairs(count: i64, first: i64, every: i64) -> Pile {
        Pile {
            asked_at: (0..count).map(|n| first + n * every).collect(),
        }
    }

    fn join(piles: &[Pile]) -> Pile {
        Pile {
            asked_at: piles.iter().flat_map(|p| p.asked_at.clone()).collect(),
        }
    }

    #[test]
    fn a_leaked_connection_is_used_once_whatever_its_answer_size() {
        assert!(RULE.used_once(&LEAKED));
        let megabyte_answer = Usage {
            answer_segments: 728,
            ..LEAKED
        };
        assert!(RULE.used_once(&megabyte_answer));
    }

    #[test]
    fn a_connection_still_in_use_is_not_used_once() {
        let busy = Usage {
            quiet: Duration::from_secs(4),
            ..LEAKED
        };
        assert!(!RULE.used_once(&busy));
    }

    #[test]
    fn a_long_poll_waiting_for_its_answer_is_not_used_once() {
        let long_poll = Usage {
            answer_segments: 0,
            ..LEAKED
        };
        assert!(!RULE.used_once(&long_poll));
    }

    #[test]
    fn a_connection_seen_used_again_after_a_pause_is_not_used_once() {
        let reused = Usage {
            reused: true,
            ..LEAKED
        };
        assert!(!RULE.used_once(&reused));
    }

    #[test]
    fn many_requests_are_no_one_stretch_unless_the_watch_saw_it_open_and_go_quiet() {
        let pool = Usage {
            fewest_writes: 18,
            ..LEAKED
        };
        assert!(!RULE.used_once(&pool));
        let six_calls = Usage {
            fewest_writes: 6,
            ..LEAKED
        };
        assert!(RULE.used_once(&six_calls));
        let written_in_many_pieces_seen_open = Usage {
            fewest_writes: 45,
            stretch: Some(Duration::from_millis(900)),
            ..LEAKED
        };
        assert!(RULE.used_once(&written_in_many_pieces_seen_open));
        let busy_for_a_while = Usage {
            stretch: Some(Duration::from_secs(30)),
            ..written_in_many_pieces_seen_open
        };
        assert!(!RULE.used_once(&busy_for_a_while));
    }

    #[test]
    fn a_pile_asked_for_one_by_one_over_a_second_is_a_staircase() {
        // 21 at 20 a second: over one second.
        assert!(stairs(21, -60_000, 50).is_staircase(20));
        assert!(!stairs(19, -60_000, 50).is_staircase(20), "too few");
        // 24 at 30 a second: over 0.77 s, no burst holding half of them.
        assert!(!stairs(24, -60_000, 33).is_staircase(20));
        // 30 at 100 a second: over 0.3 s, a fast burst more than a pace.
        assert!(!stairs(30, -60_000, 10).is_staircase(20));
        // One a minute, once twenty are there.
        assert!(stairs(20, -1_200_000, 60_000).is_staircase(20));
    }

    #[test]
    fn a_slow_leak_of_one_every_4_s_leaks_once_15_stand_however_old() {
        assert!(RULE.leaks(&stairs(15, -600_000, 4_000)));
        assert!(!RULE.leaks(&stairs(14, -600_000, 4_000)));
    }

    #[test]
    fn a_burst_is_set_aside_however_many_strays_stretch_it() {
        let scale_up = stairs(46, -30_000, 1);
        let strays = stairs(2, -90_000, 20_000);
        assert!(!join(&[scale_up.clone(), strays.clone()]).is_staircase(20));
        // A leak beside the burst is still a staircase.
        let leak = stairs(40, -20_000, 50);
        assert!(join(&[scale_up, leak]).is_staircase(20));
        // Two scale-ups, one after the other.
        assert!(!join(&[stairs(46, -30_000, 1), stairs(40, -10_000, 1)]).is_staircase(20));
    }

    #[test]
    fn a_pile_growing_during_the_watch_leaks_before_it_is_large() {
        // One a second, from 4 s before the watch: fresh ones from -5 s.
        let slow = stairs(10, -4_000, 1000);
        assert!(RULE.leaks(&slow));
        // The same five, all older than the watch: a pile at rest.
        let old = stairs(10, -60_000, 1000);
        assert!(!RULE.leaks(&old));
        // Six opened at once a second into the watch: a burst.
        let at_once = stairs(6, 1_000, 2);
        assert!(!RULE.leaks(&at_once));
    }

    #[test]
    fn outbound_rows_add_up_where_each_holds_two_or_more() {
        let hosts: Vec<Pile> = (0..30)
            .map(|n| stairs(4, -60_000 + n * 200, 6_000))
            .collect();
        assert!(hosts.iter().all(|pile| !RULE.leaks(pile)));
        assert!(RULE.leaks_across_peers(&hosts));
        let one_each: Vec<Pile> = (0..30).map(|n| stairs(1, -60_000 + n * 200, 0)).collect();
        assert!(!RULE.leaks_across_peers(&one_each));
    }

    fn judged(seconds: u64, evidence: Evidence) -> RowVerdict {
        RULE.judge(&Evidence {
            watched: Duration::from_secs(seconds),
            ..evidence
        })
    }

    #[test]
    fn nothing_but_leaks_is_said_before_the_idle_time_has_passed() {
        let seen = Evidence {
            open: 8,
            ..Evidence::default()
        };
        assert_eq!(judged(4, seen.clone()), RowVerdict::Watching);
        assert_eq!(judged(5, seen), RowVerdict::Pool);
        let leak = Evidence {
            open: 30,
            used_once: stairs(30, -60_000, 500),
            ..Evidence::default()
        };
        assert_eq!(judged(0, leak), RowVerdict::Leaks);
    }

    #[test]
    fn connections_that_end_after_use_are_closing() {
        let seen = Evidence {
            open: 8,
            gone: 9,
            ..Evidence::default()
        };
        assert_eq!(judged(5, seen), RowVerdict::Closing);
        let all_gone = Evidence {
            open: 0,
            gone: 400,
            ..Evidence::default()
        };
        assert_eq!(judged(5, all_gone), RowVerdict::Closing);
    }
}
