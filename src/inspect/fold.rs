//! A process's rows, bounded: past [`MAX_ROWS`] peers, the rest fold into
//! one row per direction and port, and past [`MAX_FOLDED_PORTS`] ports in a
//! direction into one row for every other port, so that a server with
//! 20,000 callers, a client of as many hosts or ports, or a process holding
//! thousands of accepted sockets makes a table, a JSON sample and a set of
//! metric series of bounded size: at most `MAX_ROWS + 2 * (MAX_FOLDED_PORTS
//! + 1)` rows a process, whatever its connections.
//!
//! Each row's verdict is the rule's, made before folding (so a leak over
//! many peers is found first, `verdict.rs`). The rows kept are the leaking
//! ones first, then those with the most connections open; a folded row
//! adds up their counts and reads `leaks` if any of its rows did, else the
//! verdict of its busiest row.

use std::collections::BTreeMap;

use super::peer::Direction;
use super::process_watch::Row;
use super::verdict::RowVerdict;

/// Rows kept apart per process, beyond which the rest fold.
pub(crate) const MAX_ROWS: usize = 100;

/// Folded rows of one port each, per direction, beyond which the rest
/// fold into one: a server listens on a few ports and a client calls a
/// few services, so eight keeps every real one apart.
pub(crate) const MAX_FOLDED_PORTS: usize = 8;

/// `rows`, with those past [`MAX_ROWS`] folded; the kept ones in their
/// order, the folded ones after.
pub(crate) fn fold(rows: Vec<Row>) -> Vec<Row> {
    if rows.len() <= MAX_ROWS {
        return rows;
    }
    let mut by_weight: Vec<usize> = (0..rows.len()).collect();
    by_weight.sort_by_key(|at| {
        (
            rows[*at].verdict != RowVerdict::Leaks,
            usize::MAX - rows[*at].open,
        )
    });
    let mut kept = vec![false; rows.len()];
    for at in &by_weight[..MAX_ROWS] {
        kept[*at] = true;
    }
    let mut folded: BTreeMap<(Direction, String), Row> = BTreeMap::new();
    let mut out = Vec::with_capacity(MAX_ROWS + 2);
    for (row, keep) in rows.into_iter().zip(kept) {
        if keep {
            out.push(row);
            continue;
        }
        let mut peer = folded_peer(&row, false);
        let ports_now = folded
            .keys()
            .filter(|(way, _)| *way == row.direction)
            .count();
        if !folded.contains_key(&(row.direction, peer.clone())) && ports_now >= MAX_FOLDED_PORTS {
            peer = folded_peer(&row, true);
        }
        match folded.entry((row.direction, peer.clone())) {
            std::collections::btree_map::Entry::Vacant(entry) => {
                entry.insert(Row { peer, ..row });
            }
            std::collections::btree_map::Entry::Occupied(mut entry) => add(entry.get_mut(), row),
        }
    }
    out.extend(folded.into_values());
    out
}

/// The folded row's peer: `*:PORT` for calls out to that port, `:PORT from
/// *` for those that came in on it; with `any_port`, `*:*` and `:* from *`.
fn folded_peer(row: &Row, any_port: bool) -> String {
    match (row.direction, any_port) {
        (Direction::In, true) => ":* from *".to_owned(),
        (Direction::In, false) => {
            let port = row.peer.split(' ').next().unwrap_or_default();
            format!("{port} from *")
        }
        (Direction::Out, true) => "*:*".to_owned(),
        (Direction::Out, false) => {
            let port = row.peer.rsplit(':').next().unwrap_or_default();
            format!("*:{port}")
        }
    }
}

fn add(sum: &mut Row, row: Row) {
    let leaking = sum.verdict == RowVerdict::Leaks;
    if !leaking && (row.verdict == RowVerdict::Leaks || row.open > sum.open) {
        sum.verdict = row.verdict;
    }
    sum.across_peers |= row.across_peers;
    sum.open += row.open;
    sum.idle += row.idle;
    sum.idle_used_once += row.idle_used_once;
    sum.used_once_spread_seconds = sum
        .used_once_spread_seconds
        .max(row.used_once_spread_seconds);
    sum.used_once_burst = sum.used_once_burst.max(row.used_once_burst);
    sum.oldest_idle_seconds = sum.oldest_idle_seconds.max(row.oldest_idle_seconds);
    sum.opened += row.opened;
    sum.gone += row.gone;
    sum.reused += row.reused;
    sum.change_per_minute += row.change_per_minute;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::process_watch::tests::leaking_row;

    fn inbound(host: usize, open: usize, verdict: RowVerdict) -> Row {
        Row {
            direction: Direction::In,
            peer: format!(":8080 from 127.1.{}.{}", host / 250, host % 250),
            open,
            verdict,
            ..leaking_row()
        }
    }

    #[test]
    fn past_the_cap_the_quietest_rows_fold_into_one_per_direction_and_port() {
        let mut rows: Vec<Row> = (0..20_000)
            .map(|host| inbound(host, 1, RowVerdict::Pool))
            .collect();
        rows[12_345] = inbound(12_345, 30, RowVerdict::Leaks);
        rows.push(Row {
            peer: "127.0.0.1:5432".into(),
            ..leaking_row()
        });
        let folded = fold(rows);
        assert_eq!(folded.len(), MAX_ROWS + 1);
        assert!(
            folded
                .iter()
                .any(|row| row.peer == ":8080 from 127.1.49.95")
        );
        assert!(folded.iter().any(|row| row.peer == "127.0.0.1:5432"));
        let rest = folded.last().unwrap();
        assert_eq!(rest.peer, ":8080 from *");
        assert_eq!(rest.open, 20_000 - 1 - (MAX_ROWS - 2));
        assert_eq!(rest.verdict, RowVerdict::Pool);
    }

    #[test]
    fn past_the_ports_cap_every_other_port_folds_into_one_row() {
        // A client of 5,000 ports, one connection each.
        let rows: Vec<Row> = (0..5_000)
            .map(|port| Row {
                peer: format!("127.0.0.1:{}", 10_000 + port),
                open: 1,
                ..leaking_row()
            })
            .collect();
        let folded = fold(rows);
        assert_eq!(folded.len(), MAX_ROWS + MAX_FOLDED_PORTS + 1);
        let rest = folded.iter().find(|row| row.peer == "*:*").expect("*:*");
        assert_eq!(rest.open, 5_000 - MAX_ROWS - MAX_FOLDED_PORTS);
        let total: usize = folded.iter().map(|row| row.open).sum();
        assert_eq!(total, 5_000);
    }

    #[test]
    fn a_folded_row_reads_leaks_if_any_of_its_rows_did() {
        // 101 leaking rows: one folds, with ten busier ones that do not.
        let rows: Vec<Row> = (0..MAX_ROWS + 1)
            .map(|host| inbound(host, 1, RowVerdict::Leaks))
            .chain((1000..1010).map(|host| inbound(host, 50, RowVerdict::Pool)))
            .collect();
        let folded = fold(rows);
        let rest = folded.last().unwrap();
        assert_eq!((rest.peer.as_str(), rest.open), (":8080 from *", 501));
        assert_eq!(rest.verdict, RowVerdict::Leaks);
    }
}
