//! The command line: serve (no subcommand), run the `demo`, or list the
//! `scenarios`.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use clap::{ArgMatches, Args, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::scenario::Scenario;
use crate::settings::Config;
use crate::settings::bind_address::BindAddress;
use crate::settings::given::Given;
use crate::settings::go_syntax::parse_duration;
use crate::settings::redact::redacted_text;

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

/// What `demo` takes.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Sequential /forward requests per scenario (scripts/load.sh, the
    /// walkthrough's curl loop, sends 400).
    #[arg(long, default_value_t = 400, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub requests: u32,
    /// Requests a second, a steady pace a person can follow on the chart
    /// (a curl loop's own pace depends on the machine). 0 sends each
    /// request as soon as the one before is answered.
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub rate: u32,
    /// Where to write the SVG chart (by default under target/, which git
    /// ignores); while another demo running at the same time holds it, the
    /// next free name beside it (leak-demo-2.svg), said at the end.
    #[arg(long, default_value = "target/leak-demo.svg")]
    pub chart: PathBuf,
    /// Print one JSON document (every scenario's settings, verdict and
    /// samples) instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Run only this scenario (see `scenarios`); repeat for more. Every one
    /// by default.
    #[arg(long = "scenario", value_name = "NAME", value_parser = Scenario::named)]
    pub scenarios: Vec<&'static Scenario>,
}

/// What `inspect` takes.
#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("processes").required(true).args(["pids", "all"])))]
pub struct InspectArgs {
    /// The processes to watch, by ID.
    #[arg(value_name = "PID", value_parser = parse_pid)]
    pub pids: Vec<i32>,
    /// Every process this user may read instead (as root, every process,
    /// each network namespace joined once); lists the rows with open
    /// connections, leaking ones first.
    #[arg(long)]
    pub all: bool,
    /// Time between samples, in Go's spelling (1s, 500ms); at least 10ms.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = at_least_10ms)]
    pub interval: Duration,
    /// No data either way for this long makes a connection idle.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = at_least_10ms)]
    pub idle: Duration,
    /// Idle connections used once, to one peer, asked for one by one over a
    /// second or more, that are a leak however old.
    #[arg(long, value_name = "N", default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..))]
    pub leak_count: u32,
    /// Idle connections used once, asked for one by one since the watch
    /// began, that are a leak growing now.
    #[arg(long, value_name = "G", default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    pub leak_growth: u32,
    /// A row with no connection open for this long is dropped, after one
    /// last reading.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = at_least_10ms)]
    pub forget: Duration,
    /// One sample, then exit.
    #[arg(long, conflicts_with = "watch_for")]
    pub once: bool,
    /// Watch this long, print the final table, and exit.
    #[arg(long = "for", value_name = "DURATION", value_parser = at_least_10ms)]
    pub watch_for: Option<Duration>,
    /// One JSON object per sample, a line each.
    #[arg(long)]
    pub json: bool,
    /// Serve the rows on /metrics at this address (HOST:PORT or :PORT), as
    /// an exporter beside a service.
    #[arg(long, value_name = "ADDR")]
    pub metrics: Option<BindAddress>,
}

/// A process ID: a whole number from 1.
fn parse_pid(text: &str) -> Result<i32, String> {
    text.parse::<i32>()
        .ok()
        .filter(|pid| *pid > 0)
        .ok_or_else(|| format!("expected a process ID, a whole number from 1, not {text:?}"))
}

/// A duration in Go's spelling, no shorter than 10ms.
fn at_least_10ms(text: &str) -> Result<Duration, String> {
    let duration = parse_duration(text)?;
    if duration < Duration::from_millis(10) {
        return Err(format!("{text:?} is too short: expected at least 10ms"));
    }
    Ok(duration)
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
            // The demo and `scenarios` serve nothing: the server settings
            // in the environment are not theirs to refuse. (The demo's
            // servers start with a clean environment.) Only RUST_LOG,
            // which they log with, is still read.
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
