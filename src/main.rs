//! Run with: `cargo run` (server 1), then `BIND_ADDRESS=:9090 cargo run`
//! (server 2), then `scripts/load.sh`. `--help` lists every setting.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use reqwest_connection_leak::{Config, server, shutdown::shutdown_signal};
use tracing_subscriber::EnvFilter;

/// Bad configuration, as with clap's own usage errors.
const EXIT_BAD_CONFIG: u8 = 2;
/// The server could not start or stopped on an error.
const EXIT_FAILED: u8 = 1;

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::try_parse() {
        Ok(config) => config,
        // --help and --version are not errors.
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            eprintln!("{}", reqwest_connection_leak::config::one_line(&err));
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(&config.log_filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();

    let outcome = match server::listen(&config) {
        Ok(listener) => server::run(listener, &config, shutdown_signal()).await,
        Err(err) => Err(err),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}
