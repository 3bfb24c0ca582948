//! `RESPONSE_HEADER_TIMEOUT`, Go's `Transport.ResponseHeaderTimeout`: a
//! head later than it after the request is a 504 counted as `timeout`; an
//! answer whose head comes in time arrives whole however slow its body;
//! 0 waits as long as it takes. In process: the wire is the subject.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::thread;
use std::time::Duration;

use crate::common::{get, hello_answer, scrape, serve_server2_for, slow_upstream};

/// Longer than the limit of these tests, 300 ms, by more than a busy
/// machine's delays.
const LATE: Duration = Duration::from_millis(1500);

/// A server 1 that answers one request with its head at once and its body
/// `LATE` after.
fn slow_body_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind fake upstream");
    let address = listener.local_addr().expect("address");
    thread::spawn(move || {
        let Some(Ok(mut stream)) = listener.incoming().next() else {
            return;
        };
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let answer = hello_answer();
        let head_end = answer
            .windows(4)
            .position(|window| window == b"\r\n\r\n")
            .expect("a head")
            + 4;
        let (head, body) = answer.split_at(head_end);
        let _ = stream.write_all(head);
        let _ = stream.flush();
        thread::sleep(LATE);
        let _ = stream.write_all(body);
    });
    address
}

#[test]
fn a_head_later_than_the_response_header_timeout_is_a_504_counted_as_timeout() {
    let silent = slow_upstream(LATE, hello_answer(), 1);
    let server2 = serve_server2_for(silent, &[("RESPONSE_HEADER_TIMEOUT", "300ms")]);
    let answer = get(server2.address, "/forward");
    assert_eq!(answer.status, 504, "{answer:?}");
    let error = answer.json()["error"].as_str().unwrap_or("").to_owned();
    assert!(
        error.contains("no answer head within RESPONSE_HEADER_TIMEOUT (300ms)"),
        "{error}"
    );
    let figures = scrape(&server2);
    assert_eq!(
        figures.get(r#"forward_requests_total{outcome="timeout"}"#),
        Some(&1.0),
        "{figures:?}"
    );
}

#[test]
fn a_body_slower_than_the_response_header_timeout_still_arrives_whole() {
    let server2 = serve_server2_for(
        slow_body_upstream(),
        &[("RESPONSE_HEADER_TIMEOUT", "300ms")],
    );
    let answer = get(server2.address, "/forward");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["server1Response"]["msg"], "Hello World");
}

#[test]
fn zero_waits_for_a_late_head_as_long_as_it_takes() {
    let late = slow_upstream(LATE, hello_answer(), 1);
    let server2 = serve_server2_for(late, &[("RESPONSE_HEADER_TIMEOUT", "0")]);
    let answer = get(server2.address, "/forward");
    assert_eq!(answer.status, 200, "{answer:?}");
}
