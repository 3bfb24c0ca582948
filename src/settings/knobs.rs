//! The knobs: the settings that cause the leak or stop it, each read once
//! from its Go spelling into what it means.
//!
//! After parsing, nothing compares spellings: `1s` and `1000ms` are one
//! timeout, `true`, `T` and `1` one boolean, `-1`, `-01` and `-5` one "keep
//! no idle connection". The registry ([`crate::scenario`]), the dashboard's
//! verdict, the retainer's rule and the tests all ask these values.
//!
//! # Where Go and reqwest differ
//!
//! Each knob starts at the value of Go's zero `http.Transport` or
//! `http.Server`, which is what the Go original runs with. reqwest's own
//! defaults differ for three of them, so each is passed to reqwest
//! explicitly:
//!
//! | knob | Go's zero value | reqwest's default |
//! |---|---|---|
//! | `IDLE_CONN_TIMEOUT` | 0: an idle connection is kept for ever | 90 s |
//! | `MAX_IDLE_CONNS_PER_HOST` | 0, read as 2 idle connections per host | no limit |
//! | `REQUEST_TIMEOUT` | 0: no deadline | no deadline |
//! | `DISABLE_KEEP_ALIVES` | false: connections are kept | kept |
//!
//! On the server side, Go's `http.Server` with a zero `IdleTimeout` and
//! `ReadTimeout` never closes an idle connection; hyper does not either,
//! unless a timer is given, and then its 30 s header-read timeout applies
//! unless set. `SERVER_IDLE_TIMEOUT` sets it, or leaves no timer at all.

use std::fmt;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

use crate::settings::go_syntax::{parse_bool, parse_duration, parse_int};

/// The knobs in effect on one server. Both roles read the same ones; each
/// knob acts in the role named by [`Knob::side`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
pub struct Knobs {
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

    /// A fix when negative, Go's Transport.MaxIdleConnsPerHost, a whole
    /// number as Go reads it: 0 is Go's default of 2 idle connections per
    /// host, a negative number keeps none, a positive one caps (reqwest's
    /// own default has no cap).
    #[arg(
        long,
        env = "MAX_IDLE_CONNS_PER_HOST",
        value_name = "MAX_IDLE_CONNS_PER_HOST",
        default_value = "0",
        allow_negative_numbers = true,
        value_parser = parse_idle_conns_per_host
    )]
    pub max_idle_conns_per_host: IdleConnsPerHost,

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

    /// How long each /forward client lives: connection (as long as its
    /// connection is open, Go's lifetime: the leak), request (dropped when
    /// the request is done, Rust's) or process (one client, shared).
    #[arg(
        long,
        env = "CLIENT_LIFETIME",
        value_name = "CLIENT_LIFETIME",
        default_value = "connection",
        value_parser = parse_client_lifetime
    )]
    pub client_lifetime: ClientLifetime,

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

    /// A fix on server 1, the opposite of Go's
    /// http.Server.SetKeepAlivesEnabled(false): false answers every request
    /// with `Connection: close`, and, switched at runtime, also closes the
    /// connections waiting idle for their next request.
    #[arg(
        long,
        env = "SERVER_KEEP_ALIVES",
        value_name = "SERVER_KEEP_ALIVES",
        default_value = "true",
        num_args = 0..=1,
        default_missing_value = "true",
        action = ArgAction::Set,
        value_parser = parse_bool
    )]
    pub server_keep_alives: bool,

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
}

impl Default for Knobs {
    /// Go's zero values: the leak.
    fn default() -> Self {
        Knobs {
            disable_keep_alives: false,
            idle_conn_timeout: Duration::ZERO,
            max_idle_conns_per_host: IdleConnsPerHost::default(),
            connection_close: false,
            client_lifetime: ClientLifetime::Connection,
            server_idle_timeout: Duration::ZERO,
            server_keep_alives: true,
            request_timeout: Duration::ZERO,
        }
    }
}

impl Knobs {
    /// The knobs a list of `VAR=value` settings gives, as `/figures`
    /// reports them: Go's zero values for those it does not name, or names
    /// with a value that does not parse.
    pub fn read(settings: &[String]) -> Knobs {
        let mut knobs = Knobs::default();
        for (knob, value) in settings.iter().filter_map(|given| {
            let (env, value) = given.split_once('=')?;
            Some((Knob::named(env)?, value))
        }) {
            // A server checked its own settings at start.
            let _ = knob.set(&mut knobs, value);
        }
        knobs
    }
}

/// Which server a knob acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// The one that answers `/hello`.
    Server1,
    /// The one whose `/forward` builds a client per request.
    Server2,
}

impl fmt::Display for Side {
    /// `server1` or `server2`, as the scripts read it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Server1 => "server1",
            Side::Server2 => "server2",
        })
    }
}

/// One knob, by its env var.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Knob {
    DisableKeepAlives,
    IdleConnTimeout,
    MaxIdleConnsPerHost,
    ConnectionClose,
    ClientLifetime,
    ServerIdleTimeout,
    ServerKeepAlives,
    RequestTimeout,
}

impl Knob {
    /// Every knob, in `--help` order.
    pub const ALL: &[Knob] = &[
        Knob::DisableKeepAlives,
        Knob::IdleConnTimeout,
        Knob::MaxIdleConnsPerHost,
        Knob::ConnectionClose,
        Knob::ClientLifetime,
        Knob::ServerIdleTimeout,
        Knob::ServerKeepAlives,
        Knob::RequestTimeout,
    ];

    /// Its env var.
    pub fn env(self) -> &'static str {
        match self {
            Knob::DisableKeepAlives => "DISABLE_KEEP_ALIVES",
            Knob::IdleConnTimeout => "IDLE_CONN_TIMEOUT",
            Knob::MaxIdleConnsPerHost => "MAX_IDLE_CONNS_PER_HOST",
            Knob::ConnectionClose => "CONNECTION_CLOSE",
            Knob::ClientLifetime => "CLIENT_LIFETIME",
            Knob::ServerIdleTimeout => "SERVER_IDLE_TIMEOUT",
            Knob::ServerKeepAlives => "SERVER_KEEP_ALIVES",
            Knob::RequestTimeout => "REQUEST_TIMEOUT",
        }
    }

    /// The knob whose env var is `env`.
    pub fn named(env: &str) -> Option<Knob> {
        Knob::ALL.iter().copied().find(|knob| knob.env() == env)
    }

    /// Its value when not given, spelled as `--help` shows it: Go's zero
    /// value, but `SERVER_KEEP_ALIVES`, which is on unless switched off.
    pub fn default_value(self) -> &'static str {
        match self {
            Knob::DisableKeepAlives | Knob::ConnectionClose => "false",
            Knob::ServerKeepAlives => "true",
            Knob::IdleConnTimeout
            | Knob::MaxIdleConnsPerHost
            | Knob::ServerIdleTimeout
            | Knob::RequestTimeout => "0",
            Knob::ClientLifetime => "connection",
        }
    }

    /// The server it acts on: the client's knobs on server 2, the
    /// server's on server 1.
    pub fn side(self) -> Side {
        match self {
            Knob::ConnectionClose | Knob::ServerIdleTimeout | Knob::ServerKeepAlives => {
                Side::Server1
            }
            Knob::DisableKeepAlives
            | Knob::IdleConnTimeout
            | Knob::MaxIdleConnsPerHost
            | Knob::ClientLifetime
            | Knob::RequestTimeout => Side::Server2,
        }
    }

    /// Reads `text` with this knob's parser, the one the command line
    /// uses, into `knobs`.
    pub fn set(self, knobs: &mut Knobs, text: &str) -> Result<(), String> {
        match self {
            Knob::DisableKeepAlives => knobs.disable_keep_alives = parse_bool(text)?,
            Knob::IdleConnTimeout => knobs.idle_conn_timeout = parse_duration(text)?,
            Knob::MaxIdleConnsPerHost => {
                knobs.max_idle_conns_per_host = parse_idle_conns_per_host(text)?;
            }
            Knob::ConnectionClose => knobs.connection_close = parse_bool(text)?,
            Knob::ClientLifetime => knobs.client_lifetime = parse_client_lifetime(text)?,
            Knob::ServerIdleTimeout => {
                knobs.server_idle_timeout = parse_server_idle_timeout(text)?;
            }
            Knob::ServerKeepAlives => knobs.server_keep_alives = parse_bool(text)?,
            Knob::RequestTimeout => knobs.request_timeout = parse_duration(text)?,
        }
        Ok(())
    }
}

/// Go's `MaxIdleConnsPerHost`, kept as Go's int.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdleConnsPerHost(pub i64);

/// Go's `DefaultMaxIdleConnsPerHost`: what a zero `MaxIdleConnsPerHost`
/// means.
const GO_DEFAULT_IDLE_CONNS_PER_HOST: usize = 2;

impl IdleConnsPerHost {
    /// How many idle connections to one host a pool keeps, as Go reads the
    /// value: 0 is Go's default of 2, a negative value none (Go's
    /// `tryPutIdleConn` refuses every idle connection then), a positive one
    /// that many.
    pub fn kept(self) -> usize {
        match self.0 {
            0 => GO_DEFAULT_IDLE_CONNS_PER_HOST,
            negative if negative < 0 => 0,
            positive => usize::try_from(positive).unwrap_or(usize::MAX),
        }
    }
}

fn parse_idle_conns_per_host(text: &str) -> Result<IdleConnsPerHost, String> {
    parse_int(text).map(IdleConnsPerHost)
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

/// `CLIENT_LIFETIME` has no Go spelling: its own names, exactly.
fn parse_client_lifetime(text: &str) -> Result<ClientLifetime, String> {
    ClientLifetime::from_str(text, false).map_err(|_| {
        let names: Vec<String> = ClientLifetime::value_variants()
            .iter()
            .map(ToString::to_string)
            .collect();
        format!(
            "invalid lifetime {text:?}: expected one of {}",
            names.join(", ")
        )
    })
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::{CommandFactory, Parser};

    fn from_flags(flags: &[String]) -> Knobs {
        let args = std::iter::once("reqwest-connection-leak".to_owned()).chain(flags.to_vec());
        Cli::try_parse_from(args).expect("valid flags").serve.knobs
    }

    /// A value other than the default for each knob, in one spelling.
    fn other_value(knob: Knob) -> &'static str {
        match knob {
            Knob::DisableKeepAlives | Knob::ConnectionClose => "T",
            Knob::ServerKeepAlives => "F",
            Knob::IdleConnTimeout | Knob::ServerIdleTimeout | Knob::RequestTimeout => "1500ms",
            Knob::MaxIdleConnsPerHost => "-01",
            Knob::ClientLifetime => "process",
        }
    }

    #[test]
    fn the_defaults_are_the_command_lines_defaults() {
        assert_eq!(from_flags(&[]), Knobs::default());
    }

    #[test]
    fn each_default_value_is_the_default() {
        let mut knobs = Knobs::default();
        for &knob in Knob::ALL {
            assert_eq!(knob.set(&mut knobs, knob.default_value()), Ok(()));
        }
        assert_eq!(knobs, Knobs::default());
        let settings = crate::cli::Cli::parse_with_settings(["reqwest-connection-leak".into()])
            .expect("the defaults")
            .1;
        for &knob in Knob::ALL {
            let given = format!("{}={}", knob.env(), knob.default_value());
            assert!(settings.contains(&given), "{given} in {settings:?}");
        }
    }

    #[test]
    fn each_knob_reads_as_the_command_line_reads_it() {
        let envs: Vec<String> = Cli::command()
            .get_arguments()
            .filter_map(|argument| Some(argument.get_env()?.to_string_lossy().into_owned()))
            .collect();
        for &knob in Knob::ALL {
            assert!(envs.iter().any(|env| env == knob.env()), "{knob:?}");
            let value = other_value(knob);
            let flag = format!("--{}={value}", knob.env().to_lowercase().replace('_', "-"));
            let mut set = Knobs::default();
            knob.set(&mut set, value).expect("a valid value");
            assert_ne!(set, Knobs::default(), "{knob:?}");
            assert_eq!(set, from_flags(&[flag]), "{knob:?}");
            assert_eq!(Knob::named(knob.env()), Some(knob));
        }
    }

    #[test]
    fn a_settings_list_reads_into_knobs_whatever_the_spelling() {
        let given =
            |list: &[&str]| Knobs::read(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        assert_eq!(
            given(&[
                "IDLE_CONN_TIMEOUT=1s",
                "BIND_ADDRESS=:0",
                "DISABLE_KEEP_ALIVES=1"
            ]),
            given(&["DISABLE_KEEP_ALIVES=True", "IDLE_CONN_TIMEOUT=1000ms"]),
        );
        assert_eq!(given(&["IDLE_CONN_TIMEOUT=soon"]), Knobs::default());
    }

    #[test]
    fn idle_conns_per_host_as_go_reads_them() {
        let kept = |text: &str| parse_idle_conns_per_host(text).map(IdleConnsPerHost::kept);
        assert_eq!(kept("0"), Ok(2));
        assert_eq!(kept("-1"), Ok(0));
        assert_eq!(kept("-01"), Ok(0));
        assert_eq!(kept("-5"), Ok(0));
        assert_eq!(kept("+3"), Ok(3));
        assert_eq!(kept("007"), Ok(7));
        for bad in ["", "two", "1.5", " 1", "1_000", "9223372036854775808"] {
            let err = kept(bad).expect_err(bad);
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn a_lifetime_is_one_of_its_names() {
        assert_eq!(
            parse_client_lifetime("request"),
            Ok(ClientLifetime::Request)
        );
        let err = parse_client_lifetime("Request").unwrap_err();
        assert!(err.contains("connection, request, process"), "{err}");
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
}
