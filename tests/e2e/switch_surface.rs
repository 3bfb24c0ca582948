//! The switches' surface on the wire: what is decided from a request's head
//! before its body is read, the bounds on a body and a value, heads no
//! browser sends, and what the relay to server 1 sends and passes back;
//! and what watching costs server 1.

use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;
use std::time::Duration;

use crate::common::netns::{FIRST_ADDRESS, Namespace, SECOND_ADDRESS};
use crate::common::{get, put_json, sample, scrape, send, serve, serve_pair, serve_server2_for};

/// Writes `head` (a request's head, its blank line included) and reads
/// what the server answers within a few seconds, sending no body.
fn answer_to_head(address: SocketAddr, head: &str) -> String {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(head.as_bytes()).expect("write the head");
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    // The answer is complete once its JSON body has closed.
    while !String::from_utf8_lossy(&answer).ends_with('}') {
        match crate::common::read_some(&mut stream, &mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
        }
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[test]
fn a_refused_switch_is_answered_before_its_body_is_sent_with_no_100_continue() {
    let server = serve(&[]);
    let head = "PUT /settings HTTP/1.1\r\nHost: evil.example\r\nContent-Type: application/json\r\n\
                Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n";
    let answer = answer_to_head(server.address, head);
    assert!(answer.starts_with("HTTP/1.1 403"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"Host \"evil.example\" is not this server"#),
        "{answer}"
    );
    // The same from an allowed caller, announced over the limit: 413, as JSON.
    let head = format!(
        "PUT /settings HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Content-Length: 2000000\r\nExpect: 100-continue\r\n\r\n",
        server.address
    );
    let answer = answer_to_head(server.address, &head);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(!answer.contains("100 Continue"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"a switch is at most 4096 bytes"#),
        "{answer}"
    );
}

#[test]
fn a_chunked_body_over_the_limit_is_refused_as_json() {
    let server = serve(&[]);
    let chunk = "x".repeat(5000);
    let request = format!(
        "PUT /settings HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        server.address,
        chunk.len()
    );
    let answer = answer_to_head(server.address, &request);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(
        answer.contains(r#"{"error":"a switch is at most 4096 bytes"#),
        "{answer}"
    );
}

#[test]
fn a_value_too_long_or_past_gos_range_changes_nothing() {
    let server = serve(&[]);
    let before = get(server.address, "/settings").body;
    let padded = format!("{}1s", "0".repeat(70));
    for (body, expected) in [
        (
            format!(r#"{{"IDLE_CONN_TIMEOUT":"{padded}"}}"#),
            "IDLE_CONN_TIMEOUT: the value is 72 bytes; a switch takes at most 64",
        ),
        (
            r#"{"REQUEST_TIMEOUT":"2562048h"}"#.to_owned(),
            "REQUEST_TIMEOUT: invalid duration \"2562048h\": longer than Go's longest",
        ),
    ] {
        let answer = put_json(server.address, "/settings", &body, &[]);
        assert_eq!(answer.status, 400, "{answer:?}");
        let error = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(error.starts_with(expected), "{error}");
        assert_eq!(get(server.address, "/settings").body, before);
    }
}

/// Headers a switch is sent with, the status it gets and what its error
/// says.
type HeadCase<'a> = (&'a [(&'a str, &'a str)], u16, &'a str);

#[test]
fn heads_no_browser_sends_are_refused() {
    let server = serve(&[]);
    let own = server.address.to_string();
    let switch = r#"{"CONNECTION_CLOSE":"true"}"#;
    let cases: [HeadCase; 3] = [
        (
            &[
                ("Content-Type", "application/json"),
                ("Origin", "http://x"),
                ("Origin", "http://y"),
            ],
            400,
            "two Origin headers",
        ),
        (
            &[
                ("Content-Type", "application/json"),
                ("Content-Type", "text/plain"),
            ],
            400,
            "two Content-Type headers",
        ),
        (&[("Content-Type", "application/json")], 200, ""),
    ];
    for (headers, status, expected) in cases {
        let answer = send(server.address, "PUT", "/settings", headers, switch);
        assert_eq!(answer.status, status, "{headers:?}: {answer:?}");
        if status != 200 {
            assert!(answer.body.contains(expected), "{answer:?}");
        }
    }
    // Two Host headers, and an absolute-form target naming another host.
    for (head, status, expected) in [
        (
            format!("PUT /settings HTTP/1.1\r\nHost: {own}\r\nHost: evil.example\r\n"),
            "400",
            "two Host headers",
        ),
        (
            format!("PUT http://evil.example/settings HTTP/1.1\r\nHost: {own}\r\n"),
            "403",
            "Host \\\"evil.example\\\" is not this server",
        ),
    ] {
        let request = format!(
            "{head}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{switch}",
            switch.len()
        );
        let answer = answer_to_head(server.address, &request);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status}")),
            "{head}: {answer}"
        );
        assert!(answer.contains(expected), "{head}: {answer}");
    }
}

/// A stand-in for server 1 that answers one `PUT /settings` with `answer`
/// and hands back the body it was sent.
fn one_settings_answer(answer: &'static str) -> (SocketAddr, thread::JoinHandle<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    let handle = thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("accept");
        let mut request = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            let read = crate::common::read_some(&mut stream, &mut buffer).expect("read");
            request.extend_from_slice(&buffer[..read]);
            let text = String::from_utf8_lossy(&request).into_owned();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let length: usize = head
                    .lines()
                    .find_map(|line| {
                        line.to_ascii_lowercase()
                            .strip_prefix("content-length: ")
                            .map(str::to_owned)
                    })
                    .and_then(|length| length.trim().parse().ok())
                    .unwrap_or(0);
                if body.len() >= length || read == 0 {
                    stream.write_all(answer.as_bytes()).expect("answer");
                    return body.to_owned();
                }
            }
        }
    });
    (address, handle)
}

#[test]
fn the_relay_sends_a_checked_switch_made_anew_and_passes_back_json_only() {
    let (upstream, sent) = one_settings_answer(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}",
    );
    let server2 = serve_server2_for(upstream, &[]);
    let answer = put_json(
        server2.address,
        "/upstream/settings",
        "  {\"CONNECTION_CLOSE\" :\n\"true\"}  ",
        &[],
    );
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        sent.join().expect("the body"),
        r#"{"CONNECTION_CLOSE":"true"}"#
    );

    // A bad switch never leaves server 2.
    let answer = put_json(
        server2.address,
        "/upstream/settings",
        r#"{"CONNECTION_CLOSE":"maybe"}"#,
        &[],
    );
    assert_eq!(answer.status, 400, "{answer:?}");

    // An answer that is not JSON is not passed on as if it were.
    let (upstream, _) = one_settings_answer(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 6\r\n\r\n<html>",
    );
    let server2 = serve_server2_for(upstream, &[]);
    let answer = put_json(
        server2.address,
        "/upstream/settings",
        r#"{"CONNECTION_CLOSE":"true"}"#,
        &[],
    );
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(
        answer
            .body
            .contains("server 1 answered 200 OK with text/html, not JSON"),
        "{answer:?}"
    );
}

#[test]
fn switches_any_on_server_2_does_not_open_server_1_to_its_peers() {
    let Some((pair_side, peer_side)) = Namespace::linked("relay") else {
        return;
    };
    let server1 = pair_side.server(&[("BIND_ADDRESS", "127.0.0.1:0")]);
    let upstream = format!("http://{}/hello", server1.address);
    let bind = format!("{FIRST_ADDRESS}:0");
    let server2 = pair_side.server(&[
        ("BIND_ADDRESS", &bind),
        ("UPSTREAM_URL", &upstream),
        ("SWITCHES", "any"),
    ]);
    let switch = |path: &str| {
        let url = format!("http://{}{path}", server2.address);
        peer_side.curl(&[
            "-X",
            "PUT",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"REQUEST_TIMEOUT":"1s"}"#,
            &url,
        ])
    };
    let (status, body) = switch("/upstream/settings");
    assert_eq!(status, 403, "{body}");
    assert!(
        body.contains(&format!("not from {SECOND_ADDRESS}")),
        "{body}"
    );
    let server1_settings = format!("http://{}/settings", server1.address);
    let (_, settings) = pair_side.curl(&[&server1_settings]);
    assert!(settings.contains(r#""REQUEST_TIMEOUT":"0""#), "{settings}");
    // Server 2's own settings are open to that peer, as SWITCHES=any says.
    let (status, body) = switch("/settings");
    assert_eq!(status, 200, "{body}");
}

#[test]
fn any_number_of_watchers_cost_server_1_a_few_connections_a_second() {
    let pair = serve_pair(&[], &[]);
    let accepted = || {
        sample(
            &scrape(&pair.server1),
            "http_server_connections_accepted_total",
        )
    };
    let before = accepted();
    let watching = Duration::from_secs(2);
    let calls: usize = thread::scope(|scope| {
        let watchers: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let until = std::time::Instant::now() + watching;
                    let mut calls = 0;
                    while std::time::Instant::now() < until {
                        assert_eq!(get(pair.server2.address, "/watch").status, 200);
                        calls += 1;
                    }
                    calls
                })
            })
            .collect();
        watchers
            .into_iter()
            .map(|w| w.join().expect("a watcher"))
            .sum()
    });
    // One fetch a quarter of a second, and the scrape that counts them.
    let fetched = accepted() - before - 1.0;
    assert!(calls > 20, "{calls} watches");
    assert!(
        fetched <= 12.0,
        "{fetched} connections to server 1 for {calls} watches in {watching:?}"
    );
}

#[test]
fn pages_and_figures_answer_only_a_host_that_names_this_server() {
    let server = serve(&[("EXTRA_HOSTS", "pair-one")]);
    let foreign = [("Host", "evil.example")];
    for path in [
        "/settings",
        "/figures",
        "/watch",
        "/",
        "/page.js",
        "/look.css",
    ] {
        let answer = send(server.address, "GET", path, &foreign, "");
        assert_eq!(answer.status, 403, "{path}: {answer:?}");
        assert!(answer.body.contains("EXTRA_HOSTS"), "{path}: {answer:?}");
        let named = format!("pair-one:{}", server.address.port());
        let answer = send(server.address, "GET", path, &[("Host", &named)], "");
        assert_eq!(answer.status, 200, "{path} under EXTRA_HOSTS: {answer:?}");
    }
    // The demo's own routes, and the scrape, answer any host, as in Go.
    for path in ["/hello", "/metrics"] {
        let answer = send(server.address, "GET", path, &foreign, "");
        assert_eq!(answer.status, 200, "{path}: {answer:?}");
    }
    // The names are not repeated in every poll of the figures.
    let named = format!("pair-one:{}", server.address.port());
    let figures = send(server.address, "GET", "/figures", &[("Host", &named)], "");
    assert!(!figures.body.contains("pair-one"), "{}", figures.body);
    let plain = serve(&[]);
    let answer = send(
        plain.address,
        "GET",
        "/figures",
        &[("Host", "pair-one")],
        "",
    );
    assert_eq!(answer.status, 403, "without EXTRA_HOSTS: {answer:?}");
}

#[test]
fn a_bad_since_is_refused_in_json_naming_the_parameter() {
    let server = serve(&[]);
    for path in ["/figures?since=abc", "/watch?server1_since=-1"] {
        let answer = get(server.address, path);
        assert_eq!(answer.status, 400, "{path}: {answer:?}");
        let error = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let parameter = path.split(['?', '=']).nth(1).expect("a parameter");
        assert!(error.contains(parameter), "{path}: {error}");
        assert!(error.contains("whole numbers"), "{path}: {error}");
    }
}
