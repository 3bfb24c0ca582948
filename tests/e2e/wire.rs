//! What both roles send on the wire: the Go original's exact shapes. In
//! process: the wire is the subject, not the process.

use crate::common::{get, request, serve, serve_pair};

/// `{"msg":"Hello World","goRoutines":N}`, byte for byte apart from N.
fn assert_hello_body(body: &str) -> u64 {
    let count = body
        .strip_prefix(r#"{"msg":"Hello World","goRoutines":"#)
        .and_then(|rest| rest.strip_suffix('}'))
        .unwrap_or_else(|| panic!("not the /hello shape: {body}"));
    count
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {body}"))
}

#[test]
fn hello_answers_every_method_with_the_go_shape() {
    let server = serve(&[]);
    for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
        let answer = request(server.address, method, "/hello");
        assert_eq!(answer.status, 200, "{method}: {answer:?}");
        assert_eq!(answer.header("content-type"), Some("application/json"));
        assert_eq!(answer.header("connection"), None, "{method}");
        assert_hello_body(&answer.body);
    }
}

#[test]
fn forward_nests_server_1s_answer_in_the_go_shape() {
    let pair = serve_pair(&[], &[]);
    for method in ["GET", "POST"] {
        let answer = request(pair.server2.address, method, "/forward");
        assert_eq!(answer.status, 200, "{method}: {answer:?}");
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let (count, nested) = answer
            .body
            .strip_prefix(r#"{"goRoutines":"#)
            .and_then(|rest| rest.strip_suffix('}'))
            .and_then(|rest| rest.split_once(r#","server1Response":"#))
            .unwrap_or_else(|| panic!("not the /forward shape: {}", answer.body));
        assert!(count.parse::<u64>().is_ok(), "{}", answer.body);
        assert_hello_body(nested);
    }
}

#[test]
fn connection_close_is_said_by_hello_when_asked() {
    let server = serve(&[("CONNECTION_CLOSE", "1")]);
    let answer = get(server.address, "/hello");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.header("connection"), Some("close"));
}

#[test]
fn an_unknown_path_and_a_method_a_route_does_not_take_are_refused_in_json() {
    let server = serve(&[]);
    let unknown = get(server.address, "/nope");
    assert_eq!(unknown.status, 404, "{unknown:?}");
    assert!(
        unknown.json()["error"]
            .as_str()
            .is_some_and(|why| why.contains("/nope")),
        "{unknown:?}"
    );
    for (method, path, allowed) in [
        ("POST", "/settings", "GET,HEAD,PUT"),
        ("DELETE", "/metrics", "GET,HEAD"),
        ("GET", "/upstream/settings", "PUT"),
    ] {
        let answer = request(server.address, method, path);
        assert_eq!(answer.status, 405, "{method} {path}: {answer:?}");
        assert_eq!(answer.header("allow"), Some(allowed), "{method} {path}");
        assert_eq!(answer.header("content-type"), Some("application/json"));
        let why = answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(why.contains(method) && why.contains(path), "{why}");
    }
}

#[test]
fn a_go_style_port_listens_on_every_interface() {
    let server = serve(&[("BIND_ADDRESS", ":0")]);
    assert!(
        server.listening_on.ip().is_unspecified(),
        "{}",
        server.listening_on
    );
    // Reached over IPv4 loopback (the harness's address) ...
    assert_hello_body(&get(server.address, "/hello").body);
    // ... and over IPv6 loopback where the machine has it.
    let mut v6 = server.address;
    v6.set_ip(std::net::Ipv6Addr::LOCALHOST.into());
    if std::net::TcpStream::connect(v6).is_ok() {
        assert_hello_body(&get(v6, "/hello").body);
    }
}

#[test]
fn a_transfer_encoding_go_does_not_take_gets_gos_501_and_the_connection_closes() {
    let server = serve(&[]);
    let refused = [
        "Transfer-Encoding: gzip, chunked\r\n",
        "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n",
    ];
    for field in refused {
        let head = format!("POST /hello HTTP/1.1\r\nHost: x\r\n{field}\r\n0\r\n\r\n");
        let answer = crate::common::exchange_raw(server.address, head.as_bytes());
        let lower = answer.to_ascii_lowercase();
        assert!(
            answer.starts_with("HTTP/1.1 501 Not Implemented\r\n"),
            "{field}: {answer}"
        );
        assert!(
            lower.contains("\r\ncontent-type: text/plain; charset=utf-8\r\n"),
            "{answer}"
        );
        assert!(lower.contains("\r\nconnection: close\r\n"), "{answer}");
        assert!(
            answer.ends_with("\r\n\r\nUnsupported transfer encoding"),
            "{answer}"
        );
    }
    // One field reading chunked, in any case, is read as chunked.
    let answer = request(server.address, "POST", "/hello");
    assert_eq!(answer.status, 200);
    let head = "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\
                Connection: close\r\n\r\n0\r\n\r\n";
    let answer = crate::common::exchange_raw(server.address, head.as_bytes());
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
}

#[test]
fn a_single_encoding_go_does_not_take_gets_its_501_and_http_1_0_ignores_the_field() {
    let server = serve(&[]);
    let head = "POST /hello HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nsome body";
    let answer = crate::common::exchange_raw(server.address, head.as_bytes());
    assert!(
        answer.starts_with("HTTP/1.1 501 Not Implemented\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\nUnsupported transfer encoding"),
        "{answer}"
    );
    // HTTP/1.0: the field is ignored, as Go ignores it, and the body is
    // read by its Content-Length.
    let head = "POST /hello HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\
                Content-Length: 2\r\n\r\n{}";
    let answer = crate::common::exchange_raw(server.address, head.as_bytes());
    assert!(answer.starts_with("HTTP/1.0 200 OK\r\n"), "{answer}");
    assert!(answer.contains("\"goRoutines\":"), "{answer}");
}
