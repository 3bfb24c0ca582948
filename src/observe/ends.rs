//! A TCP connection's two ends, seen from this process: the inbound
//! connection a request came on, and the outbound one a client called
//! server 1 on, which the retainer asks the kernel about.

use std::net::SocketAddr;

/// One connection's two ends, from this side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ends {
    /// This process's end.
    pub local: SocketAddr,
    /// The other process's end.
    pub remote: SocketAddr,
}
