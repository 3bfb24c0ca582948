//! `inspect` from outside, on real processes: the project's own pair in
//! each of its states, a Python program that leaks the same way, and what
//! a user can get wrong (a bad flag, a process gone, another user's
//! process, a process in another network namespace).
//!
//! Each test runs `inspect --json` with a fast clock and reads its samples
//! as they come, until the condition it waits for holds.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::inspect_run::{Running, inspect_to_end};
use crate::common::netns::Namespace;
use crate::common::program::{Program, here, python};
use crate::common::{
    BINARY, PairExt, ServerProcess, get, is_root, put_json, start_pair, start_server,
};

/// A connection idle this long counts as idle: short, to keep tests fast.
const IDLE: &str = "300ms";

/// `inspect --json` sampling `pids` ten times a second.
fn inspect(pids: &[u32]) -> Running {
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let mut args = vec!["--interval", "100ms", "--idle", IDLE];
    args.extend(pids.iter().map(String::as_str));
    Running::start(Command::new(BINARY), &args)
}

/// The row of `pid` with `peer`, if the sample has one.
fn row<'a>(sample: &'a Value, pid: u32, peer: &str) -> Option<&'a Value> {
    sample["rows"]
        .as_array()?
        .iter()
        .find(|row| row["pid"] == pid && row["peer"] == peer)
}

fn verdict_is(sample: &Value, pid: u32, peer: &str, verdict: &str) -> bool {
    row(sample, pid, peer).is_some_and(|row| row["verdict"] == verdict)
}

fn open_in(sample: &Value, pid: u32, peer: &str) -> Option<u64> {
    row(sample, pid, peer).and_then(|row| row["open"].as_u64())
}

/// Server 1's row on server 1: connections that came in on its port.
fn inbound_peer(server1: &ServerProcess) -> String {
    format!(":{} from 127.0.0.1", server1.address.port())
}

/// Eight callers sending `/forward` to `server2` one after another, each
/// on a new connection as curl does, until the returned flag is set or a
/// minute has passed.
fn load(server2: &ServerProcess) -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    for _ in 0..8 {
        let (stop, address) = (stop.clone(), server2.address);
        thread::spawn(move || {
            let until = Instant::now() + Duration::from_secs(60);
            while !stop.load(Ordering::Relaxed) && Instant::now() < until {
                get(address, "/forward");
            }
        });
    }
    stop
}

#[test]
fn both_ends_of_the_leaking_pair_read_leaks_until_server_1_stops_keeping_alive() {
    let pair = start_pair(&[], &[]);
    // At a pace, as a curl loop sends them: 25 sent as fast as answered
    // go out within a tenth of a second, a burst that a scale-up makes too.
    for _ in 0..25 {
        pair.forward();
        thread::sleep(Duration::from_millis(60));
    }
    let (server1, server2) = (&pair.server1, &pair.server2);
    let (outbound, inbound) = (server1.address.to_string(), inbound_peer(server1));
    let watch = inspect(&[server2.pid(), server1.pid()]);
    watch.until("both ends leak", |sample| {
        verdict_is(sample, server2.pid(), &outbound, "leaks")
            && verdict_is(sample, server1.pid(), &inbound, "leaks")
    });

    let answer = put_json(
        server1.address,
        "/settings",
        r#"{"SERVER_KEEP_ALIVES":"false"}"#,
        &[],
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    watch.until("both rows at 0 open", |sample| {
        open_in(sample, server2.pid(), &outbound) == Some(0)
            && open_in(sample, server1.pid(), &inbound) == Some(0)
    });
}

#[test]
fn keep_alives_disabled_under_load_read_closing() {
    let pair = start_pair(&[], &[("DISABLE_KEEP_ALIVES", "true")]);
    let stop = load(&pair.server2);
    let outbound = pair.server1.address.to_string();
    let watch = inspect(&[pair.server2.pid()]);
    watch.until_each(
        "closing",
        |sample| assert!(!verdict_is(sample, pair.server2.pid(), &outbound, "leaks")),
        |sample| verdict_is(sample, pair.server2.pid(), &outbound, "closing"),
    );
    stop.store(true, Ordering::Relaxed);
}

#[test]
fn a_busy_shared_client_reads_pool_and_so_does_it_at_rest() {
    let pair = start_pair(
        &[],
        &[
            ("CLIENT_LIFETIME", "process"),
            ("MAX_IDLE_CONNS_PER_HOST", "8"),
        ],
    );
    let stop = load(&pair.server2);
    let (pid, outbound) = (pair.server2.pid(), pair.server1.address.to_string());
    let watch = inspect(&[pid]);
    let never_leaks = |sample: &Value| {
        assert!(
            !verdict_is(sample, pid, &outbound, "leaks"),
            "a pool read as a leak: {sample}"
        )
    };
    watch.until_each("pool under load", never_leaks, |sample| {
        verdict_is(sample, pid, &outbound, "pool")
    });
    stop.store(true, Ordering::Relaxed);
    watch.until_each("pool at rest", never_leaks, |sample| {
        verdict_is(sample, pid, &outbound, "pool")
            && row(sample, pid, &outbound).is_some_and(|row| row["idle"] == row["open"])
    });
}

/// `scripts/python_leaker.py` making `count` connections to `url`, run by
/// `runner` (`here()`, or a namespace's command).
fn python_leaker(runner: Command, url: &str, count: &str) -> Program {
    python(runner, "scripts/python_leaker.py", &[url, "--count", count])
}

#[test]
fn a_python_program_that_keeps_a_connection_per_request_reads_leaks() {
    let server1 = start_server("server1", &[]);
    let url = format!("http://{}/hello", server1.address);
    let leaker = python_leaker(here(), &url, "25");
    let pid = leaker.pid;
    let watch = inspect(&[pid, server1.pid()]);
    watch.until("the Python program leaks", |sample| {
        verdict_is(sample, pid, &server1.address.to_string(), "leaks")
    });
}

#[test]
fn a_process_that_exits_ends_its_rows_and_the_others_go_on() {
    let server1 = start_server("server1", &[]);
    let url = format!("http://{}/hello", server1.address);
    let mut leaker = python_leaker(here(), &url, "3");
    let pid = leaker.pid;
    let watch = inspect(&[pid, server1.pid()]);
    // Both ends of its connections: server 1 holds them once it accepted.
    let inbound = inbound_peer(&server1);
    watch.until("the leaker's row and server 1's", |sample| {
        row(sample, pid, &server1.address.to_string()).is_some()
            && row(sample, server1.pid(), &inbound).is_some()
    });
    leaker.end();
    watch.until("its end", |sample| {
        sample["ended"] == serde_json::json!([pid])
    });
    watch.until("server 1 still watched, the leaker not", |sample| {
        let rows = sample["rows"].as_array().expect("rows");
        !rows.is_empty() && rows.iter().all(|row| row["pid"] == server1.pid())
    });
}

#[test]
fn bad_input_exits_2_with_one_line_naming_what_was_wrong() {
    let own = std::process::id().to_string();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let taken = taken.local_addr().expect("its address").to_string();
    let cases: [(&[&str], &str); 10] = [
        (&[], "--all"),
        (&["--all", &own], "--all"),
        (&["abc"], "expected a process ID, a whole number from 1"),
        (&["--interval", "0", &own], "--interval"),
        (&["--idle", "5", &own], "missing unit"),
        (&["--idle=-1s", &own], "must not be negative"),
        (&["--metrics", &taken, "--once", &own], "--metrics"),
        (&["999999999"], "PID 999999999: no such process"),
        (&["--chart", "c.svg", &own], "--once"),
        (
            &["--chart", "/dev/null/c.svg", "--once", &own],
            "--chart /dev/null/c.svg: cannot write there",
        ),
    ];
    for (args, expected) in cases {
        let (status, stderr) = inspect_to_end(&mut Command::new(BINARY), args);
        assert_eq!(status, Some(2), "{args:?}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn another_users_process_is_refused_naming_the_pid_and_what_to_run() {
    if !is_root() {
        eprintln!("skipped: dropping privileges needs root");
        return;
    }
    let server = start_server("server1", &[]);
    let pid = server.pid().to_string();
    let (status, stderr) = inspect_to_end(
        Command::new("setpriv").args(["--reuid=65534", "--regid=65534", "--clear-groups", BINARY]),
        &["--once", &pid],
    );
    assert_eq!(status, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("PID {pid}")) && stderr.contains("CAP_SYS_PTRACE"),
        "{stderr}"
    );
}

#[test]
fn a_process_in_another_network_namespace_is_seen_from_the_host() {
    let Some(namespace) = Namespace::new("inspect") else {
        return;
    };
    let server1 = namespace.server(&[("BIND_ADDRESS", "127.0.0.1:0")]);
    let address = server1.address.to_string();
    let leaker = python_leaker(
        namespace.command(),
        &format!("http://{address}/hello"),
        "25",
    );
    let watch = inspect(&[leaker.pid]);
    watch.until("the namespace's leak", |sample| {
        verdict_is(sample, leaker.pid, &address, "leaks")
    });
}
