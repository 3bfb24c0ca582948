//! `inspect` on a whole host (`--all`) and as a sidecar that must stay up
//! and bounded: what is gone ends a process's rows and nothing else does,
//! rows and series stay bounded under churn, `--for` is a deadline, the
//! exporter closes what a client leaves half-sent, and each refusal is one
//! line of ours.

use std::io::Write;
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::inspect_run::{Running, Watch, inspect_to_end};
use crate::common::program::{Program, here, python};
use crate::common::{BINARY, is_root};

/// Ten samples a second, idle after 300 ms.
const FAST: &[&str] = &["--interval", "100ms", "--idle", "300ms"];

fn server(runner: Command) -> Program {
    python(runner, "tests/programs/http_server.py", &["127.0.0.1"])
}

fn clients(runner: Command, shape: &str, server: &Program, count: &str) -> Program {
    let port = server.port.to_string();
    let args = [shape, "127.0.0.1", &port, "--count", count];
    python(runner, "tests/programs/waiting_clients.py", &args)
}

/// Fails the test if `sample` says a process ended: each here stays alive.
fn never_ended(sample: &Value) {
    assert!(
        sample["ended"].as_array().is_some_and(Vec::is_empty),
        "read as ended while alive: {sample}"
    )
}

fn rows_of(sample: &Value, pid: u32) -> Vec<&Value> {
    Watch::rows(sample, pid).collect()
}

/// The pair, paced requests and `inspect --all` alone in a PID namespace.
fn pair_alone(client_lifetime: &str) -> Watch {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/programs/pair_alone.sh");
    let output = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            script,
            BINARY,
            client_lifetime,
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("unshare");
    let samples = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON sample"))
        .collect();
    Watch {
        status: output.status.code(),
        samples,
    }
}

#[test]
fn all_names_both_ends_of_a_leaking_pair_among_every_process_and_exits_1_and_0_when_fixed() {
    if !is_root() {
        eprintln!("skipped: a PID namespace of its own needs root");
        return;
    }
    let leaking = pair_alone("connection");
    assert_eq!(leaking.status, Some(1), "{}", leaking.last());
    let rows = leaking.last()["rows"].as_array().expect("rows").clone();
    let leaks = |direction: &str| {
        rows.iter().any(|row| {
            row["command"] == "reqwest-connect"
                && row["direction"] == direction
                && row["verdict"] == "leaks"
        })
    };
    assert!(
        leaks("out") && leaks("in"),
        "server 2 out, server 1 in: {rows:?}"
    );
    let summary = &leaking.last()["summary"];
    assert!(summary["processes"].as_u64() >= Some(3), "{summary}");
    assert!(summary["connections"].as_u64() >= Some(60), "{summary}");

    let fixed = pair_alone("request");
    assert_eq!(fixed.status, Some(0), "{}", fixed.last());
}

#[test]
fn descriptor_pressure_keeps_a_process_and_its_rows_and_reads_them_again() {
    let server = server(here());
    let url = format!("http://127.0.0.1:{}/hello", server.port);
    let client = python(here(), "scripts/python_leaker.py", &[&url, "--count", "3"]);
    client.line_starting("sent ");
    let mut prlimit = Command::new("prlimit");
    prlimit.args(["--nofile=40:40", BINARY]);
    let pid = server.pid.to_string();
    let flags = [FAST, &["--metrics", "127.0.0.1:0", &pid]].concat();
    let inspect = Running::start(prlimit, &flags);
    let has_row = |sample: &Value| !rows_of(sample, server.pid).is_empty();
    inspect.until("the server's row", has_row);
    // Every descriptor inspect has left, taken by connections to its
    // exporter that never send a head.
    let address = inspect.metrics.clone().expect("serving");
    let flood: Vec<TcpStream> = (0..60)
        .filter_map(|_| TcpStream::connect(&address).ok())
        .collect();
    inspect.until_each("unread for lack of descriptors", never_ended, |sample| {
        let rows = rows_of(sample, server.pid);
        !rows.is_empty() && rows.iter().all(|row| row["unread"].is_string())
    });
    drop(flood);
    inspect.until_each("read again", never_ended, |sample| {
        let rows = rows_of(sample, server.pid);
        !rows.is_empty() && rows.iter().all(|row| row.get("unread").is_none())
    });
}

#[test]
fn a_process_that_makes_itself_non_dumpable_is_still_watched() {
    if !is_root() {
        eprintln!("skipped: acting as another user needs root");
        return;
    }
    let nobody = || {
        let mut command = Command::new("setpriv");
        command.args(["--reuid=65534", "--regid=65534", "--clear-groups"]);
        command.args(["env", "PATH=/usr/bin:/bin"]);
        command
    };
    let server = server(here());
    let client = clients(nobody(), "undumpable", &server, "1");
    client.line_starting("open ");
    let pid = client.pid.to_string();
    let mut command = nobody();
    command.arg(BINARY);
    let inspect = Running::start(command, &["--interval", "100ms", &pid]);
    inspect.until_each("its row", never_ended, |sample| {
        !rows_of(sample, client.pid).is_empty()
    });
    Command::new("kill")
        .args(["-USR1", &pid])
        .status()
        .expect("signal it");
    client.line_starting("undumpable");
    inspect.until_each("unread, not ended", never_ended, |sample| {
        rows_of(sample, client.pid).iter().all(|row| {
            row["unread"]
                .as_str()
                .is_some_and(|why| why.contains("not allowed"))
        })
    });
}

#[test]
fn rows_of_churning_clients_stay_bounded_and_are_forgotten() {
    let server = server(here());
    let pid = server.pid.to_string();
    let rest = ["--forget", "1s", "--metrics", "127.0.0.1:0", &pid];
    let flags = [FAST, &rest].concat();
    let inspect = Running::start(Command::new(BINARY), &flags);
    let churn = clients(here(), "churn", &server, "2000");
    let bounded = |sample: &Value| {
        let rows = rows_of(sample, server.pid).len();
        assert!(rows <= 101, "{rows} rows for one process");
    };
    inspect.until_each("churn seen", bounded, |sample| {
        rows_of(sample, server.pid).len() > 100
    });
    churn.line_starting("left ");
    inspect.until("all forgotten", |sample| {
        rows_of(sample, server.pid).is_empty()
    });
    let metrics = inspect.scrape();
    assert!(!metrics.contains("127.1."), "{metrics}");
    assert!(metrics.len() < 20_000, "{} bytes", metrics.len());
}

#[test]
fn for_is_a_deadline_whatever_the_interval() {
    let own = std::process::id().to_string();
    let started = Instant::now();
    let mut child = Command::new(BINARY)
        .args(["inspect", "--interval", "1h", "--for", "1s", &own])
        .stdout(Stdio::null())
        .spawn()
        .expect("start inspect");
    let ended = crate::common::eventually(Duration::from_secs(20), || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(ended, "still running after {:?}", started.elapsed());
}

#[test]
fn a_process_that_exits_during_for_keeps_its_last_rows_in_the_final_table() {
    let server = server(here());
    let url = format!("http://127.0.0.1:{}/hello", server.port);
    let mut client = python(here(), "scripts/python_leaker.py", &[&url, "--count", "3"]);
    client.line_starting("sent ");
    let (client_pid, server_pid) = (client.pid.to_string(), server.pid.to_string());
    let inspect = Command::new(BINARY)
        .args([
            "inspect",
            "--for",
            "3s",
            "--interval",
            "100ms",
            &client_pid,
            &server_pid,
        ])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start inspect");
    // Its first sample sees the client: inspect holds a socket (its
    // channel to the kernel's socket dump) from just before that sample.
    let holds_socket = || {
        std::fs::read_dir(format!("/proc/{}/fd", inspect.id()))
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .filter_map(|entry| std::fs::read_link(entry.path()).ok())
            .any(|link| link.to_string_lossy().starts_with("socket:"))
    };
    assert!(crate::common::eventually(
        Duration::from_secs(20),
        holds_socket
    ));
    // Two more samples, a tenth of a second apart, on a loaded machine.
    thread::sleep(Duration::from_millis(300));
    client.end();
    let output = inspect.wait_with_output().expect("inspect's table");
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains(&format!("PID {client_pid} exited")),
        "{table}"
    );
    let row = table
        .lines()
        .find(|line| line.trim_start().starts_with(&format!("{client_pid} ")))
        .unwrap_or_else(|| panic!("no row of {client_pid}: {table}"));
    assert!(row.ends_with("(exited)"), "{row}");
}

#[test]
fn the_exporter_closes_connections_that_never_send_a_head() {
    let own = std::process::id().to_string();
    let inspect = Running::start(Command::new(BINARY), &["--metrics", "127.0.0.1:0", &own]);
    let address = inspect.metrics.clone().expect("serving");
    let mut half_sent: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = TcpStream::connect(&address).expect("connect");
            stream
                .write_all(b"GET /metrics HTTP/1.1\r\n")
                .expect("half a head");
            stream
        })
        .collect();
    for stream in &mut half_sent {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        let mut byte = [0u8; 512];
        // Closed (0) or answered with an error: either way not held.
        let read = crate::common::read_some(stream, &mut byte).expect("closed before 30 s");
        assert!(
            read == 0 || byte.starts_with(b"HTTP/1.1 408"),
            "{read} bytes"
        );
    }
    assert!(inspect.scrape().starts_with("HTTP/1.1 200"));
}

#[test]
fn a_zombie_a_missing_capability_and_pid_1_each_get_one_line_of_ours() {
    let mut zombie = Command::new("true").spawn().expect("a child");
    let pid = zombie.id().to_string();
    let state = || std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    assert!(crate::common::eventually(Duration::from_secs(10), || {
        state().contains(") Z ")
    }));
    let (status, stderr) = inspect_to_end(&mut Command::new(BINARY), &["--once", &pid]);
    zombie.wait().expect("reap it");
    assert_eq!(status, Some(2), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("PID {pid}")) && stderr.contains("zombie"),
        "{stderr}"
    );

    let (status, stderr) = inspect_to_end(&mut Command::new(BINARY), &["--once", "1"]);
    assert!(
        status == Some(2) || status == Some(0) || status == Some(1),
        "{stderr}"
    );
    if status == Some(2) {
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(
            stderr.contains("PID 1") && !stderr.contains("bug"),
            "{stderr}"
        );
    }

    if !is_root() {
        eprintln!("skipped: dropping a capability needs root");
        return;
    }
    let own = std::process::id().to_string();
    let mut without = Command::new("setpriv");
    without.args([
        "--inh-caps=-sys_ptrace",
        "--bounding-set=-sys_ptrace",
        BINARY,
    ]);
    let (status, stderr) = inspect_to_end(&mut without, &["--once", &own]);
    if status != Some(2) {
        eprintln!("skipped: this machine lets root read without CAP_SYS_PTRACE");
        return;
    }
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains(&format!("PID {own}")) && stderr.contains("CAP_SYS_PTRACE"),
        "{stderr}"
    );
    assert!(!stderr.contains("bug"), "{stderr}");
}
