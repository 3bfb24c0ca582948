//! `inspect` where it lives: servers whose accepted connections are held by
//! a process that does not listen (a worker handed each socket, a child
//! forked per connection), processes that change network namespace or
//! name after the watch found them, names chosen to fool a terminal, and a
//! sidecar whose output nobody reads.

use serde_json::Value;

use crate::common::inspect_run::run_inspect;
use crate::common::program::{Program, here, python};

/// A server of `mode` (`hand` or `fork`) with `count` connections, and the
/// PIDs that hold its accepted sockets.
fn handed(mode: &str, count: usize) -> (Program, Vec<u32>) {
    let program = python(
        here(),
        "tests/programs/handed_sockets.py",
        &[mode, &count.to_string()],
    );
    let holders = program
        .line_starting("holders ")
        .split(' ')
        .skip(1)
        .map(|pid| pid.parse().expect("a PID"))
        .collect();
    (program, holders)
}

#[test]
fn accepted_sockets_held_without_the_listener_are_inbound_one_row_per_caller_host() {
    for (mode, count) in [("hand", 300), ("fork", 40)] {
        let (server, holders) = handed(mode, count);
        let watch = run_inspect(&holders, &["--once"]);
        let rows: Vec<&Value> = watch.last()["rows"]
            .as_array()
            .expect("rows")
            .iter()
            .collect();
        let inbound = format!(":{} from 127.0.0.1", server.port);
        assert!(
            rows.iter()
                .all(|row| row["direction"] == "in" && row["peer"] == inbound.as_str()),
            "{mode}: {rows:?}"
        );
        // One row per holder, whatever the number of its callers' ports.
        assert_eq!(rows.len(), holders.len(), "{mode}: {rows:?}");
        let open: u64 = rows.iter().filter_map(|row| row["open"].as_u64()).sum();
        assert_eq!(open, count as u64, "{mode}");
    }
}
