//! Where a server listens, written as Go's `net.Listen` reads it.

use std::fmt;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;

use socket2::{Domain, Socket, Type};
use tokio::net::TcpListener;

/// The pending-connection queue: the kernel caps it at `somaxconn` anyway.
const BACKLOG: i32 = 1024;

/// `:PORT` (every interface, as Go reads an empty host), `HOST:PORT` or
/// `[V6]:PORT`. Port 0 asks the kernel for a free port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindAddress {
    /// `None` means every interface.
    host: Option<String>,
    port: u16,
}

impl FromStr for BindAddress {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let accepted = "expected :PORT, HOST:PORT or [IPV6]:PORT with a port from 0 to 65535";
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("invalid address {text:?}: missing port; {accepted}"))?;
        let port = port
            .parse()
            .map_err(|_| format!("invalid port {port:?} in {text:?}; {accepted}"))?;
        let host = match host {
            "" => None,
            bracketed if bracketed.starts_with('[') => {
                let inner = bracketed
                    .strip_prefix('[')
                    .and_then(|h| h.strip_suffix(']'))
                    .filter(|h| h.parse::<Ipv6Addr>().is_ok())
                    .ok_or_else(|| format!("invalid IPv6 host {host:?} in {text:?}; {accepted}"))?;
                Some(inner.to_owned())
            }
            plain if plain.contains([':', '[', ']', '/', ' ']) => {
                return Err(format!("invalid host {plain:?} in {text:?}; {accepted}"));
            }
            plain => Some(plain.to_owned()),
        };
        Ok(BindAddress { host, port })
    }
}

impl fmt::Display for BindAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            None => write!(f, ":{}", self.port),
            Some(host) if host.contains(':') => write!(f, "[{host}]:{}", self.port),
            Some(host) => write!(f, "{host}:{}", self.port),
        }
    }
}

impl BindAddress {
    /// Opens the listening socket.
    ///
    /// Every interface means one dual-stack IPv6 socket, as Go does, so that
    /// `localhost` reaches it over `::1` and `127.0.0.1` alike. Where the
    /// machine has no IPv6 it falls back to IPv4's every-interface address.
    pub fn listen(&self) -> io::Result<TcpListener> {
        let Some(host) = &self.host else {
            let any_v6 = SocketAddr::from((Ipv6Addr::UNSPECIFIED, self.port));
            return match Socket::new(Domain::IPV6, Type::STREAM, None) {
                Ok(socket) => listen_on(socket, any_v6),
                Err(_) => listen_at(SocketAddr::from((Ipv4Addr::UNSPECIFIED, self.port))),
            };
        };
        let mut last_error = None;
        for address in (host.as_str(), self.port).to_socket_addrs()? {
            match listen_at(address) {
                Ok(listener) => return Ok(listener),
                Err(err) => last_error = Some(err),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("host resolved to no address")))
    }
}

fn listen_at(address: SocketAddr) -> io::Result<TcpListener> {
    listen_on(
        Socket::new(Domain::for_address(address), Type::STREAM, None)?,
        address,
    )
}

fn listen_on(socket: Socket, address: SocketAddr) -> io::Result<TcpListener> {
    if address.is_ipv6() {
        socket.set_only_v6(false)?;
    }
    // Lets a restarted server take its port back while old connections of
    // the previous run sit in TIME_WAIT, as Go's listener does.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> BindAddress {
        text.parse().unwrap_or_else(|err| panic!("{text}: {err}"))
    }

    #[test]
    fn go_forms_are_read() {
        assert_eq!(parsed(":8080").host, None);
        assert_eq!(parsed(":8080").port, 8080);
        assert_eq!(parsed("127.0.0.1:0").host.as_deref(), Some("127.0.0.1"));
        assert_eq!(parsed("localhost:9090").host.as_deref(), Some("localhost"));
        assert_eq!(parsed("[::1]:80").host.as_deref(), Some("::1"));
        assert_eq!(parsed("[::1]:80").port, 80);
    }

    #[test]
    fn display_gives_back_the_go_form() {
        for text in [":8080", "127.0.0.1:0", "[::1]:80", "localhost:9090"] {
            assert_eq!(parsed(text).to_string(), text);
        }
    }

    #[test]
    fn bad_addresses_name_the_problem() {
        let cases = [
            ("8080", "missing port"),
            (":http", "invalid port"),
            (":65536", "invalid port"),
            (":-1", "invalid port"),
            ("::1:80", "invalid host"),
            ("[::1:80", "invalid IPv6 host"),
            ("[1.2.3.4]:80", "invalid IPv6 host"),
            ("", "missing port"),
        ];
        for (text, expected) in cases {
            let err = text.parse::<BindAddress>().expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
            assert!(err.contains("expected :PORT"), "{text}: {err}");
        }
    }

    #[tokio::test]
    async fn port_zero_listens_on_a_free_port() {
        let listener = parsed("127.0.0.1:0").listen().expect("listen");
        let address = listener.local_addr().expect("address");
        assert!(address.ip().is_loopback());
        assert_ne!(address.port(), 0);
    }

    #[tokio::test]
    async fn a_port_in_use_is_an_error() {
        let first = parsed("127.0.0.1:0").listen().expect("listen");
        let taken = first.local_addr().expect("address").to_string();
        let err = parsed(&taken).listen().expect_err("second listen");
        assert_eq!(err.kind(), io::ErrorKind::AddrInUse);
    }
}
