//! `Transfer-Encoding` as Go 1.19's server takes it (`transfer.go`): on
//! HTTP/1.1, one field reading `chunked` (in any case) and nothing else;
//! any other value, or the field twice, gets 501 `Unsupported transfer
//! encoding` and the connection closes. HTTP/1.0 ignores the field.
//!
//! hyper differs both ways: it reads `gzip, chunked` as chunked, and it
//! refuses a single other value (`gzip`), and any such field on HTTP/1.0,
//! with a 400 of its own before any route. So the rule is applied twice,
//! from one decision ([`refused`]): in the routes' wrapper for what hyper
//! took (`in_flight.rs`), and on a request head's bytes as they are read,
//! before hyper parses them ([`screen_head`], from `inbound.rs`). There the
//! field is renamed, the same length, so that hyper reads no body by it:
//! the request is then answered 501, or, on HTTP/1.0, as if it had none. A
//! head that does not come in one read is left to hyper.

use axum::body::Body;
use axum::http::header::{CONNECTION, CONTENT_TYPE};
use axum::http::{HeaderValue, Response, StatusCode};

const FIELD: &[u8] = b"transfer-encoding:";
/// What a screened field is renamed to: as long as `Transfer-Encoding`.
const RENAMED: &[u8] = b"X-Transfer-Coding";

/// Whether Go refuses a request whose `Transfer-Encoding` fields are
/// `values`, on HTTP/1.1 (`http_11`) or earlier.
pub(crate) fn refused<'a>(http_11: bool, values: impl IntoIterator<Item = &'a [u8]>) -> bool {
    if !http_11 {
        return false;
    }
    let mut values = values.into_iter();
    match (values.next(), values.next()) {
        (None, _) => false,
        (Some(only), None) => !only.trim_ascii().eq_ignore_ascii_case(b"chunked"),
        (Some(_), Some(_)) => true,
    }
}

/// What [`screen_head`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Screened {
    /// Nothing to do: no such field, one Go takes, or a head split over
    /// reads.
    Passed,
    /// A field Go refuses: renamed; the request is to be answered 501.
    Refused,
    /// A field on HTTP/1.0: renamed, as Go ignores it.
    Ignored,
}

/// Looks at a request head at the start of `bytes`, as read, and renames
/// its `Transfer-Encoding` fields where Go would refuse or ignore them.
pub(crate) fn screen_head(bytes: &mut [u8]) -> Screened {
    let Some(end) = bytes.windows(4).position(|four| four == b"\r\n\r\n") else {
        return Screened::Passed;
    };
    let head = &mut bytes[..end + 2];
    // Every request's head passes here: no allocation unless it has the
    // field at all.
    let has_field = head
        .split(|byte| *byte == b'\n')
        .skip(1)
        .any(|line| line.len() >= FIELD.len() && line[..FIELD.len()].eq_ignore_ascii_case(FIELD));
    if !has_field {
        return Screened::Passed;
    }
    let lines: Vec<(usize, usize)> = line_spans(head);
    let Some(&(start, length)) = lines.first() else {
        return Screened::Passed;
    };
    let http_11 = !head[start..start + length].ends_with(b"HTTP/1.0");
    let fields: Vec<(usize, usize)> = lines[1..]
        .iter()
        .copied()
        .filter(|&(start, length)| {
            length >= FIELD.len() && head[start..start + FIELD.len()].eq_ignore_ascii_case(FIELD)
        })
        .collect();
    if fields.is_empty() {
        return Screened::Passed;
    }
    let values = fields
        .iter()
        .map(|&(start, length)| &head[start + FIELD.len()..start + length]);
    let screened = if !http_11 {
        Screened::Ignored
    } else if refused(true, values) {
        Screened::Refused
    } else {
        return Screened::Passed;
    };
    for (start, _) in fields {
        head[start..start + RENAMED.len()].copy_from_slice(RENAMED);
    }
    screened
}

/// Where each line of `head` starts, and how long it is without its CRLF.
fn line_spans(head: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = 0;
    while let Some(length) = head[start..].windows(2).position(|two| two == b"\r\n") {
        spans.push((start, length));
        start += length + 2;
    }
    spans
}

/// Go's answer to a transfer encoding it does not take, word for word.
pub(crate) fn not_implemented() -> Response<Body> {
    let mut answer = Response::new(Body::from("Unsupported transfer encoding"));
    *answer.status_mut() = StatusCode::NOT_IMPLEMENTED;
    let headers = answer.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CONNECTION, HeaderValue::from_static("close"));
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    fn screened(head: &str) -> (Screened, String) {
        let mut bytes = head.as_bytes().to_vec();
        let found = screen_head(&mut bytes);
        (found, String::from_utf8(bytes).unwrap())
    }

    #[test]
    fn go_takes_one_chunked_field_on_http_1_1_and_refuses_the_rest() {
        let chunked = "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: CHUNKED\r\n\r\n0\r\n\r\n";
        assert_eq!(screened(chunked), (Screened::Passed, chunked.to_owned()));
        let (found, head) = screened("POST / HTTP/1.1\r\ntransfer-encoding: gzip\r\n\r\nbody");
        assert_eq!(found, Screened::Refused);
        assert_eq!(
            head,
            "POST / HTTP/1.1\r\nX-Transfer-Coding: gzip\r\n\r\nbody"
        );
        let twice =
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n";
        assert_eq!(screened(twice).0, Screened::Refused);
        assert!(refused(true, [&b"gzip, chunked"[..]]));
    }

    #[test]
    fn http_1_0_ignores_the_field_and_a_split_head_is_left_to_hyper() {
        let (found, head) = screened("POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n");
        assert_eq!(found, Screened::Ignored);
        assert!(head.contains("X-Transfer-Coding: gzip"), "{head}");
        let split = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n";
        assert_eq!(screened(split), (Screened::Passed, split.to_owned()));
        assert!(!refused(false, [&b"gzip"[..]]));
    }
}
