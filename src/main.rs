//! Run with: `cargo run --release -- demo` for every scenario at once, or
//! `cargo run` (server 1), `BIND_ADDRESS=:9090 cargo run` (server 2) and
//! `scripts/load.sh`. `--help` lists every setting.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::Parser;
use reqwest_connection_leak::cli::{Cli, Command};
use reqwest_connection_leak::config::{Config, one_line};
use reqwest_connection_leak::shutdown::shutdown_signal;
use reqwest_connection_leak::{demo, server};
use tracing_subscriber::EnvFilter;

/// Bad configuration, as with clap's own usage errors.
const EXIT_BAD_CONFIG: u8 = 2;
/// The server could not start, or a demo scenario misbehaved.
const EXIT_FAILED: u8 = 1;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are not errors.
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            eprintln!("{}", one_line(&err));
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    init_tracing(&cli.serve);
    match cli.command {
        None => serve(cli.serve).await,
        Some(Command::Demo(args)) => match demo::run(args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(EXIT_FAILED),
            Err(err) => {
                eprintln!("demo: {err}");
                ExitCode::from(EXIT_FAILED)
            }
        },
    }
}

fn init_tracing(config: &Config) {
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new(&config.log_filter))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}

async fn serve(config: Config) -> ExitCode {
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
