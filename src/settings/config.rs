//! Every setting, read once at start from an env var or a `--flag`.
//!
//! Each value is checked by its parser before the server listens, so bad
//! input ends the program with one line that names the variable, the value
//! and what is accepted.

use std::time::Duration;

use clap::Args;
use reqwest::Url;
use tracing_subscriber::EnvFilter;

use crate::settings::bind_address::BindAddress;
use crate::settings::check_with::{CheckWith, parse_check_connections};
use crate::settings::extra_hosts::{ExtraHosts, parse_extra_hosts};
use crate::settings::go_syntax::parse_duration;
use crate::settings::knobs::Knobs;
use crate::settings::redact::redacted_text;
use crate::settings::switch_policy::{SwitchPolicy, parse_switch_policy};

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

impl Config {
    /// Every setting's env var, as clap knows them.
    pub(crate) fn env_names() -> Vec<String> {
        Config::augment_args(clap::Command::new("settings"))
            .get_arguments()
            .filter_map(|argument| Some(argument.get_env()?.to_str()?.to_owned()))
            .collect()
    }
}

/// The one line a bad setting gets, at start and when switched: the
/// variable first, then what was wrong with the value and what is
/// accepted, as its parser says (which names the value, any password
/// hidden).
pub(crate) fn bad_setting(env: &str, reason: &str) -> String {
    format!("{env}: {reason}")
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
