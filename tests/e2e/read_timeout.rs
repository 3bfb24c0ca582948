//! `SERVER_READ_TIMEOUT`, Go's `http.Server.ReadTimeout`: a deadline on
//! reading a request's head, and the idle timeout when `SERVER_IDLE_TIMEOUT`
//! is 0, as Go's `Server.idleTimeout` reads it. What Go does was read off
//! the Go original built with `ReadTimeout` set; its row in
//! docs/how-the-port-models-go.md ("Each knob against Go's") says it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use reqwest_connection_leak::scenario::verdict::FLAT_BELOW;

use crate::common::{PairExt, ServerExt, eventually, put_json, serve, serve_pair};

/// Longer than any deadline here, on a busy machine.
const PATIENCE: Duration = Duration::from_secs(10);

fn connect(address: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(PATIENCE)).expect("timeout");
    stream
}

/// Everything read until the server closes the connection, and how long
/// that took from `since`.
fn read_until_closed(stream: &mut TcpStream, since: Instant) -> (String, Duration) {
    let mut read = Vec::new();
    stream
        .read_to_end(&mut read)
        .expect("the server closes the connection within the patience");
    (String::from_utf8_lossy(&read).into_owned(), since.elapsed())
}

/// Reads until the server closes `stream`: not a byte of an answer, as Go
/// gives none, and not before `at_least` from `since`.
fn closes_unanswered(stream: &mut TcpStream, since: Instant, at_least: Duration) {
    let (answer, after) = read_until_closed(stream, since);
    assert_eq!(answer, "", "no answer");
    assert!(after >= at_least, "closed after {after:?}");
}

/// One whole `GET /hello` on `stream`, kept alive: its answer.
fn hello_on(stream: &mut TcpStream) -> String {
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    answer_on(stream)
}

#[test]
fn a_request_head_slower_than_it_gets_no_answer_and_the_connection_closes() {
    let server = serve(&[("SERVER_READ_TIMEOUT", "300ms")]);
    let mut stream = connect(server.address);
    let sent = Instant::now();
    stream
        .write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n")
        .expect("write");
    closes_unanswered(&mut stream, sent, Duration::from_millis(300));
}

#[test]
fn a_head_that_comes_in_time_is_answered_and_the_next_gets_a_deadline_of_its_own() {
    let server = serve(&[
        ("SERVER_READ_TIMEOUT", "300ms"),
        ("SERVER_IDLE_TIMEOUT", "5s"),
    ]);
    let mut stream = connect(server.address);
    assert!(hello_on(&mut stream).starts_with("http/1.1 200"));
    // The next head's deadline starts at its first byte, not at the
    // answer before it: taken before the write, since the server may read
    // the byte before this thread runs again.
    let sent = Instant::now();
    stream.write_all(b"GET /hello HTTP/1.1\r\n").expect("write");
    closes_unanswered(&mut stream, sent, Duration::from_millis(300));
}

#[test]
fn alone_it_is_the_idle_timeout_too() {
    let server = serve(&[("SERVER_READ_TIMEOUT", "500ms")]);
    let mut stream = connect(server.address);
    // The wait began as the answer went out, after the request was sent:
    // timed from before the request, however late this thread reads.
    let asked = Instant::now();
    assert!(hello_on(&mut stream).starts_with("http/1.1 200"));
    closes_unanswered(&mut stream, asked, Duration::from_millis(500));
}

#[test]
fn with_an_idle_timeout_set_the_idle_one_governs_the_wait() {
    let server = serve(&[
        ("SERVER_READ_TIMEOUT", "200ms"),
        ("SERVER_IDLE_TIMEOUT", "10s"),
    ]);
    let mut stream = connect(server.address);
    assert!(hello_on(&mut stream).starts_with("http/1.1 200"));
    // Idle for five read timeouts: the connection is still there, as the
    // next request's answer shows.
    std::thread::sleep(Duration::from_secs(1));
    assert!(hello_on(&mut stream).starts_with("http/1.1 200"));
}

#[test]
fn switched_on_a_leaking_pair_it_reclaims_what_leaks_after_it_and_keeps_what_leaked() {
    let pair = serve_pair(&[], &[]);
    let leaked = *pair.forward_many(20).last().expect("20 answers");
    let switched = put_json(
        pair.server2.address,
        "/upstream/settings",
        r#"{"SERVER_READ_TIMEOUT":"1s"}"#,
        &[],
    );
    assert_eq!(switched.status, 200, "{switched:?}");
    pair.forward_many(20);
    // The 20 connections after the switch close after a second idle; the
    // 20 before it wait on with the deadline they set: none.
    let mut tasks = 0;
    let settled = eventually(Duration::from_secs(6), || {
        tasks = pair.server1.hello_tasks();
        tasks <= leaked.server1 + 1
    });
    assert!(
        settled,
        "server 1 at {tasks}, {} before the switch",
        leaked.server1
    );
    assert!(
        tasks + FLAT_BELOW > leaked.server1,
        "what leaked before stays: {tasks}"
    );
}

/// The answer to a request on `stream`, read up to the end of its body,
/// in lower case.
fn answer_on(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let mut byte = [0; 1];
    while !answer.ends_with(b"}") {
        let read = crate::common::read_some(stream, &mut byte).expect("an answer");
        assert_eq!(
            read,
            1,
            "closed after {:?}",
            String::from_utf8_lossy(&answer)
        );
        answer.push(byte[0]);
    }
    String::from_utf8_lossy(&answer).to_ascii_lowercase()
}

#[test]
fn a_slow_body_on_hello_is_answered_at_the_deadline_with_connection_close_as_go_does() {
    let server = serve(&[("SERVER_READ_TIMEOUT", "300ms")]);
    let mut stream = connect(server.address);
    let sent = Instant::now();
    stream
        .write_all(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .expect("write");
    let answer = answer_on(&mut stream);
    let after = sent.elapsed();
    assert!(answer.starts_with("http/1.1 200 ok\r\n"), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert!(
        answer.contains("\r\n\r\n{\"msg\":\"hello world\",\"goroutines\":"),
        "{answer}"
    );
    // Go reads what the handler left until the deadline, then answers.
    assert!(
        after >= Duration::from_millis(250),
        "answered after {after:?}"
    );
    let (more, _) = read_until_closed(&mut stream, sent);
    assert_eq!(more, "", "then the connection closes");
}

#[test]
fn a_body_that_ends_in_time_leaves_the_connection_for_the_next_request() {
    let server = serve(&[("SERVER_READ_TIMEOUT", "5s")]);
    let mut stream = connect(server.address);
    stream
        .write_all(b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
        .expect("write");
    std::thread::sleep(Duration::from_millis(100));
    stream.write_all(b"cdefghij").expect("write the rest");
    let answer = answer_on(&mut stream);
    assert!(answer.starts_with("http/1.1 200 ok\r\n"), "{answer}");
    assert!(!answer.contains("connection: close"), "{answer}");
    assert!(hello_on(&mut stream).starts_with("http/1.1 200"));
}

/// Writes `bytes` one at a time, `every` apart, as long as the server
/// takes them.
fn trickle(stream: &mut TcpStream, bytes: &[u8], every: Duration) {
    for byte in bytes {
        if stream.write_all(&[*byte]).is_err() {
            return;
        }
        std::thread::sleep(every);
    }
}

#[test]
fn one_deadline_covers_a_requests_head_and_the_body_left_after_its_answer() {
    let server = serve(&[("SERVER_READ_TIMEOUT", "1s")]);
    let mut stream = connect(server.address);
    // The head takes 0.6 s, the body 0.8 s more: 1.4 s in all, past the
    // one deadline though each part alone is within the timeout.
    let head = b"POST /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 8\r\n\r\n";
    trickle(
        &mut stream,
        head,
        Duration::from_millis(600) / head.len() as u32,
    );
    let mut body = stream.try_clone().expect("a second handle");
    let writer = std::thread::spawn(move || {
        trickle(&mut body, b"abcdefgh", Duration::from_millis(100));
    });
    let answer = answer_on(&mut stream);
    writer.join().expect("the writer");
    assert!(answer.starts_with("http/1.1 200 ok\r\n"), "{answer}");
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
}

#[test]
fn a_switch_whose_body_misses_the_deadline_gets_408_and_the_connection_closes() {
    let server = serve(&[("SERVER_READ_TIMEOUT", "500ms")]);
    let mut stream = connect(server.address);
    let head = format!(
        "PUT /settings HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 40\r\n\r\n{{",
        server.address
    );
    stream.write_all(head.as_bytes()).expect("write");
    let mut body = stream.try_clone().expect("a second handle");
    let writer = std::thread::spawn(move || {
        trickle(
            &mut body,
            br#""IDLE_CONN_TIMEOUT":  "1s"     }"#,
            Duration::from_millis(100),
        );
    });
    let answer = answer_on(&mut stream);
    assert!(
        answer.starts_with("http/1.1 408 request timeout\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");
    assert!(answer.contains("server_read_timeout"), "{answer}");
    let (more, _) = read_until_closed(&mut stream, Instant::now());
    assert_eq!(more, "", "then the connection closes");
    writer.join().expect("the writer");
    let figures = crate::common::get(server.address, "/figures").json();
    assert!(
        figures["switches"].as_array().is_some_and(Vec::is_empty),
        "{figures}"
    );
}

#[test]
fn a_body_announced_with_256_kb_or_more_unread_is_answered_at_once_closing() {
    let server = serve(&[]);
    let cases = [
        ("POST /hello", "http/1.1 200"),
        ("GET /metrics", "http/1.1 200"),
        // Refused for its Host, before its body is read.
        ("PUT /settings", "http/1.1 403"),
    ];
    for (path, expected) in cases {
        let mut stream = connect(server.address);
        let head = format!(
            "{path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 1000000\r\n\r\n123456789"
        );
        stream.write_all(head.as_bytes()).expect("write");
        let (answer, _) = read_until_closed(&mut stream, Instant::now());
        let answer = answer.to_ascii_lowercase();
        assert!(answer.starts_with(expected), "{path}: {answer}");
        assert!(
            answer.contains("\r\nconnection: close\r\n"),
            "{path}: {answer}"
        );
    }
}
