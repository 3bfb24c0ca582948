//! Whether a TCP connection is still held open by some process, asked of
//! the kernel one connection at a time through its socket-diagnostics
//! interface (`sock_diag`, a netlink socket; Linux only).
//!
//! A connection is held while a descriptor refers to its socket: the
//! kernel then reports the socket's inode. Once the last descriptor is
//! closed, the socket may linger (closing, or in TIME_WAIT) with inode 0,
//! or be gone. An exact lookup costs the kernel one hash-table probe, so a
//! check costs the same however many other sockets the machine has;
//! reading `/proc/net/tcp` instead walks the whole table every time.
//!
//! The messages are written and read here byte by byte, while `inspect`
//! reads the kernel's sockets through `netlink-packet-sock-diag`
//! (`inspect/socket_dump.rs`). The two ask different things: here one
//! exact lookup per held connection, thousands a sweep, on every server 2
//! that leaks; there one dump of every socket with its `tcp_info`, whose
//! many attributes the library parses. For the lookups the bytes written
//! here are the cheaper: `cargo bench --bench socket_lookup` swept 10,000
//! held connections in 11.5 ms byte by byte against 13.3 ms through the
//! library (1.16x; 1.08x to 1.30x over earlier runs, never faster), and in
//! 26.8 ms by `/proc/net/tcp`, on the development machine on 2026-12-07.

use std::io::{self, Read};
use std::net::{IpAddr, TcpListener, TcpStream};

use socket2::{Domain, Protocol, Socket, Type};

use crate::observe::ends::Ends;

// The kernel's numbers: linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h.
const AF_NETLINK: i32 = 16;
const NETLINK_SOCK_DIAG: i32 = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 1;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const IPPROTO_TCP: u8 = 6;
/// `nlmsghdr`: length, type, flags, sequence number, port id.
const HEADER_LEN: usize = 16;
/// `inet_diag_req_v2`: family, protocol, extensions, pad, states, then the
/// socket's id (ports, addresses, interface, cookie).
const REQUEST_LEN: usize = 56;
/// Where the inode sits in an `inet_diag_msg` answer.
const INODE_AT: usize = 68;
/// Lookups sent at once: their answers must fit the socket's receive
/// buffer, where the kernel counts each at over a kilobyte (the default
/// buffer of 208 KiB overflowed with 512).
const BATCH: usize = 64;

/// A loopback connection of this process's own, open while kept: how a
/// way of asking shows that it sees a connection held.
#[derive(Debug)]
pub(crate) struct Probe {
    _listener: TcpListener,
    _stream: TcpStream,
    pub(crate) ends: Ends,
}

impl Probe {
    pub(crate) fn open() -> io::Result<Probe> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let stream = TcpStream::connect(listener.local_addr()?)?;
        let ends = Ends {
            local: stream.local_addr()?,
            remote: stream.peer_addr()?,
        };
        Ok(Probe {
            _listener: listener,
            _stream: stream,
            ends,
        })
    }
}

/// A channel to the kernel's socket diagnostics.
#[derive(Debug)]
pub struct SocketDiag {
    netlink: Socket,
}

impl SocketDiag {
    /// Opens the channel and checks that it sees a connection this
    /// process holds, so that a kernel that cannot answer (not Linux, no
    /// TCP diagnostics) is found out here rather than read as "every
    /// connection is closed".
    pub fn open() -> io::Result<SocketDiag> {
        if !cfg!(linux_view) {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                "socket diagnostics are Linux's",
            ));
        }
        let netlink = Socket::new(
            Domain::from(AF_NETLINK),
            Type::DGRAM,
            Some(Protocol::from(NETLINK_SOCK_DIAG)),
        )?;
        let mut diag = SocketDiag { netlink };
        let probe = Probe::open()?;
        if diag.held(&[probe.ends])? != [true] {
            return Err(io::Error::other(
                "the kernel's socket diagnostics do not see an open connection",
            ));
        }
        Ok(diag)
    }

    /// For each connection, whether some process still holds it open.
    pub fn held(&mut self, connections: &[Ends]) -> io::Result<Vec<bool>> {
        let mut held = Vec::with_capacity(connections.len());
        for batch in connections.chunks(BATCH) {
            let mut requests = Vec::with_capacity(batch.len() * (HEADER_LEN + REQUEST_LEN));
            for (sequence, ends) in batch.iter().enumerate() {
                push_lookup(&mut requests, sequence as u32, *ends);
            }
            self.netlink.send(&requests)?;
            let start = held.len();
            held.resize(start + batch.len(), false);
            self.read_answers(&mut held[start..])?;
        }
        Ok(held)
    }

    /// Reads one answer per lookup; each says, by its sequence number,
    /// which lookup it answers.
    fn read_answers(&mut self, held: &mut [bool]) -> io::Result<()> {
        let mut buffer = vec![0u8; 64 * 1024];
        let mut answered = 0;
        while answered < held.len() {
            let read = (&self.netlink).read(&mut buffer)?;
            let mut rest = &buffer[..read];
            while rest.len() >= HEADER_LEN {
                let length = u32_at(rest, 0) as usize;
                let kind = u16::from_ne_bytes([rest[4], rest[5]]);
                let sequence = u32_at(rest, 8) as usize;
                if length < HEADER_LEN || length > rest.len() {
                    return Err(io::Error::other("a truncated socket diagnostics answer"));
                }
                let payload = &rest[HEADER_LEN..length];
                if let Some(slot) = held.get_mut(sequence) {
                    // An error answer (no such socket) leaves it false.
                    if kind == SOCK_DIAG_BY_FAMILY && payload.len() >= INODE_AT + 4 {
                        *slot = u32_at(payload, INODE_AT) != 0;
                    } else if kind != NLMSG_ERROR {
                        return Err(io::Error::other("an unexpected socket diagnostics answer"));
                    }
                    answered += 1;
                }
                // Messages are padded to four bytes.
                rest = &rest[length.next_multiple_of(4).min(rest.len())..];
            }
        }
        Ok(())
    }
}

/// Appends one exact lookup of the TCP socket whose ends are `ends`.
fn push_lookup(buffer: &mut Vec<u8>, sequence: u32, Ends { local, remote }: Ends) {
    let family = match (local.ip(), remote.ip()) {
        (IpAddr::V4(_), IpAddr::V4(_)) => AF_INET,
        _ => AF_INET6,
    };
    buffer.extend_from_slice(&((HEADER_LEN + REQUEST_LEN) as u32).to_ne_bytes());
    buffer.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    buffer.extend_from_slice(&NLM_F_REQUEST.to_ne_bytes());
    buffer.extend_from_slice(&sequence.to_ne_bytes());
    buffer.extend_from_slice(&0u32.to_ne_bytes());
    buffer.extend_from_slice(&[family, IPPROTO_TCP, 0, 0]);
    // Every state.
    buffer.extend_from_slice(&u32::MAX.to_ne_bytes());
    // Ports and addresses in network order, addresses padded to 16 bytes.
    buffer.extend_from_slice(&local.port().to_be_bytes());
    buffer.extend_from_slice(&remote.port().to_be_bytes());
    buffer.extend_from_slice(&address_bytes(local.ip()));
    buffer.extend_from_slice(&address_bytes(remote.ip()));
    // Any interface, and no cookie: find it by its ends alone.
    buffer.extend_from_slice(&0u32.to_ne_bytes());
    buffer.extend_from_slice(&[0xff; 8]);
}

fn address_bytes(ip: IpAddr) -> [u8; 16] {
    match ip {
        IpAddr::V4(v4) => {
            let mut bytes = [0; 16];
            bytes[..4].copy_from_slice(&v4.octets());
            bytes
        }
        IpAddr::V6(v6) => v6.octets(),
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

#[cfg(all(test, linux_view))]
mod tests {
    use super::*;

    fn ends_of(stream: &TcpStream) -> Ends {
        Ends {
            local: stream.local_addr().unwrap(),
            remote: stream.peer_addr().unwrap(),
        }
    }

    #[test]
    fn a_connection_is_held_until_its_last_descriptor_closes() {
        let mut diag = SocketDiag::open().expect("sock_diag");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
        let (server_end, _) = listener.accept().expect("accept");
        let ends = ends_of(&client);
        assert_eq!(diag.held(&[ends]).unwrap(), [true]);

        drop(server_end);
        let mut buffer = [0u8; 1];
        assert_eq!(
            client.read(&mut buffer).expect("read"),
            0,
            "the peer closed"
        );
        assert_eq!(
            diag.held(&[ends]).unwrap(),
            [true],
            "still held: this end has not closed yet"
        );

        drop(client);
        assert_eq!(diag.held(&[ends]).unwrap(), [false]);
    }

    #[test]
    fn many_lookups_answer_each_in_its_place() {
        let mut diag = SocketDiag::open().expect("sock_diag");
        let listener = TcpListener::bind("[::1]:0")
            .or_else(|_| TcpListener::bind("127.0.0.1:0"))
            .expect("bind");
        // More than one batch, each connection accepted as it comes.
        let connections: Vec<(TcpStream, TcpStream)> = (0..BATCH + 10)
            .map(|_| {
                let client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
                (client, listener.accept().expect("accept").0)
            })
            .collect();
        let mut ends: Vec<Ends> = connections
            .iter()
            .map(|(client, _)| ends_of(client))
            .collect();
        // Every third one asks for a connection that does not exist: from
        // a port that was bound and let go.
        let unused = TcpListener::bind(std::net::SocketAddr::new(
            listener.local_addr().unwrap().ip(),
            0,
        ))
        .and_then(|free| free.local_addr())
        .expect("a free port")
        .port();
        for (index, slot) in ends.iter_mut().enumerate() {
            if index % 3 == 0 {
                slot.local.set_port(unused);
            }
        }
        let held = diag.held(&ends).expect("answers");
        let expected: Vec<bool> = (0..ends.len()).map(|index| index % 3 != 0).collect();
        assert_eq!(held, expected);
    }
}
