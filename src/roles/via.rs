//! The `Via` header: how `/forward` recognises a request it has already
//! forwarded, so that an `UPSTREAM_URL` pointing back at `/forward`, through
//! any number of servers or redirects, stops at the first repeat instead of
//! opening connections until every descriptor is gone.

use std::hash::{BuildHasher, RandomState};

use axum::http::header::VIA;
use axum::http::{HeaderMap, HeaderValue};

/// This server's own entry in `Via`.
#[derive(Debug, Clone)]
pub struct Hop {
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
    pub fn pseudonym(&self) -> &str {
        &self.pseudonym
    }

    /// The `Via` values of `headers`, joined, if any names this server.
    pub fn seen_in(&self, headers: &HeaderMap) -> Option<String> {
        let via = joined(headers)?;
        let names_us = via.split(',').any(|entry| {
            let mut parts = entry.split_whitespace();
            let _protocol = parts.next();
            parts.next() == Some(self.pseudonym.as_str())
        });
        names_us.then_some(via)
    }

    /// The `Via` to send upstream: every hop so far, then this one.
    pub fn via_upstream(&self, headers: &HeaderMap) -> HeaderValue {
        let Some(earlier) = joined(headers) else {
            return self.entry.clone();
        };
        let ours = self.entry.to_str().unwrap_or_default();
        // Earlier values were valid headers, so their list is one too; were
        // it not, this server's own entry still goes: the mark is kept.
        HeaderValue::from_str(&format!("{earlier}, {ours}")).unwrap_or_else(|_| self.entry.clone())
    }
}

/// Every `Via` value, in order, as one comma-separated list.
fn joined(headers: &HeaderMap) -> Option<String> {
    let values: Vec<&str> = headers
        .get_all(VIA)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    (!values.is_empty()).then(|| values.join(", "))
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
    fn earlier_hops_are_kept_in_order() {
        let hop = Hop::default();
        let via = hop.via_upstream(&with_via(&["1.1 a", "1.0 b"]));
        assert_eq!(
            via.to_str().unwrap(),
            format!("1.1 a, 1.0 b, 1.1 {}", hop.pseudonym)
        );
    }
}
