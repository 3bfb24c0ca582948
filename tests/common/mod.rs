//! What the end-to-end tests share: the library's harness, started with
//! this package's binary, and plain HTTP over loopback to drive it.
//!
//! The harness starts each server with a clean environment on
//! `127.0.0.1:0` and learns its address from the line it writes to standard
//! output; see `reqwest_connection_leak::harness`.

#![allow(dead_code)] // Each test file uses its own part of the harness.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use reqwest_connection_leak::harness::Launcher;
pub use reqwest_connection_leak::harness::{Pair, Server};
// The demo's counts: the tests hold the servers to the rule it reports.
pub use reqwest_connection_leak::scenario::verdict::Counts;
use serde_json::Value;

pub const BINARY: &str = env!("CARGO_BIN_EXE_reqwest-connection-leak");

/// How long a request may take to be answered. Generous: the machine is
/// shared and debug builds are slow.
const PATIENCE: Duration = Duration::from_secs(20);

/// Servers of this package's binary, logging every answer.
pub fn launcher() -> Launcher {
    Launcher::new(BINARY, "info")
}

/// A server on a free loopback port, unless `env` sets `BIND_ADDRESS`.
pub fn start_server(name: &str, env: &[(&str, &str)]) -> Server {
    launcher().server(name, env).expect("start the server")
}

/// A server with exactly these variables set (and RUST_LOG=info).
pub fn start_server_with(name: &str, env: &[(&str, &str)]) -> Server {
    launcher().server_with(name, env).expect("start the server")
}

/// A server started under `ulimit` with `limit`, e.g. `-n 64`.
pub fn start_limited(name: &str, limit: &str, env: &[(&str, &str)]) -> Server {
    launcher()
        .server_limited(name, limit, env)
        .expect("start the server")
}

/// Server 1, and server 2 pointed at it.
pub fn start_pair(server1_env: &[(&str, &str)], server2_env: &[(&str, &str)]) -> Pair {
    launcher()
        .pair(server1_env, server2_env)
        .expect("start the pair")
}

/// What the tests ask of a server.
pub trait ServerExt {
    /// `GET /hello`'s task count.
    fn hello_tasks(&self) -> usize;
    /// Sends a signal to the server, e.g. `TERM`.
    fn signal(&self, signal: &str);
}

impl ServerExt for Server {
    fn hello_tasks(&self) -> usize {
        let answer = get(self.address, "/hello");
        assert_eq!(answer.status, 200, "{answer:?}");
        count(&answer.json(), "goRoutines")
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }
}

/// What the tests ask of a pair: the curl loop.
pub trait PairExt {
    /// One `/forward` request, as one turn of the curl loop.
    fn forward(&self) -> Counts;
    /// `requests` sequential `/forward` requests; the counts of each.
    fn forward_many(&self, requests: usize) -> Vec<Counts>;
    /// Both roles' own count now, from `/hello` on each. Each includes the
    /// connection that asks.
    fn idle_counts(&self) -> Counts;
}

impl PairExt for Pair {
    fn forward(&self) -> Counts {
        let answer = get(self.server2.address, "/forward");
        assert_eq!(answer.status, 200, "{answer:?}");
        let body = answer.json();
        Counts {
            server2: count(&body, "goRoutines"),
            server1: count(&body["server1Response"], "goRoutines"),
        }
    }

    fn forward_many(&self, requests: usize) -> Vec<Counts> {
        (0..requests).map(|_| self.forward()).collect()
    }

    fn idle_counts(&self) -> Counts {
        Counts {
            server2: self.server2.hello_tasks(),
            server1: self.server1.hello_tasks(),
        }
    }
}

fn count(body: &Value, field: &str) -> usize {
    body[field]
        .as_u64()
        .and_then(|count| usize::try_from(count).ok())
        .unwrap_or_else(|| panic!("no whole number {field:?} in {body}"))
}

/// An HTTP answer, read whole from a connection the server closed.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    /// The header lines, lower-cased names, as `name: value`.
    pub headers: Vec<String>,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|err| panic!("body is not JSON ({err}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let prefix = format!("{name}: ");
        self.headers
            .iter()
            .find_map(|line| line.strip_prefix(&prefix))
    }
}

/// `GET path` on a new connection, closed after the answer, like curl.
pub fn get(address: SocketAddr, path: &str) -> Answer {
    request(address, "GET", path)
}

/// `method path` on a new connection, closed after the answer, like curl:
/// the request asks for nothing about the connection, and the answer is
/// read by its `Content-Length`.
pub fn request(address: SocketAddr, method: &str, path: &str) -> Answer {
    let mut stream = connect(address);
    let head = format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 0\r\n\r\n");
    stream.write_all(head.as_bytes()).expect("write request");
    let mut raw = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        if let Some(answer) = parse_answer(&String::from_utf8_lossy(&raw)) {
            let expected: Option<usize> = answer
                .header("content-length")
                .and_then(|length| length.parse().ok());
            if expected.is_some_and(|length| answer.body.len() >= length) {
                return answer;
            }
        }
        match stream.read(&mut buffer).expect("read answer") {
            0 => break,
            read => raw.extend_from_slice(&buffer[..read]),
        }
    }
    let raw = String::from_utf8_lossy(&raw);
    parse_answer(&raw).unwrap_or_else(|| panic!("not an HTTP answer: {raw:?}"))
}

/// Writes `bytes` and reads until the server closes the connection.
pub fn exchange_raw(address: SocketAddr, bytes: &[u8]) -> String {
    let mut stream = connect(address);
    stream.write_all(bytes).expect("write request");
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read answer");
    String::from_utf8_lossy(&raw).into_owned()
}

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
}

fn parse_answer(raw: &str) -> Option<Answer> {
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .map(|line| {
            let (name, value) = line.split_once(':').unwrap_or((line, ""));
            format!("{}: {}", name.to_ascii_lowercase(), value.trim())
        })
        .collect();
    Some(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// Polls `condition` every 50 ms until it holds or `limit` passes.
pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if condition() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(50));
    }
}

/// A stand-in for server 1 that gives every one of `connections`
/// connections the same raw answer, then closes it. Its thread ends after
/// the last one.
pub fn fake_upstream(answer: Vec<u8>, connections: usize) -> SocketAddr {
    slow_upstream(Duration::ZERO, answer, connections)
}

/// Like [`fake_upstream`], but each answer waits `delay` first.
pub fn slow_upstream(delay: Duration, answer: Vec<u8>, connections: usize) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let address = listener.local_addr().expect("address");
    thread::spawn(move || {
        for mut stream in listener.incoming().take(connections).flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            thread::sleep(delay);
            // The client may stop reading early (an oversized body).
            let _ = stream.write_all(&answer);
        }
    });
    address
}

/// A complete, valid `/hello` answer, as raw bytes.
pub fn hello_answer() -> Vec<u8> {
    let body = r#"{"msg":"Hello World","goRoutines":1}"#;
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// An address nothing listens on: bound, then released.
pub fn closed_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address")
}

/// The samples of a scrape, by name with labels, e.g.
/// `forward_requests_total{outcome="ok"}`.
pub fn scrape(server: &Server) -> HashMap<String, f64> {
    let answer = get(server.address, "/metrics");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(answer.body.ends_with("# EOF\n"), "{}", answer.body);
    answer
        .body
        .lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (name, value) = line.rsplit_once(' ')?;
            Some((name.to_owned(), value.parse().ok()?))
        })
        .collect()
}

/// One sample of a scrape; the test fails if it is missing.
pub fn sample(samples: &HashMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {samples:?}"))
}
