//! A failing server 1 gives a 502 with a JSON error, and never takes
//! server 2 down. In process: the wire is the subject, not the process.

use crate::common::{
    Answer, ClosedPort, InProcess, fake_upstream, get, hello_answer, serve, serve_server2_for,
};

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
fn a_refused_connection_is_a_bad_gateway_that_says_how_to_start_server_1() {
    let closed = ClosedPort::new();
    let server2 = serve_server2_for(closed.address, &[]);
    let answer = get(server2.address, "/forward");
    assert_bad_gateway(&server2, &answer, "Connection refused");
    assert!(
        answer.body.contains(
            "is server 1 running where UPSTREAM_URL says? Start it with `cargo run --release`"
        ),
        "{answer:?}"
    );
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

/// A stand-in for server 1 that answers by path, each answer closing its
/// connection: `/chain/N` redirects (302) to `/chain/N-1` and `/chain/0`
/// is a `/hello` answer; `/status/CODE` answers CODE with a `Location` of
/// `/chain/0`, `/bare/CODE` without one, `/empty/CODE` with an empty one;
/// `/long/N` redirects (307) to `/chain/0` with a query of N bytes.
/// Its thread ends after `connections` connections.
fn redirecting_upstream(connections: usize) -> std::net::SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for mut stream in listener.incoming().take(connections).flatten() {
            let mut request = [0u8; 4096];
            let read = stream.read(&mut request).unwrap_or(0);
            let request = String::from_utf8_lossy(&request[..read]).into_owned();
            let target = request.split(' ').nth(1).unwrap_or("/");
            let path = target.split('?').next().unwrap_or("/").to_owned();
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let answer = match parts.as_slice() {
                ["chain", "0"] => String::from_utf8(hello_answer()).expect("text"),
                ["chain", n] => {
                    let next = n.parse::<u32>().unwrap_or(1) - 1;
                    redirect_answer(302, Some(&format!("/chain/{next}")))
                }
                ["status", code] => redirect_answer(code.parse().unwrap_or(500), Some("/chain/0")),
                ["bare", code] => redirect_answer(code.parse().unwrap_or(500), None),
                ["empty", code] => redirect_answer(code.parse().unwrap_or(500), Some("")),
                ["long", n] => {
                    let query = "x".repeat(n.parse().unwrap_or(1));
                    redirect_answer(307, Some(&format!("/chain/0?{query}")))
                }
                _ => redirect_answer(404, None),
            };
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    address
}

fn redirect_answer(status: u16, location: Option<&str>) -> String {
    let location = location.map_or(String::new(), |to| format!("Location: {to}\r\n"));
    format!("HTTP/1.1 {status} Status\r\n{location}Content-Length: 0\r\nConnection: close\r\n\r\n")
}

#[test]
fn a_redirect_past_the_longest_url_is_named_by_its_length_not_echoed() {
    let upstream = redirecting_upstream(4);
    let server2 = serve(&[("UPSTREAM_URL", &format!("http://{upstream}/long/60000"))]);
    let answer = get(server2.address, "/forward");
    assert_eq!(
        answer.status, 200,
        "followed, as Go does: {}",
        answer.status
    );

    let server2 = serve(&[("UPSTREAM_URL", &format!("http://{upstream}/long/70000"))]);
    let answer = get(server2.address, "/forward");
    let length = format!("http://{upstream}/chain/0?").len() + 70_000;
    assert_bad_gateway(
        &server2,
        &answer,
        &format!("redirected to a target of {length} bytes, over the 65534 this client can send"),
    );
    assert!(answer.body.len() < 1000, "{} bytes", answer.body.len());
}

#[test]
fn redirects_are_followed_as_go_follows_them() {
    let upstream = redirecting_upstream(200);
    // (path, what Go does): 200 where it follows to /hello's answer, or the
    // error /forward reports.
    let cases = [
        ("/status/301", Ok(())),
        ("/status/302", Ok(())),
        ("/status/303", Ok(())),
        ("/status/307", Ok(())),
        ("/status/308", Ok(())),
        ("/status/300", Err("status 300")),
        ("/status/304", Err("status 304")),
        ("/status/305", Err("status 305")),
        ("/status/399", Err("status 399")),
        ("/bare/302", Err("status 302")),
        ("/empty/302", Err("status 302")),
        ("/chain/9", Ok(())),
        ("/chain/10", Err("stopped after 10 redirects")),
    ];
    for (path, expected) in cases {
        let server2 = serve(&[("UPSTREAM_URL", &format!("http://{upstream}{path}"))]);
        let answer = get(server2.address, "/forward");
        match expected {
            Ok(()) => assert_eq!(answer.status, 200, "{path}: {answer:?}"),
            Err(cause) => assert_bad_gateway(&server2, &answer, cause),
        }
    }
}
