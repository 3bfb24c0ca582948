//! Whom a connection is with, and so which row it counts in: outbound
//! connections by the address they call, inbound ones by the port they
//! came in on and the host they came from, so that many clients each
//! keeping one connection do not add up to one row.

use std::collections::HashSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::socket_dump::TcpSocket;
use super::tcp_info::Traffic;

/// The row a connection counts in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Peer {
    /// Outbound: the address called.
    To(SocketAddr),
    /// Inbound: the local listening port, and the calling host.
    From { port: u16, host: IpAddr },
}

impl Peer {
    pub(crate) fn direction(self) -> &'static str {
        match self {
            Peer::To(_) => "out",
            Peer::From { .. } => "in",
        }
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::To(address) => write!(f, "{address}"),
            Peer::From { port, host } => write!(f, ":{port} from {host}"),
        }
    }
}

/// One connection of a process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Connection {
    pub(crate) inode: u64,
    pub(crate) peer: Peer,
    pub(crate) traffic: Traffic,
}

/// The connections among `sockets` that the process holding `inodes`
/// holds. One is inbound when the process listens on its local port, on
/// its local address or on every address.
pub(crate) fn connections_of(sockets: &[TcpSocket], inodes: &HashSet<u64>) -> Vec<Connection> {
    let held: Vec<&TcpSocket> = sockets
        .iter()
        .filter(|socket| socket.inode != 0 && inodes.contains(&socket.inode))
        .collect();
    let listening: Vec<SocketAddr> = held
        .iter()
        .filter(|socket| socket.listening)
        .map(|socket| socket.local)
        .collect();
    let accepted_on = |local: SocketAddr| {
        listening.iter().any(|listener| {
            listener.port() == local.port()
                && (listener.ip().is_unspecified() || listener.ip() == local.ip())
        })
    };
    held.iter()
        .filter(|socket| !socket.listening)
        .map(|socket| Connection {
            inode: socket.inode,
            peer: if accepted_on(socket.local) {
                Peer::From {
                    port: socket.local.port(),
                    host: socket.remote.ip(),
                }
            } else {
                Peer::To(socket.remote)
            },
            traffic: socket.traffic,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket(inode: u64, local: &str, remote: &str, listening: bool) -> TcpSocket {
        TcpSocket {
            inode,
            local: local.parse().unwrap(),
            remote: remote.parse().unwrap(),
            listening,
            traffic: Traffic::default(),
        }
    }

    #[test]
    fn a_connection_on_a_port_the_process_listens_on_is_inbound() {
        let sockets = [
            socket(1, "[::]:8080", "[::]:0", true),
            socket(2, "127.0.0.1:8080", "127.0.0.1:50000", false),
            socket(3, "127.0.0.1:50001", "127.0.0.1:9090", false),
            // Another process's socket.
            socket(4, "127.0.0.1:50002", "127.0.0.1:8080", false),
        ];
        let peers: Vec<(u64, String)> = connections_of(&sockets, &HashSet::from([1, 2, 3]))
            .into_iter()
            .map(|connection| (connection.inode, connection.peer.to_string()))
            .collect();
        assert_eq!(
            peers,
            [
                (2, ":8080 from 127.0.0.1".to_owned()),
                (3, "127.0.0.1:9090".to_owned())
            ]
        );
    }

    #[test]
    fn a_listener_on_one_address_does_not_claim_the_same_port_elsewhere() {
        let sockets = [
            socket(1, "127.0.0.2:8080", "0.0.0.0:0", true),
            socket(2, "127.0.0.1:8080", "127.0.0.1:9999", false),
        ];
        let connections = connections_of(&sockets, &HashSet::from([1, 2]));
        assert_eq!(connections[0].peer.direction(), "out");
    }
}
