//! `CONNECTION_CHECK`: how the retainer asks whether a connection is
//! open. Each way is `observe/connection_check.rs`'s to carry out.

/// How the retainer asks whether a connection is open: `CONNECTION_CHECK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckWith {
    SockDiag,
    Proc,
    None,
}

/// Reads `CONNECTION_CHECK`: `sock_diag`, `proc` or `none`.
pub(crate) fn parse_check_connections(text: &str) -> Result<CheckWith, String> {
    match text {
        "sock_diag" => Ok(CheckWith::SockDiag),
        "proc" => Ok(CheckWith::Proc),
        "none" => Ok(CheckWith::None),
        _ => Err(format!(
            "invalid value {text:?}: expected sock_diag, proc or none"
        )),
    }
}
