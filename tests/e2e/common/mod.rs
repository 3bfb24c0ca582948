//! What the end-to-end tests share: servers started as processes
//! ([`spawn`]) or in this process ([`in_process`]), and plain HTTP over
//! loopback to drive either.

#![allow(dead_code)] // Each test module uses its own part.

pub mod in_process;
pub mod inspect_run;
pub mod netns;
pub mod program;
pub mod spawn;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

/// Reads what has come, again when a signal cut the read short: a socket
/// with a read timeout is not restarted after a signal, and the test
/// process gets one (`SIGCHLD`) each time any test's child exits.
pub fn read_some(stream: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match stream.read(buffer) {
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            read => return read,
        }
    }
}

pub use in_process::{InProcess, InProcessPair, serve, serve_pair, serve_server2_for};
use reqwest_connection_leak::observe::metrics::samples;
// The demo's counts: the tests hold the servers to the rule it reports.
pub use reqwest_connection_leak::scenario::verdict::Counts;
use serde_json::Value;
pub use spawn::{
    BINARY, Pair, ServerProcess, Signals, launcher, server2_for, start_limited, start_pair,
    start_server, start_server_with,
};

/// How long a request may take to be answered. Generous: the machine is
/// shared and debug builds are slow.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the tests ask of a server, wherever it runs.
pub trait ServerExt {
    /// Where to reach it.
    fn address(&self) -> SocketAddr;

    /// `GET /hello`'s task count.
    fn hello_tasks(&self) -> usize {
        let answer = get(self.address(), "/hello");
        assert_eq!(answer.status, 200, "{answer:?}");
        count(&answer.json(), "goRoutines")
    }
}

impl ServerExt for ServerProcess {
    fn address(&self) -> SocketAddr {
        self.address
    }
}

/// A server known by its address alone.
pub struct Reached(pub SocketAddr);

impl ServerExt for Reached {
    fn address(&self) -> SocketAddr {
        self.0
    }
}

impl ServerExt for InProcess {
    fn address(&self) -> SocketAddr {
        self.address
    }
}

/// What the tests ask of a pair, wherever it runs: the curl loop.
pub trait PairExt {
    type Server: ServerExt;

    /// Server 1 and server 2.
    fn servers(&self) -> (&Self::Server, &Self::Server);

    /// One `/forward` request, as one turn of the curl loop.
    fn forward(&self) -> Counts {
        let answer = get(self.servers().1.address(), "/forward");
        assert_eq!(answer.status, 200, "{answer:?}");
        let body = answer.json();
        Counts {
            server2: count(&body, "goRoutines"),
            server1: count(&body["server1Response"], "goRoutines"),
        }
    }

    /// `requests` sequential `/forward` requests; the counts of each.
    fn forward_many(&self, requests: usize) -> Vec<Counts> {
        (0..requests).map(|_| self.forward()).collect()
    }

    /// Both roles' own count now, from `/hello` on each. Each includes the
    /// connection that asks.
    fn idle_counts(&self) -> Counts {
        let (server1, server2) = self.servers();
        Counts {
            server2: server2.hello_tasks(),
            server1: server1.hello_tasks(),
        }
    }
}

impl PairExt for Pair {
    type Server = ServerProcess;
    fn servers(&self) -> (&ServerProcess, &ServerProcess) {
        (&self.server1, &self.server2)
    }
}

impl PairExt for InProcessPair {
    type Server = InProcess;
    fn servers(&self) -> (&InProcess, &InProcess) {
        (&self.server1, &self.server2)
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
    send(address, method, path, &[], "")
}

/// `PUT path` with a JSON `body`, as curl sends it, with `headers` more
/// (a `Host` among them replaces curl's).
pub fn put_json(address: SocketAddr, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    send(address, "PUT", path, &all, body)
}

/// `method path` with `headers` and `body`.
pub fn send(
    address: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Answer {
    let mut stream = connect(address);
    let host = address.to_string();
    let host = headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("host"))
        .map_or(host.as_str(), |(_, value)| value);
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {host}\r\n");
    for (name, value) in headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("host"))
    {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
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
        match read_some(&mut stream, &mut buffer).expect("read answer") {
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

/// The first line a child writes to `output` (its standard output or
/// error, taken from it), without the line's end: what a started program
/// says once it is ready.
pub fn first_line(output: impl Read) -> String {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(output)
        .read_line(&mut line)
        .expect("its first line");
    line.trim_end().to_owned()
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
    watched_upstream(delay, answer, connections).0
}

/// Like [`slow_upstream`], and says on the channel each time a request has
/// arrived: how a test knows a request is in flight without sleeping.
pub fn watched_upstream(
    delay: Duration,
    answer: Vec<u8>,
    connections: usize,
) -> (SocketAddr, std::sync::mpsc::Receiver<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let address = listener.local_addr().expect("address");
    let (arrived, arrivals) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for mut stream in listener.incoming().take(connections).flatten() {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let _ = arrived.send(());
            thread::sleep(delay);
            // The client may stop reading early (an oversized body).
            let _ = stream.write_all(&answer);
        }
    });
    (address, arrivals)
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

/// A loopback port that refuses connections: bound, so that no one else
/// can take it, but not listening. It stays refused while this is kept.
pub struct ClosedPort {
    _socket: socket2::Socket,
    pub address: SocketAddr,
}

impl ClosedPort {
    pub fn new() -> ClosedPort {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::IPV4, Type::STREAM, None).expect("a socket");
        socket
            .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
            .expect("bind");
        let address = socket
            .local_addr()
            .ok()
            .and_then(|address| address.as_socket())
            .expect("an address");
        ClosedPort {
            _socket: socket,
            address,
        }
    }
}

/// The samples of a scrape, by name with labels, e.g.
/// `forward_requests_total{outcome="ok"}`.
pub fn scrape(server: &impl ServerExt) -> BTreeMap<String, f64> {
    let answer = get(server.address(), "/metrics");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.header("content-type"),
        Some("application/openmetrics-text; version=1.0.0; charset=utf-8")
    );
    assert!(answer.body.ends_with("# EOF\n"), "{}", answer.body);
    samples(&answer.body)
}

/// One sample of a scrape; the test fails if it is missing.
pub fn sample(samples: &BTreeMap<String, f64>, name: &str) -> f64 {
    *samples
        .get(name)
        .unwrap_or_else(|| panic!("no {name} in {samples:?}"))
}

/// A TCP relay on loopback that passes every connection on to a target
/// given later: a way to point a server at itself (or at a server started
/// after it) without knowing its port in advance. Its threads end with the
/// test process.
pub struct Relay {
    pub address: SocketAddr,
    target: std::sync::Arc<std::sync::OnceLock<SocketAddr>>,
}

impl Relay {
    pub fn new() -> Relay {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the relay");
        let address = listener.local_addr().expect("address");
        let target = std::sync::Arc::new(std::sync::OnceLock::<SocketAddr>::new());
        let to = target.clone();
        thread::spawn(move || {
            for inbound in listener.incoming().flatten() {
                let Some(outbound) = to.get().and_then(|at| TcpStream::connect(at).ok()) else {
                    continue;
                };
                pipe(&inbound, &outbound);
                pipe(&outbound, &inbound);
            }
        });
        Relay { address, target }
    }

    /// Where every connection goes from now on.
    pub fn forward_to(&self, target: SocketAddr) {
        self.target.set(target).expect("one target");
    }
}

/// Copies `from` into `to` on a thread, until `from` ends.
fn pipe(from: &TcpStream, to: &TcpStream) {
    let (Ok(mut from), Ok(mut to)) = (from.try_clone(), to.try_clone()) else {
        return;
    };
    thread::spawn(move || {
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(std::net::Shutdown::Write);
    });
}

/// Runs `check` for each of `scenarios`, each on a thread of its own, all
/// at once; fails naming those whose check failed (their panics are
/// printed above).
pub fn check_each<'a>(
    scenarios: impl Iterator<Item = &'a reqwest_connection_leak::scenario::Scenario>,
    check: fn(&reqwest_connection_leak::scenario::Scenario),
) {
    let failures: Vec<&str> = thread::scope(|scope| {
        let runs: Vec<_> = scenarios
            .map(|scenario| (scenario.name, scope.spawn(move || check(scenario))))
            .collect();
        runs.into_iter()
            .filter_map(|(name, run)| run.join().err().map(|_| name))
            .collect()
    });
    assert!(failures.is_empty(), "failed: {failures:?} (see above)");
}

/// Whether this build has Linux's view (`cfg(linux_view)`); where it does
/// not, the build a Mac gets, says on standard error that `test` skips
/// because it needs `what`.
pub fn on_linux(test: &str, what: &str) -> bool {
    if !cfg!(linux_view) {
        eprintln!("skipped {test}: it needs {what}, which only Linux has");
    }
    cfg!(linux_view)
}

/// Whether the tests run as root: `/proc/self` belongs to the effective
/// user.
pub fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|meta| meta.uid() == 0)
}
