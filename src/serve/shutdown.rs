//! When to stop: Ctrl-C, SIGTERM or SIGHUP.

/// Completes on the next Ctrl-C (SIGINT) or, on Unix, SIGTERM or SIGHUP
/// (the terminal closing).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
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
                    _ = sigterm.recv() => {}
                    _ = sighup.recv() => {}
                }
            }
            (Err(err), _) | (_, Err(err)) => {
                tracing::error!(%err, "cannot listen for SIGTERM and SIGHUP");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let other = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = other => {}
    }
}
