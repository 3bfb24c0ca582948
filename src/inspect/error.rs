//! Why `inspect` stopped short, and the exit status each reason gives.

#[cfg(linux_view)]
use super::target;

/// Why `inspect` stopped short.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    #[error("inspect needs Linux: it reads the kernel's socket diagnostics and /proc")]
    NotLinux,
    #[cfg(linux_view)]
    #[error("{0}")]
    Target(#[from] target::TargetError),
    #[error(
        "PID {pid} lives in another network namespace (a container?), and joining it failed: {source}; run as root: sudo reqwest-connection-leak inspect {pid}"
    )]
    Namespace { pid: i32, source: std::io::Error },
    #[error(
        "--metrics {address}: cannot listen there: {source}; expected a free HOST:PORT or :PORT"
    )]
    Metrics {
        address: String,
        source: std::io::Error,
    },
    #[error(
        "--chart {path}: cannot write there: {source}; expected a path to a file in a folder that exists"
    )]
    Chart {
        path: String,
        source: std::io::Error,
    },
    #[error("the kernel's socket dump failed: {0}")]
    Dump(std::io::Error),
    #[error("cannot start the thread that writes the samples: {0}")]
    Output(std::io::Error),
}

impl InspectError {
    /// 2 for what was asked (as with a bad flag), 1 for what failed later.
    pub fn exit_code(&self) -> u8 {
        match self {
            InspectError::Dump(_) | InspectError::Output(_) => 1,
            _ => 2,
        }
    }
}
