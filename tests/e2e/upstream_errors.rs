//! A failing server 1 gives a 502 with a JSON error, and never takes
//! server 2 down. In process: the wire is the subject, not the process.

use crate::common::{Answer, ClosedPort, InProcess, fake_upstream, get, serve_server2_for};

/// Asserts a 502 whose JSON error mentions `cause`, then that server 2
/// still answers.
fn assert_bad_gateway(server2: &InProcess, answer: &Answer, cause: &str) {
    assert_eq!(answer.status, 502, "{answer:?}");
    assert_eq!(answer.header("content-type"), Some("application/json"));
    let error = answer.json()["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error text: {}", answer.body))
        .to_owned();
    assert!(
        error.starts_with("could not forward to server 1: "),
        "{error}"
    );
    assert!(error.contains(cause), "expected {cause:?} in {error:?}");
    assert_eq!(get(server2.address, "/hello").status, 200);
}

fn raw_answer(head: &str, body: &[u8]) -> Vec<u8> {
    let mut bytes = head.replace('\n', "\r\n").into_bytes();
    bytes.extend_from_slice(b"\r\n");
    bytes.extend_from_slice(body);
    bytes
}

#[test]
fn a_refused_connection_is_a_bad_gateway() {
    let closed = ClosedPort::new();
    let server2 = serve_server2_for(closed.address, &[]);
    let answer = get(server2.address, "/forward");
    assert_bad_gateway(&server2, &answer, "Connection refused");
}

#[test]
fn garbage_instead_of_http_is_a_bad_gateway() {
    let server2 = serve_server2_for(fake_upstream(b"this is not http\r\n\r\n".to_vec(), 1), &[]);
    let answer = get(server2.address, "/forward");
    assert_bad_gateway(&server2, &answer, "upstream request failed");
}

#[test]
fn a_body_that_is_not_hello_json_is_a_bad_gateway() {
    let head = "HTTP/1.1 200 OK\nContent-Length: 9\nContent-Type: application/json\n";
    let server2 = serve_server2_for(fake_upstream(raw_answer(head, b"not json!"), 1), &[]);
    let answer = get(server2.address, "/forward");
    assert_bad_gateway(&server2, &answer, "not the expected JSON");
}

#[test]
fn a_non_2xx_status_is_a_bad_gateway() {
    let head = "HTTP/1.1 503 Service Unavailable\nContent-Length: 0\n";
    let server2 = serve_server2_for(fake_upstream(raw_answer(head, b""), 1), &[]);
    let answer = get(server2.address, "/forward");
    assert_bad_gateway(&server2, &answer, "status 503 Service Unavailable");
}

#[test]
fn an_oversized_body_is_refused_however_it_is_framed() {
    let two_mib = vec![b'x'; 2 * 1024 * 1024];
    let mut chunked = Vec::new();
    for chunk in two_mib.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        chunked.extend_from_slice(chunk);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let framings = [
        (
            "content-length",
            raw_answer("HTTP/1.1 200 OK\nContent-Length: 2097152\n", &two_mib),
        ),
        (
            "chunked",
            raw_answer("HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n", &chunked),
        ),
        (
            "close-delimited",
            raw_answer("HTTP/1.1 200 OK\nConnection: close\n", &two_mib),
        ),
    ];
    for (framing, bytes) in framings {
        let server2 = serve_server2_for(fake_upstream(bytes, 1), &[]);
        let answer = get(server2.address, "/forward");
        eprintln!("framing: {framing}");
        assert_bad_gateway(&server2, &answer, "larger than 1048576 bytes");
    }
}
