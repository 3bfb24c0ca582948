//! Every setting, read once at start from an env var or a `--flag`.
//!
//! Each value is checked by its parser before the server listens, so bad
//! input ends the program with one line that names the variable, the value
//! and what is accepted.

use std::fmt;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};
use reqwest::Url;
use tracing_subscriber::EnvFilter;

use crate::settings::bind_address::BindAddress;
use crate::settings::go_syntax::{parse_bool, parse_duration, zero_means_none};
use crate::settings::redact::{redacted_text, redacted_words};

/// The server's settings: both roles read the same ones.
#[derive(Debug, Args)]
pub struct Config {
    /// Where to listen: :PORT (every interface), HOST:PORT or [IPV6]:PORT;
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
    pub upstream_url: Url,

    /// A PEM file of certificates to trust for an https UPSTREAM_URL,
    /// besides the system's.
    #[cfg(feature = "tls")]
    #[arg(
        long,
        env = "UPSTREAM_CA_FILE",
        value_name = "UPSTREAM_CA_FILE",
        value_parser = crate::settings::ca_file::read_roots
    )]
    pub upstream_ca_file: Option<crate::settings::ca_file::ExtraRoots>,

    /// A fix, Go's Transport.DisableKeepAlives: every upstream request says
    /// `Connection: close` and the client pools no idle connection.
    #[arg(
        long,
        env = "DISABLE_KEEP_ALIVES",
        value_name = "DISABLE_KEEP_ALIVES",
        default_value = "false",
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = parse_bool
    )]
    pub disable_keep_alives: bool,

    /// A fix, Go's Transport.IdleConnTimeout, in Go syntax (1s, 500ms,
    /// 1m30s): how long an idle pooled connection may live. 0 means no
    /// limit, as Go's zero value does (reqwest's own default is 90s).
    #[arg(
        long,
        env = "IDLE_CONN_TIMEOUT",
        value_name = "IDLE_CONN_TIMEOUT",
        default_value = "0",
        value_parser = parse_duration
    )]
    pub idle_conn_timeout: Duration,

    /// The pool's cap on idle connections per host; no limit when unset.
    #[arg(
        long,
        env = "MAX_IDLE_CONNS_PER_HOST",
        value_name = "MAX_IDLE_CONNS_PER_HOST",
        value_parser = parse_count
    )]
    pub max_idle_conns_per_host: Option<usize>,

    /// A fix on server 1: /hello answers with `Connection: close`, so every
    /// client closes the connection after reading the answer.
    #[arg(
        long,
        env = "CONNECTION_CLOSE",
        value_name = "CONNECTION_CLOSE",
        default_value = "false",
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = parse_bool
    )]
    pub connection_close: bool,

    /// How long each /forward client lives.
    #[arg(
        long,
        env = "CLIENT_LIFETIME",
        value_name = "CLIENT_LIFETIME",
        value_enum,
        default_value_t = ClientLifetime::Connection
    )]
    pub client_lifetime: ClientLifetime,

    /// A total deadline for each upstream call, in Go syntax; past it
    /// /forward answers 504. 0 means none, like the Go original.
    #[arg(
        long,
        env = "REQUEST_TIMEOUT",
        value_name = "REQUEST_TIMEOUT",
        default_value = "0",
        value_parser = parse_duration
    )]
    pub request_timeout: Duration,

    /// A fix on server 1, Go's http.Server.IdleTimeout, in Go syntax: close
    /// a connection whose next request head has not arrived within this
    /// time. 0 means none, like Go's server: idle connections stay open.
    /// Otherwise at least 10ms: a shorter one would close connections
    /// before their first request could arrive.
    #[arg(
        long,
        env = "SERVER_IDLE_TIMEOUT",
        value_name = "SERVER_IDLE_TIMEOUT",
        default_value = "0",
        value_parser = parse_server_idle_timeout
    )]
    pub server_idle_timeout: Duration,

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

/// How long a per-request `reqwest::Client` lives once `/forward` is done
/// with it. Go has no such choice: its garbage collector decides, and that
/// decision is what leaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ClientLifetime {
    /// Go's lifetime: the client lives as long as its pooled connection
    /// would keep a Go transport reachable (forever, by default).
    Connection,
    /// Rust's ownership: the client is dropped when the handler returns,
    /// which closes its idle connection at once.
    Request,
    /// The right way: one client, built at start and shared.
    Process,
}

impl fmt::Display for ClientLifetime {
    /// The name the variable takes, e.g. `connection`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.to_possible_value() {
            Some(value) => f.write_str(value.get_name()),
            None => write!(f, "{self:?}"),
        }
    }
}

impl Config {
    /// `SERVER_IDLE_TIMEOUT`, if there is one.
    pub fn server_idle_timeout(&self) -> Option<Duration> {
        zero_means_none(self.server_idle_timeout)
    }
}

/// clap's error on one line, for a bad env var or flag: it names the
/// variable, the value (any password hidden) and what is accepted.
pub fn one_line(err: &clap::Error) -> String {
    let line = err
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .collect::<Vec<_>>()
        .join(" ");
    redacted_words(&line)
}

/// The shortest `SERVER_IDLE_TIMEOUT` but none.
const MIN_SERVER_IDLE_TIMEOUT: Duration = Duration::from_millis(10);

fn parse_server_idle_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if !timeout.is_zero() && timeout < MIN_SERVER_IDLE_TIMEOUT {
        return Err(format!(
            "invalid duration {text:?}: 0 (none) or at least {MIN_SERVER_IDLE_TIMEOUT:?}; a \
             shorter one closes connections before their first request can arrive"
        ));
    }
    Ok(timeout)
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
            "invalid URL {shown:?}: https needs the tls cargo feature (cargo run --features tls)"
        )),
        other => Err(format!(
            "invalid URL {shown:?}: scheme {other:?} is not supported; expected http or https"
        )),
    }
}

fn parse_count(text: &str) -> Result<usize, String> {
    text.parse()
        .map_err(|_| format!("invalid count {text:?}: expected a whole number, 0 or more"))
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
    use crate::settings::cli::Cli;
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
        assert!(config.disable_keep_alives);
        assert!(config.connection_close);
        assert_eq!(config.client_lifetime, ClientLifetime::Process);
        assert_eq!(config.idle_conn_timeout, Duration::from_millis(1500));
        assert_eq!(config.max_idle_conns_per_host, Some(3));
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
    fn a_server_idle_timeout_is_none_or_long_enough_for_a_request() {
        assert_eq!(parse_server_idle_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(
            parse_server_idle_timeout("10ms"),
            Ok(Duration::from_millis(10))
        );
        for short in ["1ns", "9ms", "999us"] {
            let err = parse_server_idle_timeout(short).expect_err(short);
            assert!(err.contains("at least 10ms"), "{err}");
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
            ("ftp://user:secret@host/x", "user:redacted@host"),
        ] {
            let err = parse_upstream_url(text).expect_err(text);
            assert!(err.contains(expected), "{text}: {err}");
            assert!(!err.contains("secret"), "{text}: {err}");
        }
    }
}
