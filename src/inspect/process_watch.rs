//! What the watch remembers of each process between samples, and the rows
//! it makes of each sample.
//!
//! A connection is known by its socket's inode. One not there at the
//! previous sample was opened, one there then and missing now is gone;
//! both counts are lower bounds, since a connection that opens and closes
//! between two samples is never seen. Of each open connection the watch
//! keeps what the rule needs from one sample to the next: when it was seen
//! open, and whether its data moved again after it was seen idle. Memory
//! grows with the connections seen open at once and the rows, not with
//! time.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde::Serialize;

use super::chart::{Charted, Drawn};
use super::peer::{Connection, Direction, Peer};
use super::verdict::{Evidence, Pile, RowVerdict, Rule, Usage};

/// One row: a process, a direction and a peer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Row {
    pub(crate) pid: i32,
    /// The process's command (`/proc/PID/comm`).
    pub(crate) command: String,
    pub(crate) direction: Direction,
    pub(crate) peer: String,
    /// Connections open now.
    pub(crate) open: usize,
    /// Those with no data either way for at least `--idle`.
    pub(crate) idle: usize,
    /// Idle ones used once and left: the leak's signature (`verdict.rs`).
    pub(crate) idle_used_once: usize,
    /// The time between the first and the last of those asked for.
    pub(crate) used_once_spread_seconds: f64,
    /// The most of those asked for within 250 ms of each other.
    pub(crate) used_once_burst: usize,
    /// The longest time any open connection has gone without data.
    pub(crate) oldest_idle_seconds: f64,
    /// Seen opened and seen gone since the watch began (lower bounds).
    pub(crate) opened: u64,
    pub(crate) gone: u64,
    /// Connections seen used again after being idle.
    pub(crate) reused: u64,
    /// Open connections gained per minute of the watch.
    pub(crate) change_per_minute: f64,
    pub(crate) verdict: RowVerdict,
    /// Whether the verdict is `leaks` only from the process's outbound
    /// rows taken together, a leak spread over many peers.
    pub(crate) across_peers: bool,
    /// Why the process could not be read at this sample, when it could
    /// not: the row is then its last reading, and it is read again next.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) unread: Option<String>,
    /// Whether the process has exited: the row is its last reading.
    pub(crate) ended: bool,
}

/// The watch of one process.
#[derive(Debug)]
pub(crate) struct ProcessWatch {
    pid: i32,
    command: String,
    /// A row with no connection open for this long is dropped, once its
    /// last reading has been given (`--forget`).
    forget: Duration,
    rows: BTreeMap<Peer, RowHistory>,
    /// When the sample before was taken; `None` before the first.
    last_sample: Option<Duration>,
}

#[derive(Debug, Default)]
struct RowHistory {
    connections: HashMap<u64, Followed>,
    /// Since when the row has had no connection open.
    closed_since: Option<Duration>,
    open_at_start: usize,
    opened: u64,
    gone: u64,
    reused: u64,
    /// The row's verdict at the last sample.
    verdict: Option<RowVerdict>,
}

/// What the watch knows of one connection.
#[derive(Debug)]
struct Followed {
    /// For one opened during the watch: when the sample before its first
    /// was taken.
    opened_after: Option<Duration>,
    /// Data segments both ways at the last sample.
    segments: u64,
    seen_idle: bool,
    reused: bool,
    /// At the last sample, for the chart: when it was asked for and when
    /// it went quiet, in milliseconds from the start of the watch, and
    /// whether it was used once.
    asked_at: i64,
    quiet_since: i64,
    used_once: bool,
}

impl ProcessWatch {
    pub(crate) fn new(pid: i32, forget: Duration) -> ProcessWatch {
        ProcessWatch {
            pid,
            command: String::new(),
            forget,
            rows: BTreeMap::new(),
            last_sample: None,
        }
    }

    /// Takes one sample of the process's connections, `watched` after the
    /// watch began, and returns its rows in order, named `command` as the
    /// process is named now.
    pub(crate) fn sample(
        &mut self,
        command: &str,
        connections: &[Connection],
        watched: Duration,
        rule: &Rule,
    ) -> Vec<Row> {
        let mut now: BTreeMap<Peer, Vec<&Connection>> = BTreeMap::new();
        for connection in connections {
            now.entry(connection.peer).or_default().push(connection);
        }
        for peer in now.keys() {
            self.rows.entry(*peer).or_default();
        }
        let last_sample = self.last_sample.replace(watched);
        if self.command != command {
            command.clone_into(&mut self.command);
        }
        let process = (self.pid, self.command.as_str());
        let (mut rows, piles): (Vec<Row>, Vec<Pile>) = self
            .rows
            .iter_mut()
            .map(|(peer, history)| {
                let current = now.get(peer).map(Vec::as_slice).unwrap_or_default();
                history.row(process, *peer, current, last_sample, watched, rule)
            })
            .unzip();
        // A leak spread over many peers: outbound rows only (`verdict.rs`).
        let outbound: Vec<usize> = (0..rows.len())
            .filter(|at| rows[*at].direction == Direction::Out)
            .collect();
        if rule.leaks_across_peers(outbound.iter().map(|at| &piles[*at])) {
            for at in outbound {
                let row = &mut rows[at];
                if piles[at].counts_across_peers() && row.verdict != RowVerdict::Leaks {
                    row.verdict = RowVerdict::Leaks;
                    row.across_peers = true;
                }
            }
        }
        for (history, row) in self.rows.values_mut().zip(&rows) {
            history.verdict = Some(row.verdict);
        }
        let forget = self.forget;
        self.rows.retain(|_, history| {
            history
                .closed_since
                .is_none_or(|since| watched.saturating_sub(since) < forget)
        });
        rows
    }

    /// The rows whose verdict was `leaks` at the last sample, each
    /// connection as the chart draws it.
    pub(crate) fn charted(&self) -> Vec<Charted> {
        self.rows
            .iter()
            .filter(|(_, history)| history.verdict == Some(RowVerdict::Leaks))
            .map(|(peer, history)| Charted {
                pid: self.pid,
                command: self.command.clone(),
                direction: peer.direction(),
                peer: peer.to_string(),
                connections: history
                    .connections
                    .values()
                    .map(|seen| Drawn {
                        asked_at: seen.asked_at,
                        quiet_since: seen.quiet_since,
                        used_once: seen.used_once,
                        reused: seen.reused,
                    })
                    .collect(),
            })
            .collect()
    }
}

impl RowHistory {
    /// The row at this sample, and its pile of connections used once.
    fn row(
        &mut self,
        process: (i32, &str),
        peer: Peer,
        connections: &[&Connection],
        last_sample: Option<Duration>,
        watched: Duration,
        rule: &Rule,
    ) -> (Row, Pile) {
        let was_open = self.connections.len();
        let mut followed = HashMap::with_capacity(connections.len());
        let mut used_once = Pile::default();
        let mut idle = 0;
        let millis = |ago: Duration| watched.as_millis() as i64 - ago.as_millis() as i64;
        for connection in connections {
            let (mut seen, usage, since_request) =
                self.follow(connection, peer, last_sample, watched, rule);
            idle += usize::from(usage.quiet >= rule.idle_after);
            seen.asked_at = millis(since_request);
            seen.quiet_since = millis(usage.quiet);
            seen.used_once = rule.used_once(&usage);
            if seen.used_once {
                used_once.asked_at.push(seen.asked_at);
            }
            followed.insert(connection.inode, seen);
        }
        self.count(followed, was_open, last_sample, watched);
        let evidence = Evidence {
            open: connections.len(),
            gone: self.gone,
            watched,
            used_once,
        };
        let verdict = rule.judge(&evidence);
        let row = self.shown(process, peer, connections, idle, &evidence, verdict);
        (row, evidence.used_once)
    }

    /// What the watch knows of `connection` now, how it was used, and how
    /// long ago its request side last carried data.
    fn follow(
        &mut self,
        connection: &Connection,
        peer: Peer,
        last_sample: Option<Duration>,
        watched: Duration,
        rule: &Rule,
    ) -> (Followed, Usage, Duration) {
        let traffic = connection.traffic;
        let segments = u64::from(traffic.data_segments_out) + u64::from(traffic.data_segments_in);
        let mut seen = self
            .connections
            .remove(&connection.inode)
            .unwrap_or(Followed {
                opened_after: last_sample,
                segments,
                seen_idle: false,
                reused: false,
                asked_at: 0,
                quiet_since: 0,
                used_once: false,
            });
        if seen.seen_idle && segments != seen.segments && !seen.reused {
            seen.reused = true;
            self.reused += 1;
        }
        seen.segments = segments;
        seen.seen_idle |= traffic.quiet() >= rule.idle_after;
        let (answer_segments, since_request) = match peer {
            Peer::To(_) => (traffic.data_segments_in, traffic.since_data_sent),
            Peer::From { .. } => (traffic.data_segments_out, traffic.since_data_received),
        };
        let usage = Usage {
            fewest_writes: traffic.writes_sent().min(traffic.writes_received()),
            answer_segments,
            quiet: traffic.quiet(),
            reused: seen.reused,
            stretch: seen
                .opened_after
                .and_then(|after| watched.saturating_sub(after).checked_sub(traffic.quiet())),
        };
        (seen, usage, since_request)
    }

    /// Counts what opened and what went since the sample before, from the
    /// connections `followed` now; `was_open` were followed before.
    fn count(
        &mut self,
        followed: HashMap<u64, Followed>,
        was_open: usize,
        last_sample: Option<Duration>,
        watched: Duration,
    ) {
        // What is left of the connections followed before is gone.
        if last_sample.is_none() {
            self.open_at_start = followed.len();
        } else {
            let stayed = was_open - self.connections.len();
            self.opened += (followed.len() - stayed) as u64;
            self.gone += self.connections.len() as u64;
        }
        self.closed_since = match followed.len() {
            0 => self.closed_since.or(Some(watched)),
            _ => None,
        };
        self.connections = followed;
    }

    /// The row as it is shown and served.
    fn shown(
        &self,
        (pid, command): (i32, &str),
        peer: Peer,
        connections: &[&Connection],
        idle: usize,
        evidence: &Evidence,
        verdict: RowVerdict,
    ) -> Row {
        let minutes = evidence.watched.as_secs_f64() / 60.0;
        Row {
            pid,
            command: command.to_owned(),
            direction: peer.direction(),
            peer: peer.to_string(),
            open: evidence.open,
            idle,
            idle_used_once: evidence.used_once.len(),
            used_once_spread_seconds: evidence.used_once.spread().as_secs_f64(),
            used_once_burst: evidence.used_once.largest_burst(),
            oldest_idle_seconds: connections
                .iter()
                .map(|c| c.traffic.quiet().as_secs_f64())
                .fold(0.0, f64::max),
            opened: self.opened,
            gone: self.gone,
            reused: self.reused,
            change_per_minute: if minutes > 0.0 {
                (evidence.open as f64 - self.open_at_start as f64) / minutes
            } else {
                0.0
            },
            verdict,
            across_peers: false,
            unread: None,
            ended: false,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A row of a leak, for the tests of how rows are written.
    pub(crate) fn leaking_row() -> Row {
        Row {
            pid: 4242,
            command: "leaker".into(),
            direction: Direction::Out,
            peer: "127.0.0.1:8080".into(),
            open: 400,
            idle: 400,
            idle_used_once: 400,
            used_once_spread_seconds: 20.0,
            used_once_burst: 5,
            oldest_idle_seconds: 12.34,
            opened: 3,
            gone: 2,
            reused: 1,
            change_per_minute: 0.0,
            verdict: RowVerdict::Leaks,
            across_peers: false,
            unread: None,
            ended: false,
        }
    }
    use crate::inspect::tcp_info::Traffic;
    use crate::inspect::verdict::tests::RULE;

    const FORGET: Duration = Duration::from_secs(60);

    /// A connection to `peer` with `segments` each way, last used
    /// `quiet_millis` ago.
    fn to(peer: &str, inode: u64, quiet_millis: u64, segments: u32) -> Connection {
        let quiet = Duration::from_millis(quiet_millis);
        Connection {
            inode,
            peer: Peer::To(peer.parse().unwrap()),
            traffic: Traffic {
                data_segments_out: segments,
                data_segments_in: segments,
                since_data_sent: quiet,
                since_data_received: quiet,
                ..Traffic::default()
            },
        }
    }

    fn to_server1(inode: u64, quiet_millis: u64, segments: u32) -> Connection {
        to("127.0.0.1:8080", inode, quiet_millis, segments)
    }

    #[test]
    fn opened_gone_and_growth_are_counted_between_samples() {
        let mut watch = ProcessWatch::new(7, FORGET);
        let first: Vec<Connection> = (1..=3)
            .map(|i| to_server1(i, 9_000 + i * 1000, 1))
            .collect();
        let rows = watch.sample("test", &first, Duration::ZERO, &RULE);
        assert_eq!((rows[0].open, rows[0].idle_used_once), (3, 3));
        assert_eq!(rows[0].verdict, RowVerdict::Watching);

        // One gone, six more asked for a second apart, now idle.
        let second: Vec<Connection> = (2..=3)
            .map(|i| to_server1(i, 39_000 + i * 1000, 1))
            .chain((4..=9).map(|i| to_server1(i, 6_000 + i * 1000, 1)))
            .collect();
        let rows = watch.sample("test", &second, Duration::from_secs(30), &RULE);
        let row = &rows[0];
        assert_eq!((row.open, row.opened, row.gone), (8, 6, 1));
        assert_eq!(row.peer, "127.0.0.1:8080");
        assert_eq!(row.direction, Direction::Out);
        assert_eq!(row.change_per_minute, 10.0);
        assert_eq!(row.used_once_spread_seconds, 32.0);
        assert_eq!(
            row.verdict,
            RowVerdict::Leaks,
            "six asked for during the watch"
        );
    }

    #[test]
    fn an_upload_pushed_in_many_pieces_is_one_stretch_by_its_answer() {
        // Go's net/http, a POST of 1 MB per client over a 1500-byte MTU:
        // up to 13 part-filled segments on the upload's side, 2 on the
        // answer's; a pool's connection writes many each way.
        let upload = |inode: u64, quiet_millis: u64| {
            let quiet = Duration::from_millis(quiet_millis);
            Connection {
                traffic: Traffic {
                    data_segments_out: 737,
                    bytes_acked: 1_048_746,
                    send_mss: 1448,
                    data_segments_in: 2,
                    bytes_received: 140,
                    advertised_mss: 1448,
                    since_data_sent: quiet,
                    since_data_received: quiet,
                    ..Traffic::default()
                },
                ..to_server1(inode, quiet_millis, 0)
            }
        };
        let mut watch = ProcessWatch::new(7, FORGET);
        let uploads: Vec<Connection> = (1..=20).map(|i| upload(i, 10_000 + i * 100)).collect();
        let rows = watch.sample("test", &uploads, Duration::ZERO, &RULE);
        assert_eq!(
            (rows[0].idle_used_once, rows[0].verdict),
            (20, RowVerdict::Leaks)
        );
        let pool: Vec<Connection> = (1..=20)
            .map(|i| to_server1(i, 10_000 + i * 100, 18))
            .collect();
        let rows = ProcessWatch::new(7, FORGET).sample("test", &pool, Duration::ZERO, &RULE);
        assert_eq!(rows[0].idle_used_once, 0);
    }

    #[test]
    fn a_reused_pool_never_counts_towards_a_leak() {
        let mut watch = ProcessWatch::new(7, FORGET);
        let pool: Vec<Connection> = (1..=64)
            .map(|i| to_server1(i, 60_000 + i * 100, 5000))
            .collect();
        watch.sample("test", &[], Duration::ZERO, &RULE);
        let rows = watch.sample("test", &pool, Duration::from_secs(10), &RULE);
        assert_eq!((rows[0].idle, rows[0].idle_used_once), (64, 0));
        assert_eq!(rows[0].verdict, RowVerdict::Pool);
        assert_eq!(rows[0].oldest_idle_seconds, 66.4);
    }

    #[test]
    fn a_connection_used_again_after_it_was_seen_idle_is_reused() {
        let mut watch = ProcessWatch::new(7, FORGET);
        let idle: Vec<Connection> = (1..=30)
            .map(|i| to_server1(i, 10_000 + i * 100, 1))
            .collect();
        let rows = watch.sample("test", &idle, Duration::ZERO, &RULE);
        assert_eq!(
            rows[0].verdict,
            RowVerdict::Leaks,
            "30 idle, used once, over 3 s"
        );
        let used_again: Vec<Connection> = (1..=30).map(|i| to_server1(i, 10, 2)).collect();
        let rows = watch.sample("test", &used_again, Duration::from_secs(1), &RULE);
        assert_eq!(rows[0].reused, 30);
        let idle_again: Vec<Connection> = (1..=30)
            .map(|i| to_server1(i, 10_000 + i * 100, 2))
            .collect();
        let rows = watch.sample("test", &idle_again, Duration::from_secs(11), &RULE);
        assert_eq!((rows[0].idle, rows[0].idle_used_once), (30, 0));
        assert_eq!(rows[0].verdict, RowVerdict::Pool);
    }

    #[test]
    fn a_leak_over_many_hosts_reads_leaks_on_each_row_and_one_per_host_does_not() {
        let mut watch = ProcessWatch::new(7, FORGET);
        let mut inode = 0;
        let mut spread = |per_host: u64| -> Vec<Connection> {
            (1..=30)
                .flat_map(|host| (0..per_host).map(move |n| (host, n)))
                .map(|(host, n)| {
                    inode += 1;
                    let peer = format!("127.0.2.{host}:8080");
                    to(&peer, inode, 10_000 + host * 150 + n * 5_000, 1)
                })
                .collect()
        };
        let rows = watch.sample("test", &spread(4), Duration::ZERO, &RULE);
        assert_eq!(rows.len(), 30);
        assert!(
            rows.iter()
                .all(|row| row.verdict == RowVerdict::Leaks && row.across_peers)
        );

        let mut healthy = ProcessWatch::new(7, FORGET);
        let rows = healthy.sample("test", &spread(1), Duration::ZERO, &RULE);
        assert!(rows.iter().all(|row| row.verdict == RowVerdict::Watching));

        // The same four each, come in from 30 hosts: a server's callers.
        let inbound: Vec<Connection> = spread(4)
            .into_iter()
            .map(|connection| {
                let Peer::To(address) = connection.peer else {
                    unreachable!("made outbound")
                };
                Connection {
                    peer: Peer::From {
                        port: 8080,
                        host: address.ip(),
                    },
                    ..connection
                }
            })
            .collect();
        let mut server = ProcessWatch::new(7, FORGET);
        let rows = server.sample("test", &inbound, Duration::ZERO, &RULE);
        assert_eq!(rows.len(), 30);
        assert!(rows.iter().all(|row| row.verdict == RowVerdict::Watching));
    }

    #[test]
    fn a_burst_is_timed_by_its_requests_not_by_answers_that_trickled_back() {
        let mut watch = ProcessWatch::new(7, FORGET);
        let burst: Vec<Connection> = (1..=50)
            .map(|i| Connection {
                traffic: Traffic {
                    since_data_sent: Duration::from_secs(20),
                    since_data_received: Duration::from_millis(20_000 - i * 40),
                    ..to_server1(i, 0, 1).traffic
                },
                ..to_server1(i, 0, 1)
            })
            .collect();
        let rows = watch.sample("test", &burst, Duration::ZERO, &RULE);
        assert_eq!((rows[0].idle_used_once, rows[0].used_once_burst), (50, 50));
        assert_eq!(rows[0].verdict, RowVerdict::Watching);
    }

    #[test]
    fn a_row_whose_connections_all_went_stays_with_none_open_until_forgotten() {
        let mut watch = ProcessWatch::new(7, FORGET);
        watch.sample("test", &[to_server1(1, 0, 1)], Duration::ZERO, &RULE);
        let rows = watch.sample("test", &[], Duration::from_secs(6), &RULE);
        assert_eq!((rows[0].open, rows[0].gone), (0, 1));
        assert_eq!(rows[0].verdict, RowVerdict::Closing);
        let rows = watch.sample("test", &[], Duration::from_secs(66), &RULE);
        assert_eq!(
            rows[0].gone, 1,
            "its last reading, a minute after it closed"
        );
        assert!(
            watch
                .sample("test", &[], Duration::from_secs(67), &RULE)
                .is_empty()
        );
    }
}
