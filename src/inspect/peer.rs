//! Whom a connection is with, and so which row it counts in: outbound
//! connections by the address they call, inbound ones by the port they
//! came in on and the host they came from, so that many clients each
//! keeping one connection do not add up to one row.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::net::{IpAddr, SocketAddr};

use serde::Serialize;

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

/// Which way a row's connections go: out to the peer called, or in from
/// callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Direction {
    In,
    Out,
}

impl Direction {
    /// As the table, the JSON and `/metrics` spell it.
    pub(crate) fn word(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

impl Peer {
    pub(crate) fn direction(self) -> Direction {
        match self {
            Peer::To(_) => Direction::Out,
            Peer::From { .. } => Direction::In,
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

/// One namespace's TCP sockets at one sample: its connections by inode,
/// and where its listeners listen.
///
/// Which way a connection goes is the namespace's to say, not its
/// holder's: a connection whose local address and port a listener of the
/// namespace listens on was accepted there, whichever process holds it now
/// (a worker it was handed to, a child forked for it as sshd, PostgreSQL
/// and inetd do, or a process that inherited it). Judged by the holder's
/// own listeners, each such connection read as a call out to its client's
/// port, a row per client. An outbound connection shares its local port
/// with a listener only if both were bound to it on purpose
/// (`SO_REUSEADDR` before `connect`), which a client per request does not.
#[derive(Debug, Default)]
pub(crate) struct Namespace {
    connections: HashMap<u64, TcpSocket>,
    /// Listening on one address and port.
    listening: HashSet<SocketAddr>,
    /// Listening on a port on every address (`0.0.0.0`, `[::]`).
    listening_everywhere: HashSet<u16>,
}

impl Namespace {
    /// Indexes one dump of the namespace's sockets.
    pub(crate) fn of(sockets: Vec<TcpSocket>) -> Namespace {
        let mut namespace = Namespace::default();
        for socket in sockets {
            if socket.listening {
                if socket.local.ip().is_unspecified() {
                    namespace.listening_everywhere.insert(socket.local.port());
                } else {
                    namespace.listening.insert(socket.local);
                }
            } else if socket.inode != 0 {
                namespace.connections.insert(socket.inode, socket);
            }
        }
        namespace
    }

    /// Whether a listener of the namespace listens on `local`.
    fn accepts_on(&self, local: SocketAddr) -> bool {
        self.listening_everywhere.contains(&local.port()) || self.listening.contains(&local)
    }

    /// The connections a process holding `inodes` holds: a look-up each,
    /// so a sample costs what the host's descriptors do, not their product
    /// with its sockets.
    pub(crate) fn connections_of(&self, inodes: &HashSet<u64>) -> Vec<Connection> {
        let mut held: Vec<Connection> = inodes
            .iter()
            .filter_map(|inode| self.connections.get(inode))
            .map(|socket| Connection {
                inode: socket.inode,
                peer: if self.accepts_on(socket.local) {
                    Peer::From {
                        port: socket.local.port(),
                        host: socket.remote.ip(),
                    }
                } else {
                    Peer::To(socket.remote)
                },
                traffic: socket.traffic,
            })
            .collect();
        // In one order, whatever order the set keeps.
        held.sort_unstable_by_key(|connection| connection.inode);
        held
    }
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
    fn a_connection_on_a_port_its_namespace_listens_on_is_inbound_whoever_holds_the_listener() {
        let sockets = [
            socket(1, "[::]:8080", "[::]:0", true),
            socket(2, "127.0.0.1:8080", "127.0.0.1:50000", false),
            socket(3, "127.0.0.1:50001", "127.0.0.1:9090", false),
            // Another process's socket.
            socket(4, "127.0.0.1:50002", "127.0.0.1:8080", false),
        ];
        let peers: Vec<(u64, String)> = Namespace::of(sockets.to_vec())
            .connections_of(&HashSet::from([2, 3]))
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
        let connections = Namespace::of(sockets.to_vec()).connections_of(&HashSet::from([1, 2]));
        assert_eq!(connections[0].peer.direction(), Direction::Out);
    }
}
