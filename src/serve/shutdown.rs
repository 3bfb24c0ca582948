//! When to stop: Ctrl-C, SIGTERM or SIGHUP.

/// The signal that asked to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// Ctrl-C: SIGINT.
    Interrupt,
    /// SIGTERM, as `kill` and service managers send it.
    Terminate,
    /// SIGHUP: the terminal closed.
    Hangup,
}

impl Signal {
    /// The status a program cut short by it exits with, as a shell reports
    /// one: 128 and the signal's number.
    pub fn exit_status(self) -> u8 {
        match self {
            Signal::Hangup => 128 + 1,
            Signal::Interrupt => 128 + 2,
            Signal::Terminate => 128 + 15,
        }
    }
}

/// Completes on the next Ctrl-C (SIGINT) or, on Unix, SIGTERM or SIGHUP
/// (the terminal closing), and says which.
pub async fn shutdown_signal() -> Signal {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
        Signal::Interrupt
    };
    #[cfg(unix)]
    let other = async {
        use tokio::signal::unix::{SignalKind, signal};
        match (
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) {
            (Ok(mut sigterm), Ok(mut sighup)) => {
                tokio::select! {
                    _ = sigterm.recv() => Signal::Terminate,
                    _ = sighup.recv() => Signal::Hangup,
                }
            }
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(%err, "cannot listen for SIGTERM and SIGHUP");
                std::future::pending::<Signal>().await
            }
        }
    };
    #[cfg(not(unix))]
    let other = std::future::pending::<Signal>();
    tokio::select! {
        signal = ctrl_c => signal,
        signal = other => signal,
    }
}
