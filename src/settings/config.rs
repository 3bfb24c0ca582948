//! Every setting, read once at start from an env var or a `--flag`.
//!
//! Each value is checked by its parser before the server listens, so bad
//! input ends the program with one line that names the variable, the value
//! and what is accepted.

use std::fmt;
use std::time::Duration;

use clap::Args;
use reqwest::Url;
use tracing_subscriber::EnvFilter;

use crate::settings::bind_address::BindAddress;
use crate::settings::go_syntax::parse_duration;
use crate::settings::knobs::Knobs;
use crate::settings::redact::{redacted_text, redacted_words};

/// The server's settings: both roles read the same ones.
#[derive(Debug, Args)]
pub struct Config {
    /// Where to listen: :PORT (every interface), HOST:PORT or `[IPV6]:PORT`;
    /// port 0 picks a free port.
    #[arg(
        long,
        env = "BIND_ADDRESS",
        value_name = "BIND_ADDRESS",
        default_value = ":8080"
    )]
    pub bind_address: BindAddress,

    /// Where /forward POSTs `{}`: server 1's /hello.
    #[arg(
        long,
        env = "UPSTREAM_URL",
        value_name = "UPSTREAM_URL",
        // It may carry a password: --help shows no value of it.
        hide_env_values = true,
        default_value = "http://localhost:8080/hello",
        value_parser = parse_upstream_url
    )]
    pub(crate) upstream_url: Url,

    /// A PEM file of certificates to trust for an https UPSTREAM_URL,
    /// besides the system's.
    #[cfg(feature = "tls")]
    #[arg(
        long,
        env = "UPSTREAM_CA_FILE",
        value_name = "UPSTREAM_CA_FILE",
        value_parser = crate::settings::ca_file::read_roots
    )]
    pub(crate) upstream_ca_file: Option<crate::settings::ca_file::ExtraRoots>,

    /// The knobs that cause the leak or stop it.
    #[command(flatten)]
    pub(crate) knobs: Knobs,

    /// Who may switch a setting at runtime (PUT /settings): loopback (peers
    /// on this machine), off (nobody) or any (any peer, for a lab network).
    #[arg(
        long = "switches",
        env = "SWITCHES",
        value_name = "SWITCHES",
        default_value = "loopback",
        value_parser = parse_switch_policy
    )]
    pub(crate) switch_policy: SwitchPolicy,

    /// Host names this server answers its settings, figures and dashboard
    /// under, besides loopback names and addresses and the address it was
    /// reached on: comma-separated, e.g. server1.internal for a server 1
    /// that server 2 reaches by that name. Every other Host is refused
    /// there, so that no other site's page can read or switch them.
    #[arg(
        long,
        env = "EXTRA_HOSTS",
        value_name = "EXTRA_HOSTS",
        default_value = "",
        value_parser = parse_extra_hosts
    )]
    pub(crate) extra_hosts: ExtraHosts,

    /// How the retainer learns that a held client's connection closed:
    /// sock_diag (the kernel's socket diagnostics, falling back to
    /// /proc/net/tcp where they cannot be asked), proc (/proc/net/tcp
    /// only: slower) or none (never: every held client stays until
    /// shutdown, as where neither can be read).
    #[arg(
        long,
        env = "CONNECTION_CHECK",
        value_name = "CONNECTION_CHECK",
        default_value = "sock_diag",
        value_parser = parse_check_connections
    )]
    pub(crate) connection_check: CheckWith,

    /// How long a shutdown lets requests in flight finish, in Go syntax.
    #[arg(
        long,
        env = "SHUTDOWN_GRACE",
        value_name = "SHUTDOWN_GRACE",
        default_value = "10s",
        value_parser = parse_duration
    )]
    pub(crate) shutdown_grace: Duration,

    /// What to log, as a tracing filter (e.g. info, debug,
    /// hyper_util::client::legacy::pool=trace).
    #[arg(
        long = "log",
        env = "RUST_LOG",
        value_name = "RUST_LOG",
        default_value = "info",
        value_parser = parse_log_filter
    )]
    pub log_filter: String,
}

/// The `EXTRA_HOSTS` setting: host names, lower-cased, without ports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ExtraHosts(pub Vec<String>);

/// The most names `EXTRA_HOSTS` takes: a server has a few names, and each
/// is compared with every request's `Host`.
pub(crate) const MOST_EXTRA_HOSTS: usize = 64;

/// Reads `EXTRA_HOSTS`: names separated by commas, each a DNS name or an IP
/// address, no port. The `Host` rule compares names as written, so a
/// trailing dot (a second spelling of a name) is refused, and so is the
/// unspecified address, which names no host.
pub(crate) fn parse_extra_hosts(text: &str) -> Result<ExtraHosts, String> {
    let names: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .collect();
    if names.len() > MOST_EXTRA_HOSTS {
        return Err(format!(
            "{} names; at most {MOST_EXTRA_HOSTS}, separated by commas",
            names.len()
        ));
    }
    names
        .into_iter()
        .map(extra_host)
        .collect::<Result<_, _>>()
        .map(ExtraHosts)
}

/// One name of `EXTRA_HOSTS`, lower-cased, or why it is refused.
fn extra_host(name: &str) -> Result<String, String> {
    let bad = |why: &str| {
        format!(
            "invalid host name {name:?}: {why}; expected DNS names such as server1.internal or \
             IP addresses, separated by commas, without ports"
        )
    };
    let bare = name
        .strip_prefix('[')
        .and_then(|name| name.strip_suffix(']'))
        .unwrap_or(name);
    if let Ok(address) = bare.parse::<std::net::IpAddr>() {
        if address.is_unspecified() {
            return Err(bad("the unspecified address names no host"));
        }
        return Ok(bare.to_ascii_lowercase());
    }
    if name.ends_with('.') {
        return Err(bad("write it without the trailing dot"));
    }
    let label_fine = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    let labels: Vec<&str> = name.split('.').collect();
    if name.len() > 253 || !labels.iter().all(|label| label_fine(label)) {
        return Err(bad("not a DNS name"));
    }
    // A URL reads a name whose last label is a number as an IPv4 address.
    if labels
        .last()
        .is_some_and(|last| last.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(bad("not a DNS name nor an IP address"));
    }
    Ok(name.to_ascii_lowercase())
}

/// Whose switches are accepted: the `SWITCHES` setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SwitchPolicy {
    Loopback,
    Off,
    Any,
}

impl fmt::Display for SwitchPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SwitchPolicy::Loopback => "loopback",
            SwitchPolicy::Off => "off",
            SwitchPolicy::Any => "any",
        })
    }
}

/// Reads `SWITCHES`: `loopback`, `off` or `any`.
pub(crate) fn parse_switch_policy(text: &str) -> Result<SwitchPolicy, String> {
    match text {
        "loopback" => Ok(SwitchPolicy::Loopback),
        "off" => Ok(SwitchPolicy::Off),
        "any" => Ok(SwitchPolicy::Any),
        _ => Err(format!(
            "invalid value {text:?}: expected loopback, off or any"
        )),
    }
}

/// How the retainer asks whether a connection is open: `CONNECTION_CHECK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CheckWith {
    SockDiag,
    Proc,
    None,
}

fn parse_check_connections(text: &str) -> Result<CheckWith, String> {
    match text {
        "sock_diag" => Ok(CheckWith::SockDiag),
        "proc" => Ok(CheckWith::Proc),
        "none" => Ok(CheckWith::None),
        _ => Err(format!(
            "invalid value {text:?}: expected sock_diag, proc or none"
        )),
    }
}

/// The one line a bad setting gets, at start and when switched: the
/// variable first, then what was wrong with the value and what is
/// accepted, as its parser says (which names the value, any password
/// hidden).
pub(crate) fn bad_setting(env: &str, reason: &str) -> String {
    format!("{env}: {reason}")
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
    use clap::Args;
    Config::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .any(|argument| argument.get_env().is_some_and(|env| env == name))
}

/// Environment variables that are not settings but lie within two edits of
/// one (`DISABLE_KEEPALIVES`, `IDLE_CONN_TIMOUT`), each with the setting
/// it was probably meant to be: a misspelled fix is otherwise silently
/// ignored, and the leak goes on.
pub fn misspelled_settings(variables: impl Iterator<Item = String>) -> Vec<(String, String)> {
    use clap::Args;
    let settings: Vec<String> = Config::augment_args(clap::Command::new("settings"))
        .get_arguments()
        .filter_map(|argument| Some(argument.get_env()?.to_str()?.to_owned()))
        .collect();
    variables
        .filter(|variable| !settings.contains(variable))
        .filter_map(|variable| {
            let upper = variable.to_ascii_uppercase();
            let meant = settings
                .iter()
                .find(|setting| edits(&upper, setting) <= 2)?;
            Some((variable, meant.clone()))
        })
        .collect()
}

/// The Levenshtein distance between two ASCII names.
fn edits(a: &str, b: &str) -> usize {
    let b = b.as_bytes();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.bytes().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (above + 1)
                .min(row[j] + 1)
                .min(diagonal + usize::from(ca != *cb));
            diagonal = above;
        }
    }
    row[b.len()]
}

fn parse_upstream_url(text: &str) -> Result<Url, String> {
    // Errors show the URL without its password.
    let shown = redacted_text(text);
    let url = Url::parse(text).map_err(|err| {
        format!(
            "invalid URL {shown:?}: {err}; expected an http URL such as http://localhost:8080/hello"
        )
    })?;
    // The URL parser reads `http:///hello` as host `hello`: refuse it.
    let written_host = text
        .split_once("://")
        .is_some_and(|(_, rest)| !rest.starts_with('/'));
    match url.scheme() {
        "http" | "https" if !url.has_host() || !written_host => {
            Err(format!("invalid URL {shown:?}: it has no host"))
        }
        "http" | "https" if url.port() == Some(0) => Err(format!(
            "invalid URL {shown:?}: port 0 cannot be connected to"
        )),
        "http" => Ok(url),
        "https" if cfg!(feature = "tls") => Ok(url),
        "https" => Err(format!(
            "invalid URL {shown:?}: https needs the tls cargo feature (cargo run --release --features tls)"
        )),
        other => Err(format!(
            "invalid URL {shown:?}: scheme {other:?} is not supported; expected http or https"
        )),
    }
}

fn parse_log_filter(text: &str) -> Result<String, String> {
    EnvFilter::try_new(text)
        .map(|_| text.to_owned())
        .map_err(|err| {
            format!("invalid filter {text:?}: {err}; expected e.g. info or debug,hyper=info")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use crate::settings::knobs::{ClientLifetime, IdleConnsPerHost};
    use clap::Parser;

    fn parse(args: &[&str]) -> Result<Config, clap::Error> {
        let args = std::iter::once("reqwest-connection-leak").chain(args.iter().copied());
        Cli::try_parse_from(args).map(|cli| cli.serve)
    }

    #[test]
    fn every_setting_can_be_given_as_a_flag() {
        let config = parse(&[
            "--bind-address=127.0.0.1:0",
            "--disable-keep-alives",
            "--idle-conn-timeout=1.5s",
            "--max-idle-conns-per-host=3",
            "--connection-close=T",
            "--client-lifetime=process",
        ])
        .expect("valid flags");
        assert_eq!(config.bind_address.to_string(), "127.0.0.1:0");
        let knobs = config.knobs;
        assert!(knobs.disable_keep_alives);
        assert!(knobs.connection_close);
        assert_eq!(knobs.client_lifetime, ClientLifetime::Process);
        assert_eq!(knobs.idle_conn_timeout, Duration::from_millis(1500));
        assert_eq!(knobs.max_idle_conns_per_host, IdleConnsPerHost(3));
    }

    #[test]
    fn a_variable_two_edits_from_a_setting_is_named_with_it() {
        let given = [
            "DISABLE_KEEPALIVES",
            "IDLE_CONN_TIMOUT",
            "disable_keep_alives",
            "DISABLE_KEEP_ALIVES",
            "PATH",
            "HOME",
            "SWITCH",
        ]
        .map(String::from);
        assert_eq!(
            misspelled_settings(given.into_iter()),
            [
                ("DISABLE_KEEPALIVES", "DISABLE_KEEP_ALIVES"),
                ("IDLE_CONN_TIMOUT", "IDLE_CONN_TIMEOUT"),
                ("disable_keep_alives", "DISABLE_KEEP_ALIVES"),
                ("SWITCH", "SWITCHES"),
            ]
            .map(|(given, meant)| (given.to_owned(), meant.to_owned()))
        );
    }

    #[test]
    fn extra_hosts_are_names_without_ports() {
        assert_eq!(
            parse_extra_hosts(" Server1.internal, ,pair-a "),
            Ok(ExtraHosts(vec!["server1.internal".into(), "pair-a".into()]))
        );
        assert_eq!(parse_extra_hosts(""), Ok(ExtraHosts::default()));
        for bad in [
            "server1:8080",
            "a b",
            "evil.example/x",
            ".",
            "..",
            "-",
            "a..b",
            "-a.example",
            "0.0.0.0",
            "::",
            "[::]",
            "localhost.",
            "1.2.3",
        ] {
            assert!(
                parse_extra_hosts(bad)
                    .unwrap_err()
                    .contains("invalid host name"),
                "{bad}"
            );
        }
        assert_eq!(
            parse_extra_hosts("10.0.0.8, [FD00::1], fd00::2, a-1.example"),
            Ok(ExtraHosts(vec![
                "10.0.0.8".into(),
                "fd00::1".into(),
                "fd00::2".into(),
                "a-1.example".into()
            ]))
        );
        let many: Vec<String> = (0..=MOST_EXTRA_HOSTS).map(|n| format!("h{n}")).collect();
        let err = parse_extra_hosts(&many.join(",")).unwrap_err();
        assert!(err.starts_with("65 names; at most 64"), "{err}");
    }

    #[test]
    fn switches_is_one_of_three_words() {
        assert_eq!(parse_switch_policy("any"), Ok(SwitchPolicy::Any));
        assert!(
            parse_switch_policy("all")
                .unwrap_err()
                .contains("loopback, off or any")
        );
    }

    #[test]
    fn https_needs_the_tls_feature() {
        let parsed = parse_upstream_url("https://localhost:8443/hello");
        if cfg!(feature = "tls") {
            assert!(parsed.is_ok(), "{parsed:?}");
        } else {
            assert!(parsed.unwrap_err().contains("needs the tls cargo feature"));
        }
    }

    #[test]
    fn upstream_urls_must_be_http_with_a_host() {
        assert!(parse_upstream_url("http://127.0.0.1:1/hello").is_ok());
        for (text, expected) in [
            ("localhost:8080", "not supported"),
            ("ftp://host/x", "not supported"),
            ("http://", "invalid URL"),
            ("nonsense", "expected an http URL"),
            ("http:///hello", "it has no host"),
            ("http://localhost:0/hello", "port 0"),
            ("ftp://user:secret@host/x", "redacted@host"),
        ] {
            let err = parse_upstream_url(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains("secret"), "{text}: {err}");
        }
    }
}
