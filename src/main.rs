//! Run with: `cargo run --release -- demo` for every scenario at once, or
//! `cargo run --release` (server 1), `BIND_ADDRESS=:9090 cargo run
//! --release` (server 2) and `scripts/load.sh`. `--help` lists every
//! setting.
//!
//! This file only reads the command line, sets up logging and hands off to
//! the library: see `src/lib.rs` for where everything lives.

/// jemalloc, chosen by measurement (`scripts/allocators.sh`, the table in
/// docs/performance.md): each leaked connection holds many small buffers
/// (hyper's start at 8 KB), and per leaked request glibc's malloc kept
/// 19.8 KB on server 2 and 11.9 KB on server 1, mimalloc 34.9 and 18.9,
/// jemalloc 17.5 and 8.9. Its C build costs about 90 s of a build from
/// nothing, which checks that run nothing skip (the `jemalloc` feature).
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::Duration;

use reqwest_connection_leak::cli::one_line;
use reqwest_connection_leak::cli::{Cli, Command};
use reqwest_connection_leak::demo::{self, DemoError};
use reqwest_connection_leak::failure::cause_chain;
use reqwest_connection_leak::inspect::{self, Found};
use reqwest_connection_leak::observe::{log, process};
use reqwest_connection_leak::scenario;
use reqwest_connection_leak::serve::server::{self, Server, Stopped};
use reqwest_connection_leak::serve::shutdown::shutdown_signal;
use reqwest_connection_leak::settings::Config;
use reqwest_connection_leak::settings::given::Given;
use reqwest_connection_leak::settings::misspelled::misspelled_settings;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::prelude::*;

/// Bad configuration, as with clap's own usage errors, or a server that
/// could not start with it (an address in use). `inspect` exits 2 too for
/// a process it cannot watch, by its own error's code.
const EXIT_BAD_CONFIG: u8 = 2;
/// A server's shutdown cut requests short, a demo scenario misbehaved or
/// failed to run, or `inspect` found a row that leaks.
const EXIT_FAILED: u8 = 1;
/// Stopped at once by a second signal, as a shell reports a Ctrl-C.
const EXIT_INTERRUPTED: u8 = 130;

/// How long an error's line at exit may wait for standard error.
const SAY_WITHIN: Duration = Duration::from_millis(500);

#[tokio::main]
async fn main() -> ExitCode {
    let (cli, settings) = match Cli::parse_with_settings(std::env::args_os()) {
        Ok(parsed) => parsed,
        // --help and --version are not errors.
        Err(err) if !err.use_stderr() => err.exit(),
        Err(err) => {
            let _ = say(one_line(&err));
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let _log_written_at_exit = init_tracing(&cli.serve);
    match cli.command {
        None => {
            tracing::info!(%settings, "starting");
            let variables = std::env::vars_os().filter_map(|(name, _)| name.into_string().ok());
            for (variable, meant) in misspelled_settings(variables) {
                tracing::warn!(
                    "{variable} is not a setting of this program and is ignored; did you mean {meant}?"
                );
            }
            serve(cli.serve, &settings).await
        }
        Some(Command::Demo(args)) => match demo::run(&args).await {
            Ok(true) => ExitCode::SUCCESS,
            Ok(false) => ExitCode::from(EXIT_FAILED),
            Err(DemoError::Interrupted(signal)) => ExitCode::from(signal.exit_status()),
            Err(err) => {
                let _ = say(format!("demo: {}", cause_chain(&err)));
                ExitCode::from(EXIT_FAILED)
            }
        },
        Some(Command::Inspect(args)) => match inspect::run(&args).await {
            Ok(Found::NoLeak) => ExitCode::SUCCESS,
            Ok(Found::Leak) => ExitCode::from(EXIT_FAILED),
            Err(err) => {
                let _ = say(format!("inspect: {err}"));
                ExitCode::from(err.exit_code())
            }
        },
        Some(Command::Scenarios) => {
            let mut stdout = std::io::stdout().lock();
            for scenario in scenario::ALL {
                // A reader that stops early (`| head -1`) is no error.
                if writeln!(stdout, "{}", scenario.tab_separated()).is_err() {
                    break;
                }
            }
            ExitCode::SUCCESS
        }
    }
}

/// Writes `line` to standard error from a thread of its own, and waits
/// for it at most [`SAY_WITHIN`]: an error at exit never waits on a reader
/// that does not read (a full pipe), nor fails on one that cannot take it
/// (`/dev/full`). Whether the line was written.
fn say(line: String) -> bool {
    let (said, done) = mpsc::channel();
    let writer = std::thread::Builder::new().spawn(move || {
        let _ = said.send(writeln!(std::io::stderr(), "{line}").is_ok());
    });
    writer.is_ok() && done.recv_timeout(SAY_WITHIN).unwrap_or(false)
}

/// Logs to standard error from a thread of its own, which never makes a
/// request wait (see `observe::log`); the returned guard writes out what is
/// queued when it is dropped, at exit.
fn init_tracing(config: &Config) -> log::Guard {
    let (writer, guard) = log::writer();
    let lines = tracing_subscriber::fmt::layer()
        .with_writer(move || writer.clone())
        .with_ansi(std::io::stderr().is_terminal())
        .with_filter(EnvFilter::new(&config.log_filter));
    let subscriber = tracing_subscriber::registry().with(lines);
    // tokio-console's view of every task, leaked ones included. It serves
    // on 127.0.0.1:6669 from a thread and runtime of its own, so it adds
    // nothing to the task count the servers report.
    #[cfg(feature = "console")]
    let subscriber = subscriber.with(console_subscriber::spawn());
    subscriber.init();
    guard
}

/// Builds the server, listens, writes the address it listens on as one
/// line to standard output (how a program that started it on port 0 learns
/// the real port), and serves until a signal.
async fn serve(config: Config, settings: &Given) -> ExitCode {
    process::raise_descriptor_limit();
    let started =
        Server::build(&config, settings).and_then(|server| Ok((server, server::listen(&config)?)));
    let (server, listener) = match started {
        Ok(started) => started,
        Err(err) => {
            // Where standard error takes no line, neither are the log's
            // queued lines waited for: a failed start ends within a second.
            if !say(format!("error: {}", cause_chain(&err))) {
                std::process::exit(EXIT_BAD_CONFIG.into());
            }
            return ExitCode::from(EXIT_BAD_CONFIG);
        }
    };
    let address = listener
        .local_addr()
        .map_or_else(|_| config.bind_address.to_string(), |a| a.to_string());
    tracing::info!(%address, "listening");
    // A closed standard output is no reason not to serve.
    let _ = writeln!(std::io::stdout().lock(), "{address}");
    let signalled = || async {
        shutdown_signal().await;
    };
    match server.run(listener, signalled).await {
        Stopped::Gracefully => ExitCode::SUCCESS,
        Stopped::CutShort { .. } => ExitCode::from(EXIT_FAILED),
        Stopped::AtOnce => ExitCode::from(EXIT_INTERRUPTED),
    }
}
