//! `inspect` where it lives: servers whose accepted connections are held by
//! a process that does not listen (a worker handed each socket, a child
//! forked per connection), processes that change network namespace or
//! name after the watch found them, names chosen to fool a terminal, and a
//! sidecar whose output nobody reads.

use std::io::Write;
use std::process::Stdio;
use std::time::Duration;

use reqwest_connection_leak::observe::metrics::samples;
use serde_json::Value;

use crate::common::inspect_run::{Running, Watch, run_inspect, serving_at};
use crate::common::netns::Namespace;
use crate::common::program::{Program, here, python};
use crate::common::{eventually, is_root, send};

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
        let first: Vec<&&Value> = rows.iter().take(3).collect();
        assert!(
            rows.iter()
                .all(|row| row["direction"] == "in" && row["peer"] == inbound.as_str()),
            "{mode}: {} rows, the first {first:?}",
            rows.len()
        );
        // One row per holder, whatever the number of its callers' ports.
        assert_eq!(rows.len(), holders.len(), "{mode}: the first {first:?}");
        let open: u64 = rows.iter().filter_map(|row| row["open"].as_u64()).sum();
        assert_eq!(open, count as u64, "{mode}");
    }
}

/// A process named by the bytes `name`, holding one connection to itself.
fn named(name: &[u8], then: &[&str]) -> Program {
    let name = hex(name);
    let args: Vec<&str> = std::iter::once(name.as_str())
        .chain(then.iter().copied())
        .collect();
    python(here(), "tests/programs/changing_process.py", &args)
}

#[test]
fn a_name_chosen_to_fool_a_terminal_is_shown_as_ps_shows_it() {
    let posing = named(b"\r    1  systemd", &[]);
    let wiping = named(b"\x1b[2J\x1b[Hx\x1b]0;t\x07", &[]);
    let reversing = named("\u{202E}dlrow".as_bytes(), &[]);
    let not_utf8 = named(b"ab\xff\xfecd", &[]);
    let pids = [posing.pid, wiping.pid, reversing.pid, not_utf8.pid];
    let output = std::process::Command::new(crate::common::BINARY)
        .args(["inspect", "--once"])
        .args(pids.map(|pid| pid.to_string()))
        .output()
        .expect("run inspect");
    let table = String::from_utf8(output.stdout).expect("the table is UTF-8");
    let raw: Vec<char> = table
        .chars()
        .filter(|c| *c != '\n' && (c.is_control() || ('\u{202A}'..='\u{202E}').contains(c)))
        .collect();
    assert!(raw.is_empty(), "{raw:?} in\n{table}");
    let row_of = |pid: u32| {
        table
            .lines()
            .find(|line| line.trim_start().starts_with(&format!("{pid} ")))
            .unwrap_or_else(|| panic!("no row for {pid}:\n{table}"))
            .to_owned()
    };
    assert!(row_of(posing.pid).contains("?    1  systemd"), "{table}");
    assert!(row_of(wiping.pid).contains("?[2J?[Hx?]0;t?"), "{table}");
    assert!(row_of(reversing.pid).contains("?dlrow"), "{table}");
    assert!(
        row_of(not_utf8.pid).contains("ab\u{FFFD}\u{FFFD}cd"),
        "{table}"
    );
    // JSON escapes what it carries, the name whole.
    let watch = run_inspect(&[posing.pid], &["--once"]);
    let row = Watch::rows(watch.last(), posing.pid).next().expect("a row");
    assert_eq!(row["command"], "\r    1  systemd");
}

#[test]
fn a_process_that_changes_namespace_and_name_is_followed_within_a_sample() {
    if !is_root() {
        eprintln!("skipped: joining a network namespace needs root");
        return;
    }
    let Some(namespace) = Namespace::new("setns") else {
        return;
    };
    let path = format!("/run/netns/{}", namespace.name);
    let mut process = named(b"before", &[&hex(b"after"), &path, "25"]);
    let running = Running::start(
        std::process::Command::new(crate::common::BINARY),
        &["--interval", "200ms", &process.pid.to_string()],
    );
    let open_as = |sample: &Value, command: &str| -> u64 {
        Watch::rows(sample, process.pid)
            .filter(|row| row["command"] == command)
            .filter_map(|row| row["open"].as_u64())
            .sum()
    };
    // Its first connection, both ends, where it started.
    running.until("the first connection", |sample| {
        open_as(sample, "before") == 2
    });
    let signalled = std::process::Command::new("kill")
        .args(["-USR1", &process.pid.to_string()])
        .status()
        .expect("kill");
    assert!(signalled.success());
    process.line_starting("moved");
    // Both ends of each of the 25, in the namespace it moved to; the
    // first connection stays where it was made, unseen from there.
    running.until(
        "25 connections in the new namespace, under the new name",
        |sample| open_as(sample, "after") == 50,
    );
    process.end();
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// `GET /metrics` from `address` as `curl` asks it: (body, whether
/// `promtool check metrics` passed it, and what it said).
fn scrape_checked(address: &str) -> (String, bool, String) {
    let address = address.parse().expect("an address");
    let body = send(address, "GET", "/metrics", &[("Accept", "*/*")], "").body;
    let mut promtool = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool: scripts/test.sh installs it");
    promtool
        .stdin
        .take()
        .expect("its input")
        .write_all(body.as_bytes())
        .expect("hand it the scrape");
    let checked = promtool.wait_with_output().expect("promtool ran");
    let said = String::from_utf8_lossy(&checked.stdout).into_owned()
        + &String::from_utf8_lossy(&checked.stderr);
    (body, checked.status.success(), said)
}

#[test]
fn a_sidecar_whose_output_nobody_reads_keeps_sampling_and_says_how_fresh() {
    // Standard output a pipe that is never read: it fills within a few
    // samples of every process of the machine.
    let mut inspect = std::process::Command::new(crate::common::BINARY)
        .args(["inspect", "--all", "--json", "--interval", "50ms"])
        .args(["--metrics", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start inspect");
    let address = serving_at(&mut inspect);
    let figure = |body: &str, name: &str| samples(body).get(name).copied().unwrap_or(0.0);
    let mut last = (String::new(), true, String::new());
    let stuck = eventually(Duration::from_secs(60), || {
        last = scrape_checked(&address);
        figure(&last.0, "inspect_output_dropped_total") > 0.0
    });
    assert!(stuck, "no sample dropped: {}", last.0);
    assert!(last.1, "promtool check metrics: {}\n{}", last.2, last.0);
    let then = figure(&last.0, "inspect_last_sample_timestamp_seconds");
    let fresh = eventually(Duration::from_secs(30), || {
        last = scrape_checked(&address);
        figure(&last.0, "inspect_last_sample_timestamp_seconds") > then + 0.2
    });
    assert!(fresh, "the samples stopped with the output: {}", last.0);
    assert!(last.1, "promtool check metrics: {}\n{}", last.2, last.0);
    let _ = inspect.kill();
    let _ = inspect.wait();
}

#[test]
fn a_host_with_more_processes_than_descriptors_is_read_whole() {
    // 120 holders, under a limit of 48 descriptors: none is held per
    // process watched.
    let (server, holders) = handed("fork", 120);
    let output = std::process::Command::new("sh")
        .args([
            "-c",
            "ulimit -n 48 && exec \"$0\" inspect --all --once --json",
        ])
        .arg(crate::common::BINARY)
        .output()
        .expect("run inspect");
    let text = String::from_utf8_lossy(&output.stdout);
    let sample: Value = text
        .lines()
        .next()
        .and_then(|line| serde_json::from_str(line).ok())
        .unwrap_or_else(|| panic!("no sample: {text}"));
    let inbound = format!(":{} from 127.0.0.1", server.port);
    let unseen: Vec<u32> = holders
        .iter()
        .copied()
        .filter(|pid| !Watch::rows(&sample, *pid).any(|row| row["peer"] == inbound.as_str()))
        .collect();
    assert!(
        unseen.is_empty(),
        "{} holders unseen: {unseen:?}",
        unseen.len()
    );
}

#[test]
fn quiet_prints_nothing_whatever_it_watches() {
    let (_server, holders) = handed("hand", 5);
    let output = std::process::Command::new(crate::common::BINARY)
        .args(["inspect", "--quiet", "--once"])
        .args(holders.iter().map(u32::to_string))
        .output()
        .expect("run inspect");
    assert_eq!(output.status.code(), Some(0));
    assert!(
        output.stdout.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&output.stdout)
    );
    assert!(
        output.stderr.is_empty(),
        "{:?}",
        String::from_utf8_lossy(&output.stderr)
    );
}
