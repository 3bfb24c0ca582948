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
    Signals::listen().next().await
}

/// The stopping signals, caught from the moment this is made: a program
/// that starts children makes it first, so that no signal sent once the
/// children are seen can find it still unguarded and end it outright.
pub(crate) struct Signals {
    /// SIGINT, SIGTERM and SIGHUP, in that order.
    #[cfg(unix)]
    caught: Option<[tokio::signal::unix::Signal; 3]>,
}

impl Signals {
    /// Catches SIGINT, SIGTERM and SIGHUP from now on (Ctrl-C elsewhere).
    pub fn listen() -> Signals {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let caught = (|| {
                Ok::<_, std::io::Error>([
                    signal(SignalKind::interrupt())?,
                    signal(SignalKind::terminate())?,
                    signal(SignalKind::hangup())?,
                ])
            })();
            if let Err(err) = &caught {
                tracing::error!(%err, "cannot listen for SIGINT, SIGTERM and SIGHUP");
            }
            Signals {
                caught: caught.ok(),
            }
        }
        #[cfg(not(unix))]
        Signals {}
    }

    /// The next stopping signal.
    pub(crate) async fn next(&mut self) -> Signal {
        #[cfg(unix)]
        {
            let Some([interrupt, terminate, hangup]) = &mut self.caught else {
                return std::future::pending().await;
            };
            tokio::select! {
                _ = interrupt.recv() => Signal::Interrupt,
                _ = terminate.recv() => Signal::Terminate,
                _ = hangup.recv() => Signal::Hangup,
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(err) = tokio::signal::ctrl_c().await {
                tracing::error!(%err, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            Signal::Interrupt
        }
    }
}
