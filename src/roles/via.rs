//! The `Via` header: how `/forward` recognises a request it has already
//! forwarded, so that an `UPSTREAM_URL` pointing back at `/forward`, through
//! any number of servers or redirects, stops at the first repeat instead of
//! opening connections until every descriptor is gone.

use std::hash::{BuildHasher, RandomState};

use axum::http::header::VIA;
use axum::http::{HeaderMap, HeaderValue};

/// This server's own entry in `Via`.
#[derive(Debug, Clone)]
pub(crate) struct Hop {
    /// A name no other server has: random, drawn at start.
    pseudonym: String,
    /// This server's entry, `1.1 <pseudonym>`, made once.
    entry: HeaderValue,
}

impl Default for Hop {
    fn default() -> Self {
        let random = RandomState::new().hash_one(std::process::id());
        let pseudonym = format!("leak-{random:016x}");
        // Letters, digits, a dash and a space: always a valid header value.
        let entry = HeaderValue::from_str(&format!("1.1 {pseudonym}"))
            .unwrap_or_else(|_| HeaderValue::from_static("1.1 leak"));
        Hop { pseudonym, entry }
    }
}

impl Hop {
    /// The name this server marks requests with: one per process.
    pub(crate) fn pseudonym(&self) -> &str {
        &self.pseudonym
    }

    /// The `Via` values of `headers`, joined, if any names this server.
    /// The mark is looked for in the raw bytes: a value may carry bytes
    /// that are not ASCII (RFC 9110 allows them in a comment, such as
    /// `1.1 proxy (café)`), and they must not hide it.
    pub(crate) fn seen_in(&self, headers: &HeaderMap) -> Option<String> {
        let via = joined(headers)?;
        let names_us = via.split(|&byte| byte == b',').any(|entry| {
            let mut parts = entry
                .split(u8::is_ascii_whitespace)
                .filter(|part| !part.is_empty());
            let _protocol = parts.next();
            parts.next() == Some(self.pseudonym.as_bytes())
        });
        names_us.then(|| String::from_utf8_lossy(&via).into_owned())
    }

    /// The `Via` to send upstream: every hop so far, byte for byte, then
    /// this one.
    pub(crate) fn via_upstream(&self, headers: &HeaderMap) -> HeaderValue {
        let Some(mut via) = joined(headers) else {
            return self.entry.clone();
        };
        via.extend_from_slice(b", ");
        via.extend_from_slice(self.entry.as_bytes());
        // Earlier values were valid headers, so their list is one too; were
        // it not, this server's own entry still goes: the mark is kept.
        HeaderValue::from_bytes(&via).unwrap_or_else(|_| self.entry.clone())
    }
}

/// Every `Via` value, in order, as one comma-separated list of bytes.
fn joined(headers: &HeaderMap) -> Option<Vec<u8>> {
    let values: Vec<&[u8]> = headers
        .get_all(VIA)
        .iter()
        .map(HeaderValue::as_bytes)
        .collect();
    (!values.is_empty()).then(|| values.join(&b", "[..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_via(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(VIA, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn a_request_is_marked_and_the_mark_is_recognised() {
        let hop = Hop::default();
        let other = Hop::default();
        assert_ne!(hop.pseudonym, other.pseudonym);
        let first = hop.via_upstream(&HeaderMap::new());
        assert_eq!(first.to_str().unwrap(), format!("1.1 {}", hop.pseudonym));
        // Through another server and back.
        let second = other.via_upstream(&with_via(&[first.to_str().unwrap()]));
        let back = with_via(&[second.to_str().unwrap()]);
        assert_eq!(
            hop.seen_in(&back).as_deref(),
            Some(second.to_str().unwrap())
        );
        assert!(hop.seen_in(&HeaderMap::new()).is_none());
        assert!(
            hop.seen_in(&with_via(&["1.1 proxy", "1.0 cache (squid)"]))
                .is_none()
        );
    }

    #[test]
    fn a_byte_that_is_not_ascii_hides_no_mark_and_is_passed_on() {
        let hop = Hop::default();
        let mut headers = HeaderMap::new();
        let comment = HeaderValue::from_bytes(b"1.1 proxy (caf\xe9)").unwrap();
        headers.append(VIA, comment);
        assert!(hop.seen_in(&headers).is_none());
        let upstream = hop.via_upstream(&headers);
        assert!(
            upstream
                .as_bytes()
                .starts_with(b"1.1 proxy (caf\xe9), 1.1 leak-")
        );
        let mut back = HeaderMap::new();
        back.append(VIA, upstream);
        let seen = hop.seen_in(&back).expect("its own mark");
        assert!(seen.contains("caf\u{fffd}"), "{seen}");
    }

    #[test]
    fn earlier_hops_are_kept_in_order() {
        let hop = Hop::default();
        let via = hop.via_upstream(&with_via(&["1.1 a", "1.0 b"]));
        assert_eq!(
            via.to_str().unwrap(),
            format!("1.1 a, 1.0 b, 1.1 {}", hop.pseudonym)
        );
    }
}
