//! Which TCP connections some process still holds open, as the kernel lists
//! them in `/proc/net/tcp` and `/proc/net/tcp6` (Linux).
//!
//! A connection is held while a descriptor refers to its socket; the
//! kernel then shows the socket's inode. Once the last descriptor is closed
//! the socket may linger for a while (closing, or in TIME_WAIT) with inode
//! 0, and is not counted.

use std::collections::HashSet;
use std::io;
use std::net::{IpAddr, SocketAddr};

/// One connection, seen from one end: (local address, remote address).
pub type Ends = (SocketAddr, SocketAddr);

/// The connections held open on this machine at one moment.
#[derive(Debug, Default)]
pub struct OpenSockets {
    held: HashSet<Ends>,
}

impl OpenSockets {
    /// Reads the kernel's tables. `None` where they cannot be read: not
    /// Linux, or no descriptor left to open them with.
    pub fn read() -> Option<OpenSockets> {
        let mut sockets = OpenSockets::default();
        for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
            match std::fs::read_to_string(table) {
                Ok(text) => sockets.add_table(&text),
                // A machine without IPv6 has no tcp6 table.
                Err(err) if err.kind() == io::ErrorKind::NotFound && table.ends_with('6') => {}
                Err(_) => return None,
            }
        }
        Some(sockets)
    }

    /// Whether the connection from `local` to `remote` is held open.
    pub fn holds(&self, local: SocketAddr, remote: SocketAddr) -> bool {
        self.held.contains(&(canonical(local), canonical(remote)))
    }

    /// Adds the held sockets of one table: a heading line, then one socket
    /// a line, `sl local remote state ... inode ...`.
    fn add_table(&mut self, text: &str) {
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(remote), Some(inode)) =
                (fields.get(1), fields.get(2), fields.get(9))
            else {
                continue;
            };
            if *inode == "0" {
                continue;
            }
            if let (Some(local), Some(remote)) = (parse_address(local), parse_address(remote)) {
                self.held.insert((canonical(local), canonical(remote)));
            }
        }
    }
}

/// A list of exactly these connections, for tests.
#[cfg(test)]
impl FromIterator<Ends> for OpenSockets {
    fn from_iter<T: IntoIterator<Item = Ends>>(ends: T) -> Self {
        OpenSockets {
            held: ends.into_iter().collect(),
        }
    }
}

/// `ADDRESS:PORT` in hex as the kernel prints it: the address as 32-bit
/// words in this machine's byte order (one for IPv4, four for IPv6), the
/// port as a plain number.
fn parse_address(text: &str) -> Option<SocketAddr> {
    let (address, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for start in (0..address.len()).step_by(8) {
        let word = u32::from_str_radix(address.get(start..start + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// An IPv4 address however it is written: a dual-stack socket shows it as
/// `::ffff:a.b.c.d`.
fn canonical(address: SocketAddr) -> SocketAddr {
    match address.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => SocketAddr::new(IpAddr::V4(v4), address.port()),
            None => address,
        },
        IpAddr::V4(_) => address,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener, TcpStream};

    fn kernel_word(bytes: [u8; 4]) -> String {
        format!("{:08X}", u32::from_ne_bytes(bytes))
    }

    #[test]
    fn addresses_are_read_in_the_kernels_spelling() {
        let v4 = format!("{}:1F90", kernel_word([127, 0, 0, 1]));
        assert_eq!(parse_address(&v4), Some("127.0.0.1:8080".parse().unwrap()));
        let v6: String = Ipv6Addr::LOCALHOST
            .octets()
            .chunks(4)
            .map(|word| kernel_word(word.try_into().unwrap()))
            .collect();
        assert_eq!(
            parse_address(&format!("{v6}:0050")),
            Some("[::1]:80".parse().unwrap())
        );
        assert_eq!(parse_address("nonsense"), None);
        assert_eq!(parse_address("0100007F:ZZZZ"), None);
    }

    #[test]
    fn a_mapped_ipv4_address_is_the_ipv4_address() {
        let mapped = SocketAddr::new(Ipv4Addr::LOCALHOST.to_ipv6_mapped().into(), 9);
        assert_eq!(canonical(mapped), "127.0.0.1:9".parse().unwrap());
    }

    #[test]
    fn sockets_without_an_inode_are_not_held() {
        let local = kernel_word([127, 0, 0, 1]);
        let text = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             \x20  0: {local}:1F90 {local}:C350 01 00000000:00000000 00:00000000 00000000     0        0 4242 1\n\
             \x20  1: {local}:1F90 {local}:C351 06 00000000:00000000 03:00000000 00000000     0        0 0 3\n"
        );
        let mut sockets = OpenSockets::default();
        sockets.add_table(&text);
        let at = |port| SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        assert!(sockets.holds(at(8080), at(50000)));
        assert!(!sockets.holds(at(8080), at(50001)), "TIME_WAIT, inode 0");
    }

    /// The real tables: a connection is held while its descriptor is
    /// open, even after the peer closed its end, and not once it is closed.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_connection_is_held_until_its_last_descriptor_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
        let (server_end, _) = listener.accept().expect("accept");
        let ends = (client.local_addr().unwrap(), client.peer_addr().unwrap());
        let held = |ends: Ends| OpenSockets::read().expect("tables").holds(ends.0, ends.1);
        assert!(held(ends));

        drop(server_end);
        let mut buffer = [0u8; 1];
        assert_eq!(
            client.read(&mut buffer).expect("read"),
            0,
            "the peer closed"
        );
        assert!(held(ends), "still held: this end has not closed yet");

        drop(client);
        assert!(!held(ends));
    }
}
