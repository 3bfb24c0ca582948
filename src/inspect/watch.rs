//! What the watch remembers of each process between samples, and the rows
//! it makes of each sample.
//!
//! A connection is known by its socket's inode. One not there at the
//! previous sample was opened, one there then and missing now is gone;
//! both counts are lower bounds, since a connection that opens and closes
//! between two samples is never seen. Memory grows with the connections
//! seen open at once and the rows, not with time.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use serde::Serialize;

use super::peer::{Connection, Peer};
use super::verdict::{Evidence, ONE_EXCHANGE_SEGMENTS, Rule, Verdict};

/// One row: a process, a direction and a peer.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub pid: i32,
    pub direction: &'static str,
    pub peer: String,
    /// Connections open now.
    pub open: usize,
    /// Those with no data either way for at least `--idle`.
    pub idle: usize,
    /// Idle ones that carried one exchange: the leak's signature.
    pub idle_used_once: usize,
    /// The longest time any open connection has gone without data.
    pub oldest_idle_seconds: f64,
    /// Seen opened and seen gone since the watch began (lower bounds).
    pub opened: u64,
    pub gone: u64,
    /// Open connections gained per minute of the watch.
    pub change_per_minute: f64,
    pub verdict: Verdict,
}

/// The watch of one process.
#[derive(Debug, Default)]
pub struct ProcessWatch {
    rows: BTreeMap<Peer, RowHistory>,
    sampled: bool,
}

#[derive(Debug, Default)]
struct RowHistory {
    inodes: HashSet<u64>,
    open_at_start: usize,
    opened: u64,
    gone: u64,
    fewest_idle_used_once: usize,
}

impl ProcessWatch {
    /// Takes one sample of the process's connections, `watched` after the
    /// watch began, and returns its rows in order.
    pub fn sample(
        &mut self,
        pid: i32,
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
        let first = !self.sampled;
        self.sampled = true;
        self.rows
            .iter_mut()
            .map(|(peer, history)| {
                let current = now.get(peer).map(Vec::as_slice).unwrap_or_default();
                history.row(pid, *peer, current, first, watched, rule)
            })
            .collect()
    }
}

impl RowHistory {
    fn row(
        &mut self,
        pid: i32,
        peer: Peer,
        connections: &[&Connection],
        first: bool,
        watched: Duration,
        rule: &Rule,
    ) -> Row {
        let inodes: HashSet<u64> = connections.iter().map(|c| c.inode).collect();
        let idle: Vec<&&Connection> = connections
            .iter()
            .filter(|c| c.traffic.idle >= rule.idle_after)
            .collect();
        let idle_used_once = idle
            .iter()
            .filter(|c| {
                c.traffic.data_segments_out <= ONE_EXCHANGE_SEGMENTS
                    && c.traffic.data_segments_in <= ONE_EXCHANGE_SEGMENTS
            })
            .count();
        if first {
            self.open_at_start = inodes.len();
            self.fewest_idle_used_once = idle_used_once;
        } else {
            self.opened += inodes.difference(&self.inodes).count() as u64;
            self.gone += self.inodes.difference(&inodes).count() as u64;
            self.fewest_idle_used_once = self.fewest_idle_used_once.min(idle_used_once);
        }
        self.inodes = inodes;
        let open = connections.len();
        let verdict = rule.judge(&Evidence {
            open,
            idle_used_once,
            fewest_idle_used_once: self.fewest_idle_used_once,
            gone: self.gone,
            watched,
        });
        let minutes = watched.as_secs_f64() / 60.0;
        Row {
            pid,
            direction: peer.direction(),
            peer: peer.to_string(),
            open,
            idle: idle.len(),
            idle_used_once,
            oldest_idle_seconds: connections
                .iter()
                .map(|c| c.traffic.idle.as_secs_f64())
                .fold(0.0, f64::max),
            opened: self.opened,
            gone: self.gone,
            change_per_minute: if minutes > 0.0 {
                (open as f64 - self.open_at_start as f64) / minutes
            } else {
                0.0
            },
            verdict,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::socket_dump::Traffic;
    use crate::inspect::verdict::tests::RULE;

    fn to_server1(inode: u64, idle_seconds: u64, segments: u32) -> Connection {
        Connection {
            inode,
            peer: Peer::To("127.0.0.1:8080".parse().unwrap()),
            traffic: Traffic {
                data_segments_out: segments,
                data_segments_in: segments,
                idle: Duration::from_secs(idle_seconds),
            },
        }
    }

    #[test]
    fn opened_gone_and_growth_are_counted_between_samples() {
        let mut watch = ProcessWatch::default();
        let first: Vec<Connection> = (1..=3).map(|i| to_server1(i, 9, 1)).collect();
        let rows = watch.sample(7, &first, Duration::ZERO, &RULE);
        assert_eq!((rows[0].open, rows[0].idle_used_once), (3, 3));
        assert_eq!(rows[0].verdict, Verdict::Watching);

        // One gone, six more used once and idle.
        let second: Vec<Connection> = (2..=9).map(|i| to_server1(i, 9, 1)).collect();
        let rows = watch.sample(7, &second, Duration::from_secs(30), &RULE);
        let row = &rows[0];
        assert_eq!((row.open, row.opened, row.gone), (8, 6, 1));
        assert_eq!(row.peer, "127.0.0.1:8080");
        assert_eq!(row.direction, "out");
        assert_eq!(row.change_per_minute, 10.0);
        assert_eq!(row.verdict, Verdict::Leaks, "grew by 5 from 3");
    }

    #[test]
    fn a_reused_pool_never_counts_towards_a_leak() {
        let mut watch = ProcessWatch::default();
        let pool: Vec<Connection> = (1..=64).map(|i| to_server1(i, 60, 5000)).collect();
        watch.sample(7, &[], Duration::ZERO, &RULE);
        let rows = watch.sample(7, &pool, Duration::from_secs(10), &RULE);
        assert_eq!((rows[0].idle, rows[0].idle_used_once), (64, 0));
        assert_eq!(rows[0].verdict, Verdict::Pool);
        assert_eq!(rows[0].oldest_idle_seconds, 60.0);
    }

    #[test]
    fn a_row_whose_connections_all_went_stays_with_none_open() {
        let mut watch = ProcessWatch::default();
        watch.sample(7, &[to_server1(1, 0, 1)], Duration::ZERO, &RULE);
        let rows = watch.sample(7, &[], Duration::from_secs(6), &RULE);
        assert_eq!((rows[0].open, rows[0].gone), (0, 1));
        assert_eq!(rows[0].verdict, Verdict::Closing);
    }
}
