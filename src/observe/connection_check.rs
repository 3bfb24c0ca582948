//! How the retainer asks whether a connection is still held open: the
//! kernel's socket diagnostics (`sock_diag`), and where they cannot be
//! asked, its `/proc/net/tcp` tables. `CONNECTION_CHECK` picks; with
//! neither, the retainer is blind, and says so.

use std::io;

use crate::observe::ends::Ends;
use crate::observe::proc_net;
use crate::observe::sockets::SocketDiag;
use crate::settings::check_with::CheckWith;

/// One way of asking.
#[derive(Debug)]
pub(crate) enum ConnectionCheck {
    SockDiag(SocketDiag),
    ProcNet,
}

impl ConnectionCheck {
    /// The way `how` asks for, or the fallback: socket diagnostics where
    /// they answer, else `/proc/net`; each checked first on a connection
    /// of its own.
    pub(crate) fn open(how: CheckWith) -> io::Result<ConnectionCheck> {
        match how {
            CheckWith::SockDiag => match SocketDiag::open() {
                Ok(diag) => Ok(ConnectionCheck::SockDiag(diag)),
                Err(diag_err) => {
                    // Said once, by the caller, where neither answers.
                    let check = open_proc_net()
                        .map_err(|err| io::Error::other(format!("{diag_err}; {err}")))?;
                    tracing::warn!(%diag_err, "socket diagnostics cannot be asked; reading /proc/net/tcp instead, slower");
                    Ok(check)
                }
            },
            CheckWith::Proc => open_proc_net(),
            CheckWith::None => Err(io::Error::other("CONNECTION_CHECK=none")),
        }
    }

    /// For each connection, whether some process still holds it open.
    pub(crate) fn held(&mut self, connections: &[Ends]) -> io::Result<Vec<bool>> {
        match self {
            ConnectionCheck::SockDiag(diag) => diag.held(connections),
            ConnectionCheck::ProcNet => proc_net::held(connections),
        }
    }
}

/// `/proc/net`, once it has shown that it sees a connection held.
fn open_proc_net() -> io::Result<ConnectionCheck> {
    let probe = crate::observe::sockets::Probe::open()?;
    if proc_net::held(&[probe.ends])? != [true] {
        return Err(io::Error::other(
            "/proc/net/tcp does not show an open connection",
        ));
    }
    Ok(ConnectionCheck::ProcNet)
}
