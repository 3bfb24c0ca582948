//! Who may switch a setting. A switch changes how a server behaves for
//! everyone, so it is refused unless it comes from an allowed peer, names
//! this server as its host, and comes from no other site's page.
//!
//! - `SWITCHES=loopback` (the default): only peers on this machine.
//! - `SWITCHES=off`: nobody. `SWITCHES=any`: any peer, for a lab network.
//! - The `Host` must be a loopback name or address, or the address the
//!   connection was accepted on: a page whose own host name resolves to
//!   this machine (DNS rebinding) sends its own name, and is refused.
//! - An `Origin`, which browsers send with a cross-site request, must be
//!   this server's own. A switch is a `PUT` of JSON, which no page can send
//!   to another site without a CORS preflight, and none is ever granted.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use axum::http::header::{HOST, ORIGIN};

use crate::settings::config::Switches;

/// The two ends of the connection a request came on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub remote: SocketAddr,
    pub local: SocketAddr,
}

/// Why a switch was refused: the line the caller gets with a 403.
pub type Refusal = String;

/// Whether a switch with these `headers`, on a connection between `peer`'s
/// ends, may be made under `switches`.
pub fn may_switch(switches: Switches, peer: Peer, headers: &HeaderMap) -> Result<(), Refusal> {
    match switches {
        Switches::Off => {
            return Err(
                "switches are off on this server (SWITCHES=off); start it with \
                 SWITCHES=loopback to accept them from this machine"
                    .to_owned(),
            );
        }
        Switches::Loopback if !canonical(peer.remote.ip()).is_loopback() => {
            return Err(format!(
                "switches are accepted from this machine only, not from {}; start the server \
                 with SWITCHES=any to accept them from any peer",
                peer.remote.ip()
            ));
        }
        Switches::Loopback | Switches::Any => {}
    }
    let host = headers
        .get(HOST)
        .and_then(|host| host.to_str().ok())
        .ok_or("a switch needs a Host header")?;
    if !is_this_server(host, peer.local) {
        return Err(format!(
            "Host {host:?} is not this server: a switch must name a loopback host or {}",
            peer.local.ip()
        ));
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let own = format!("http://{host}");
        if origin.as_bytes() != own.as_bytes() {
            return Err(format!(
                "a switch from another site is refused: its Origin is {:?}, not {own:?}",
                String::from_utf8_lossy(origin.as_bytes())
            ));
        }
    }
    Ok(())
}

/// Whether `host`, a `Host` header's value, names this server: a loopback
/// name or address, or the address the connection was accepted on.
fn is_this_server(host: &str, local: SocketAddr) -> bool {
    let name = match host.rsplit_once(':') {
        // `[::1]:8080`, `127.0.0.1:8080`, `localhost:8080`.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        // `localhost`, `[::1]`.
        _ => host,
    };
    let name = name
        .strip_prefix('[')
        .and_then(|name| name.strip_suffix(']'))
        .unwrap_or(name);
    if name.eq_ignore_ascii_case("localhost") {
        return true;
    }
    name.parse::<IpAddr>().is_ok_and(|address| {
        let address = canonical(address);
        address.is_loopback() || address == canonical(local.ip())
    })
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) as IPv4.
fn canonical(address: IpAddr) -> IpAddr {
    address.to_canonical()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn peer(remote: &str) -> Peer {
        Peer {
            remote: remote.parse().expect("an address"),
            local: "192.0.2.10:9090".parse().expect("an address"),
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("a name"),
                HeaderValue::from_str(value).expect("a value"),
            );
        }
        headers
    }

    #[test]
    fn loopback_peers_with_a_loopback_host_may_switch() {
        for host in [
            "localhost:9090",
            "127.0.0.1:9090",
            "[::1]:9090",
            "LOCALHOST",
            "192.0.2.10:9090",
        ] {
            let given = headers(&[("host", host)]);
            assert_eq!(
                may_switch(Switches::Loopback, peer("127.0.0.1:5000"), &given),
                Ok(()),
                "{host}"
            );
        }
        let mapped = peer("[::ffff:127.0.0.1]:5000");
        assert_eq!(
            may_switch(
                Switches::Loopback,
                mapped,
                &headers(&[("host", "localhost")])
            ),
            Ok(())
        );
    }

    #[test]
    fn a_peer_that_is_not_loopback_is_refused_unless_any() {
        let given = headers(&[("host", "192.0.2.10:9090")]);
        let err = may_switch(Switches::Loopback, peer("192.0.2.99:5000"), &given).unwrap_err();
        assert!(err.contains("SWITCHES=any"), "{err}");
        assert_eq!(
            may_switch(Switches::Any, peer("192.0.2.99:5000"), &given),
            Ok(())
        );
    }

    #[test]
    fn switches_off_refuses_everyone_and_says_how_to_allow_them() {
        let given = headers(&[("host", "localhost")]);
        let err = may_switch(Switches::Off, peer("127.0.0.1:5000"), &given).unwrap_err();
        assert!(err.contains("SWITCHES=loopback"), "{err}");
    }

    #[test]
    fn a_foreign_host_is_refused() {
        for host in [
            "evil.example:9090",
            "0.0.0.0:9090",
            "192.0.2.11:9090",
            "localhost.evil.example",
        ] {
            let given = headers(&[("host", host)]);
            let err = may_switch(Switches::Any, peer("127.0.0.1:5000"), &given).unwrap_err();
            assert!(err.contains("is not this server"), "{host}: {err}");
        }
        let err = may_switch(
            Switches::Loopback,
            peer("127.0.0.1:5000"),
            &HeaderMap::new(),
        )
        .unwrap_err();
        assert!(err.contains("Host"), "{err}");
    }

    #[test]
    fn another_sites_origin_is_refused_and_its_own_accepted() {
        let from = |origin| headers(&[("host", "127.0.0.1:9090"), ("origin", origin)]);
        let local = peer("127.0.0.1:5000");
        assert_eq!(
            may_switch(Switches::Loopback, local, &from("http://127.0.0.1:9090")),
            Ok(())
        );
        for origin in ["http://evil.example", "http://localhost:9090", "null"] {
            let err = may_switch(Switches::Loopback, local, &from(origin)).unwrap_err();
            assert!(err.contains("another site"), "{origin}: {err}");
        }
    }
}
