//! What the retainer's sweep costs: whether each of 10,000 held loopback
//! connections is still open, asked of the kernel by exact lookups, 64 at a
//! time. The messages as `observe::sockets` writes them, byte by byte,
//! against the same lookups built and parsed by `netlink-packet-sock-diag`
//! (1.16x on the development machine on 2026-12-07, 1.08x to 1.30x over
//! earlier runs: never faster, so the byte-by-byte messages stay); and the
//! fallback's
//! look at `/proc/net/tcp{,6}` (`observe::proc_net`, by procfs), for scale.
//! Run with `cargo bench --bench socket_lookup`.

fn main() {
    #[cfg(linux_view)]
    linux::main();
    #[cfg(not(linux_view))]
    println!("socket_lookup: the kernel's socket diagnostics are Linux only");
}

#[cfg(linux_view)]
mod linux {
    use std::net::{IpAddr, TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use netlink_packet_core::{NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload};
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6, IPPROTO_TCP};
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
    use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};
    use reqwest_connection_leak::observe::ends::Ends;
    use reqwest_connection_leak::observe::proc_net;
    use reqwest_connection_leak::observe::process::raise_descriptor_limit;
    use reqwest_connection_leak::observe::sockets::SocketDiag;

    const CONNECTIONS: usize = 10_000;
    const SWEEPS: usize = 11;
    const BATCH: usize = 64;

    pub fn main() {
        raise_descriptor_limit();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        // Only the calling ends are kept, so that 10,000 fit a common hard
        // limit of 20,000 descriptors; the kernel finds a connection whose
        // other end closed (CLOSE_WAIT) in the same table, at the same cost.
        let kept: Vec<TcpStream> = (0..CONNECTIONS)
            .map(|_| {
                let client = TcpStream::connect(listener.local_addr().unwrap()).expect("connect");
                drop(listener.accept().expect("accept"));
                client
            })
            .collect();
        let ends: Vec<Ends> = kept
            .iter()
            .map(|client| Ends {
                local: client.local_addr().unwrap(),
                remote: client.peer_addr().unwrap(),
            })
            .collect();

        let mut today = SocketDiag::open().expect("sock_diag");
        let mut library = LibraryLookup::open();
        let all_held = vec![true; CONNECTIONS];
        assert_eq!(today.held(&ends).unwrap(), all_held);
        assert_eq!(library.held(&ends), all_held);
        assert_eq!(proc_net::held(&ends).unwrap(), all_held);
        // Taking turns, so that the machine's noise falls on all alike.
        let (mut byte_by_byte, mut by_library, mut proc) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..SWEEPS {
            byte_by_byte.push(timed(|| drop(today.held(&ends).unwrap())));
            by_library.push(timed(|| drop(library.held(&ends))));
            proc.push(timed(|| drop(proc_net::held(&ends).unwrap())));
        }
        let milliseconds = |times| median(times).as_secs_f64() * 1e3;
        let (a, b, c) = (
            milliseconds(byte_by_byte),
            milliseconds(by_library),
            milliseconds(proc),
        );
        println!(
            "a sweep of {CONNECTIONS} held connections, median of {SWEEPS}: exact lookups byte by byte {a:.1} ms, by netlink-packet-sock-diag {b:.1} ms ({:.2}x); /proc/net/tcp {c:.1} ms",
            b / a
        );
    }

    fn timed(work: impl FnOnce()) -> Duration {
        let started = Instant::now();
        work();
        started.elapsed()
    }

    fn median(mut times: Vec<Duration>) -> Duration {
        times.sort();
        times[times.len() / 2]
    }

    /// The same lookups, built and parsed by the library.
    struct LibraryLookup {
        netlink: Socket,
        buffer: Vec<u8>,
    }

    impl LibraryLookup {
        fn open() -> LibraryLookup {
            let mut netlink = Socket::new(NETLINK_SOCK_DIAG).expect("netlink");
            netlink.bind_auto().expect("bind");
            netlink.connect(&NetlinkAddr::new(0, 0)).expect("connect");
            LibraryLookup {
                netlink,
                buffer: vec![0; 64 * 1024],
            }
        }

        fn held(&mut self, ends: &[Ends]) -> Vec<bool> {
            let mut held = vec![false; ends.len()];
            for (batch_at, batch) in ends.chunks(BATCH).enumerate() {
                let mut requests = Vec::new();
                for (sequence, Ends { local, remote }) in batch.iter().enumerate() {
                    let mut header = NetlinkHeader::default();
                    header.flags = NLM_F_REQUEST;
                    header.sequence_number = sequence as u32;
                    let v4 = matches!(local.ip(), IpAddr::V4(_));
                    let mut socket_id = if v4 {
                        SocketId::new_v4()
                    } else {
                        SocketId::new_v6()
                    };
                    socket_id.source_port = local.port();
                    socket_id.destination_port = remote.port();
                    socket_id.source_address = local.ip();
                    socket_id.destination_address = remote.ip();
                    socket_id.cookie = [0xff; 8];
                    let request = SockDiagMessage::InetRequest(InetRequest {
                        family: if v4 { AF_INET } else { AF_INET6 },
                        protocol: IPPROTO_TCP,
                        extensions: ExtensionFlags::empty(),
                        states: StateFlags::all(),
                        socket_id,
                    });
                    let mut message = NetlinkMessage::new(header, request.into());
                    message.finalize();
                    let at = requests.len();
                    requests.resize(at + message.buffer_len(), 0);
                    message.serialize(&mut requests[at..]);
                }
                self.netlink.send(&requests, 0).expect("send");
                let mut answered = 0;
                while answered < batch.len() {
                    let read = self
                        .netlink
                        .recv(&mut &mut self.buffer[..], 0)
                        .expect("recv");
                    let mut rest = &self.buffer[..read];
                    while !rest.is_empty() {
                        let message =
                            NetlinkMessage::<SockDiagMessage>::deserialize(rest).expect("parse");
                        let slot = batch_at * BATCH + message.header.sequence_number as usize;
                        if let NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(found)) =
                            message.payload
                        {
                            held[slot] = found.header.inode != 0;
                        }
                        answered += 1;
                        let length = (message.header.length as usize).next_multiple_of(4);
                        rest = &rest[length.min(rest.len())..];
                    }
                }
            }
            held
        }
    }
}
