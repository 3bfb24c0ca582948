//! Whether a TCP connection is still held open, read from the kernel's
//! tables in `/proc/net/tcp` and `/proc/net/tcp6`: the fallback where the
//! socket-diagnostics interface cannot be asked. Slower, since each look
//! reads the whole table (about 130 ms with 10,000 leaked connections on
//! the development machine), but right.
//!
//! A line names a socket's two ends and its inode; as with socket
//! diagnostics, inode 0 (closing, or TIME_WAIT) or no line at all means no
//! descriptor holds the connection any more.

use std::collections::HashSet;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::observe::sockets::Ends;

/// The tables read.
const TABLES: [&str; 2] = ["/proc/net/tcp", "/proc/net/tcp6"];

/// For each connection, whether some process still holds it open.
pub fn held(connections: &[Ends]) -> io::Result<Vec<bool>> {
    let mut open = HashSet::new();
    for table in TABLES {
        match std::fs::read_to_string(table) {
            Ok(text) => open.extend(held_in(&text)),
            // A kernel without IPv6 has no tcp6 table.
            Err(err) if table.ends_with('6') && err.kind() == io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(connections
        .iter()
        .map(|(local, remote)| open.contains(&(canonical(*local), canonical(*remote))))
        .collect())
}

/// The ends of every connection in one table that a descriptor holds.
fn held_in(table: &str) -> impl Iterator<Item = Ends> + '_ {
    table.lines().skip(1).filter_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (local, remote, inode) = (fields.get(1)?, fields.get(2)?, fields.get(9)?);
        if *inode == "0" {
            return None;
        }
        Some((canonical(address(local)?), canonical(address(remote)?)))
    })
}

/// `0100007F:1F90` (IPv4) or 32 hex digits and a port (IPv6): the address
/// as the kernel stores it, each 32-bit word in the machine's order.
fn address(text: &str) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let word = |at: usize| -> Option<[u8; 4]> {
        let value = u32::from_str_radix(ip.get(at..at + 8)?, 16).ok()?;
        Some(value.to_ne_bytes())
    };
    match ip.len() {
        8 => Some(SocketAddr::from((Ipv4Addr::from(word(0)?), port))),
        32 => {
            let mut octets = [0u8; 16];
            for index in 0..4 {
                octets[index * 4..index * 4 + 4].copy_from_slice(&word(index * 8)?);
            }
            Some(SocketAddr::from((Ipv6Addr::from(octets), port)))
        }
        _ => None,
    }
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) as IPv4, so that
/// either table's spelling of a connection matches.
fn canonical(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn a_connection_is_held_until_its_last_descriptor_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("listen");
        let client = TcpStream::connect(listener.local_addr().expect("address")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        let ends = (
            client.local_addr().expect("local"),
            client.peer_addr().expect("peer"),
        );
        assert_eq!(held(&[ends]).expect("read"), [true]);
        drop(client);
        drop(server);
        assert_eq!(held(&[ends]).expect("read"), [false]);
    }

    #[test]
    fn addresses_read_as_the_kernel_writes_them() {
        let local = u32::from_ne_bytes([127, 0, 0, 1]);
        assert_eq!(
            address(&format!("{local:08X}:1F90")),
            Some("127.0.0.1:8080".parse().expect("an address"))
        );
        assert_eq!(
            address("00000000000000000000000001000000:0050"),
            Some("[::1]:80".parse().expect("an address"))
        );
        assert_eq!(address("zz:1"), None);
    }
}
