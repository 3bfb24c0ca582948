//! Every TCP socket of one network namespace, with what the kernel knows
//! of each connection's traffic (`tcp_info`), in one dump of its socket
//! diagnostics (`sock_diag` over netlink; what `ss -tni` reads).
//!
//! The messages are built and parsed by `netlink-packet-sock-diag`;
//! `tcp_info.rs` reads each connection's `tcp_info` at whatever length the
//! kernel gives it. The retainer's own check (`observe/sockets.rs`) writes
//! its messages byte by byte instead: it sends thousands of exact lookups
//! a sweep, where the library costs 1.08x to 1.30x (`cargo bench --bench
//! socket_lookup`), while a dump here is one request whose answer, with
//! its many attributes, is the library's to parse.

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_sock_diag::SockDiagMessage;
use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
use netlink_packet_sock_diag::inet::{
    ExtensionFlags, InetRequest, InetResponse, SocketId, StateFlags, nlas::Nla,
};
use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};
use std::io;
use std::net::SocketAddr;
use std::path::Path;

use super::tcp_info::Traffic;

/// One TCP socket, as the dump shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TcpSocket {
    /// The socket's inode: how a process's descriptor names it.
    pub(crate) inode: u64,
    pub(crate) local: SocketAddr,
    pub(crate) remote: SocketAddr,
    pub(crate) listening: bool,
    /// What the connection has carried and when it last did.
    pub(crate) traffic: Traffic,
}

/// A channel to one namespace's socket diagnostics. A netlink socket
/// belongs to the namespace it was opened in, whichever thread uses it
/// later.
pub(crate) struct SocketDump {
    netlink: Socket,
}

impl SocketDump {
    /// A channel to this process's own namespace.
    pub(crate) fn here() -> io::Result<SocketDump> {
        let mut netlink = Socket::new(NETLINK_SOCK_DIAG)?;
        netlink.bind_auto()?;
        netlink.connect(&NetlinkAddr::new(0, 0))?;
        Ok(SocketDump { netlink })
    }

    /// A channel to the namespace at `namespace` (`/proc/PID/ns/net`): a
    /// thread of its own joins it, opens the channel and ends, so that this
    /// process's other threads stay where they are. Joining needs root (or
    /// `CAP_SYS_ADMIN`).
    pub(crate) fn in_namespace(namespace: &Path) -> io::Result<SocketDump> {
        let file = std::fs::File::open(namespace)?;
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    rustix::thread::move_into_link_name_space(
                        std::os::fd::AsFd::as_fd(&file),
                        Some(rustix::thread::LinkNameSpaceType::Network),
                    )?;
                    SocketDump::here()
                })
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("the namespace's thread failed")))
        })
    }

    /// Every TCP socket of the namespace but those in TIME_WAIT, which no
    /// descriptor holds any more, IPv4 and IPv6.
    pub(crate) fn dump(&mut self) -> io::Result<Vec<TcpSocket>> {
        let mut sockets = Vec::new();
        for family in [AF_INET, AF_INET6] {
            self.ask(family)?;
            self.read_into(&mut sockets)?;
        }
        Ok(sockets)
    }

    fn ask(&mut self, family: u8) -> io::Result<()> {
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_DUMP;
        let socket_id = if family == AF_INET {
            SocketId::new_v4()
        } else {
            SocketId::new_v6()
        };
        let request = SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::INFO,
            states: StateFlags::all() - StateFlags::TIME_WAIT,
            socket_id,
        });
        let mut message = NetlinkMessage::new(header, request.into());
        message.finalize();
        let mut bytes = vec![0; message.buffer_len()];
        message.serialize(&mut bytes);
        self.netlink.send(&bytes, 0)?;
        Ok(())
    }

    /// Reads the dump's answers until the kernel says it is done.
    fn read_into(&mut self, sockets: &mut Vec<TcpSocket>) -> io::Result<()> {
        let mut buffer = vec![0u8; 256 * 1024];
        loop {
            let read = self.netlink.recv(&mut &mut buffer[..], 0)?;
            let mut rest = &buffer[..read];
            while !rest.is_empty() {
                let message = NetlinkMessage::<SockDiagMessage>::deserialize(rest)
                    .map_err(|err| io::Error::other(format!("a socket dump answer: {err}")))?;
                let length = message.header.length as usize;
                match message.payload {
                    NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                        sockets.push(tcp_socket(&response));
                    }
                    NetlinkPayload::Done(_) => return Ok(()),
                    NetlinkPayload::Error(err) => {
                        return Err(io::Error::other(format!("the socket dump failed: {err}")));
                    }
                    _ => {}
                }
                if length == 0 || length > rest.len() {
                    break;
                }
                rest = &rest[length..];
            }
        }
    }
}

/// The kernel's `TCP_LISTEN` state.
const LISTEN: u8 = 10;

fn tcp_socket(response: &InetResponse) -> TcpSocket {
    let id = &response.header.socket_id;
    let traffic = response
        .nlas
        .iter()
        .find_map(|nla| match nla {
            Nla::TcpInfo(tcp_info) => Some(Traffic::parse(tcp_info)),
            _ => None,
        })
        .unwrap_or_default();
    TcpSocket {
        inode: u64::from(response.header.inode),
        local: SocketAddr::new(id.source_address.to_canonical(), id.source_port),
        remote: SocketAddr::new(id.destination_address.to_canonical(), id.destination_port),
        listening: response.header.state == LISTEN,
        traffic,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};

    #[test]
    fn the_dump_sees_one_exchange_on_a_connection_of_its_own() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (mut server, _) = listener.accept().unwrap();
        client.write_all(b"ping").unwrap();
        let mut four = [0u8; 4];
        server.read_exact(&mut four).unwrap();
        server.write_all(b"pong").unwrap();
        client.read_exact(&mut four).unwrap();

        let sockets = SocketDump::here().unwrap().dump().unwrap();
        let local = client.local_addr().unwrap();
        let seen = sockets
            .iter()
            .find(|socket| socket.local == local)
            .expect("the client's socket is in the dump");
        assert_eq!(seen.remote, listener.local_addr().unwrap());
        assert!(!seen.listening);
        assert_ne!(seen.inode, 0);
        assert_eq!(
            (
                seen.traffic.data_segments_out,
                seen.traffic.data_segments_in
            ),
            (1, 1)
        );
        let listening = sockets
            .iter()
            .find(|socket| socket.local == listener.local_addr().unwrap() && socket.listening);
        assert!(listening.is_some(), "the listener is in the dump");
    }
}
