//! The command line: serve (no subcommand), run the `demo`, list the
//! `scenarios`, or `inspect` other processes.

use std::ffi::OsString;

use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::demo::args::DemoArgs;
use crate::inspect::args::InspectArgs;
use crate::settings::Config;
use crate::settings::config::bad_setting;
use crate::settings::given::Given;
use crate::settings::redact::{redacted_text, redacted_words};

/// Shows how an HTTP client built per request leaks connections and tasks.
///
/// With no subcommand it serves: run it twice, server 1 with the defaults
/// and server 2 with BIND_ADDRESS=:9090, then call server 2's /forward.
/// Both answer with tokio's live task count in the field "goRoutines".
/// Once it listens, a server writes the address it listens on, and nothing
/// else, as one line to standard output. `demo` does all of that for every
/// scenario and compares them.
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
    /// Lists the scenarios, one a line, for scripts: name, the server the
    /// setting is given to, the setting as VAR=value ("-" for none) and
    /// what it should show, separated by tabs.
    Scenarios,
    /// Watches the TCP connections of running processes, in any language,
    /// from outside, and says per process, direction and peer whether they
    /// leak: idle connections each used once and left, piling up one by one.
    /// Exits 1 if a row leaks at the end (--once, --for), 0 if none does,
    /// 2 if a process cannot be inspected.
    Inspect(InspectArgs),
}

impl Cli {
    /// Reads `args` (the program's name first) and the environment, and
    /// lists every setting in effect as `VAR=value`, spelled as it was
    /// given or as its default, passwords hidden.
    pub fn parse_with_settings(
        args: impl IntoIterator<Item = OsString>,
    ) -> Result<(Cli, Given), clap::Error> {
        let args: Vec<OsString> = args.into_iter().collect();
        let mut command = Cli::command();
        if runs_a_subcommand(&command, &args) {
            // No subcommand serves: the server settings in the
            // environment are not theirs to refuse. (The demo's servers
            // start with a clean environment.) Only RUST_LOG, which they
            // log with, is still read.
            command = command.mut_args(|argument| match argument.get_env() {
                Some(env) if env != "RUST_LOG" => argument.env(None),
                _ => argument,
            });
        }
        check_utf8(&command)?;
        let matches = command.clone().try_get_matches_from(args)?;
        let cli = Cli::from_arg_matches(&matches)?;
        Ok((cli, settings_in_effect(&command, &matches)))
    }
}

/// Whether the first argument names a subcommand: top-level flags do not
/// go with one, so a subcommand can only come first.
fn runs_a_subcommand(command: &clap::Command, args: &[OsString]) -> bool {
    args.get(1).is_some_and(|first| {
        command
            .get_subcommands()
            .any(|subcommand| first == subcommand.get_name())
    })
}

/// A setting's variable that is not UTF-8 is refused naming the variable,
/// which clap's own message does not.
fn check_utf8(command: &clap::Command) -> Result<(), clap::Error> {
    for env in command.get_arguments().filter_map(|a| a.get_env()) {
        if std::env::var_os(env).is_some_and(|value| value.to_str().is_none()) {
            return Err(clap::Error::raw(
                clap::error::ErrorKind::InvalidUtf8,
                format!(
                    "invalid value for {}: it is not valid UTF-8\n",
                    env.to_string_lossy()
                ),
            ));
        }
    }
    Ok(())
}

/// `VAR=value` for every setting that has a value, in `--help` order.
fn settings_in_effect(command: &clap::Command, matches: &ArgMatches) -> Given {
    Given::new(
        command
            .get_arguments()
            .filter_map(|argument| {
                let env = argument.get_env()?.to_string_lossy().into_owned();
                let values = matches.get_raw(argument.get_id().as_str())?;
                let values: Vec<_> = values
                    .map(|value| redacted_text(&value.to_string_lossy()).into_owned())
                    .collect();
                Some((env, values.join(",")))
            })
            .collect(),
    )
}

/// clap's error on one line. A bad value of a setting, from its env var or
/// its flag, reads as `bad_setting` says, with the flag after it; any
/// other error as clap words it.
pub fn one_line(err: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    let context = |kind| match err.get(kind) {
        Some(ContextValue::String(text)) => Some(text.as_str()),
        _ => None,
    };
    // The argument reads `--flag <ENV>` or `--flag [<ENV>]`.
    let argument = context(ContextKind::InvalidArg);
    let env = argument
        .and_then(|argument| argument.split_once('<'))
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(env, _)| env);
    let flag = argument.and_then(|argument| argument.split_whitespace().next());
    let reason = std::error::Error::source(err).map(ToString::to_string);
    let line = match (err.kind(), env, flag, reason) {
        (ErrorKind::ValueValidation, Some(env), Some(flag), Some(reason)) if is_setting(env) => {
            format!("error: {} (flag {flag})", bad_setting(env, &reason))
        }
        // A subcommand's own flag: what was wrong, then the flag.
        (ErrorKind::ValueValidation, _, Some(flag), Some(reason)) => {
            format!("error: {reason} (flag {flag})")
        }
        _ => err
            .to_string()
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
            .collect::<Vec<_>>()
            .join(" "),
    };
    redacted_words(&line)
}

/// Whether `name` is a setting's env var, rather than a subcommand's
/// value name such as `NAME` or `DURATION`.
fn is_setting(name: &str) -> bool {
    Config::env_names().iter().any(|env| env == name)
}
