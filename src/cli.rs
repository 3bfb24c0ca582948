//! The command line: serve (no subcommand) or run the `demo`.

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::demo::DemoArgs;

/// Shows how an HTTP client built per request leaks connections and tasks.
///
/// With no subcommand it serves: run it twice, server 1 with the defaults
/// and server 2 with BIND_ADDRESS=:9090, then call server 2's /forward.
/// Both answer with tokio's live task count in the field "goRoutines".
/// `demo` does all of that for every scenario and compares them.
#[derive(Debug, Parser)]
#[command(version, about, args_conflicts_with_subcommands = true)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub serve: Config,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs every scenario on loopback, prints a comparison table and draws
    /// a chart; exits 1 if a scenario did not behave as it should.
    Demo(DemoArgs),
}
