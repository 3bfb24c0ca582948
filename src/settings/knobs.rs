//! The knobs: the settings that cause the leak or stop it, each read once
//! from its Go spelling into what it means, and each declared once: a row
//! of the table below (`knobs! { ... }`).
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
//! defaults differ for two of them, so each is passed to reqwest
//! explicitly:
//!
//! | knob | Go's zero value | reqwest's default |
//! |---|---|---|
//! | `IDLE_CONN_TIMEOUT` | 0: an idle connection is kept for ever | 90 s |
//! | `MAX_IDLE_CONNS_PER_HOST` | 0, read as 2 idle connections per host | no limit |
//!
//! On the server side, Go's `http.Server` with a zero `IdleTimeout` and
//! `ReadTimeout` never closes an idle connection. hyper's server is given
//! no timer here, so it has no timeout of its own either; the server's
//! knobs are deadlines this program keeps itself (see
//! `crate::serve::inbound`).

use std::fmt;
use std::time::Duration;

use clap::{ArgAction, Args, ValueEnum};

use crate::settings::go_syntax::{parse_bool, parse_duration, parse_int};
pub use crate::settings::on_switch::OnSwitch;

/// Declares the knobs from one table: each row gives the knob's variant
/// and field, its type and default (as `--help` shows it and as it is
/// parsed), its env var, the server it acts on, its parser, what Go calls
/// it, a value other than the default in two spellings Go reads alike (for
/// the tests), what a switch of it does at once ([`OnSwitch`]), `flag`
/// with the value a bare `--flag` means, and any
/// further clap attributes. [`Knobs`] (the command line's
/// arguments and the values in effect), [`Knob`], [`Knob::ALL`] and every
/// one of `Knob`'s answers follow from the row; what a knob does stays in
/// the code that reads its field.
macro_rules! knobs {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident $field:ident: $type:ty = $default:literal,
            env $env:literal, side $side:ident, parse $parse:path, go $go:literal,
            switched $switched:ident, spelled $spelled:literal as $also:literal
            $(, flag $flag:literal)?
            $(, clap($($clap:tt)*))?;
    )*) => {
        /// The knobs in effect on one server. Both roles read the same
        /// ones; each knob acts in the role named by `Knob::side`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Args)]
        pub struct Knobs {
            $(
                $(#[doc = $doc])*
                #[arg(
                    long,
                    env = $env,
                    value_name = $env,
                    default_value = $default,
                    value_parser = $parse
                    $(, num_args = 0..=1, default_missing_value = $flag, action = ArgAction::Set)?
                    $(, $($clap)*)?
                )]
                pub $field: $type,
            )*
        }

        impl Default for Knobs {
            /// Each knob's default, read by its own parser (a test reads
            /// every one): Go's zero values, the leak.
            fn default() -> Self {
                Knobs {
                    $($field: $parse($default).expect(concat!($env, "'s default parses")),)*
                }
            }
        }

        /// One knob, by its env var, which is also how it is spelled on
        /// the wire (`/settings`, `/figures`).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Knob {
            $($variant,)*
        }

        impl Knob {
            /// Every knob, in `--help` order.
            pub const ALL: &[Knob] = &[$(Knob::$variant,)*];

            /// Its env var.
            pub fn env(self) -> &'static str {
                match self {
                    $(Knob::$variant => $env,)*
                }
            }

            /// Its value when not given, spelled as `--help` shows it.
            pub fn default_value(self) -> &'static str {
                match self {
                    $(Knob::$variant => $default,)*
                }
            }

            /// The server it acts on: the client's knobs on server 2, the
            /// server's on server 1.
            pub(crate) fn side(self) -> Side {
                match self {
                    $(Knob::$variant => Side::$side,)*
                }
            }

            /// What switching it on a running server does at once.
            pub fn on_switch(self) -> OnSwitch {
                match self {
                    $(Knob::$variant => OnSwitch::$switched,)*
                }
            }

            /// What Go calls the field it stands for.
            pub fn go(self) -> &'static str {
                match self {
                    $(Knob::$variant => $go,)*
                }
            }

            /// A value other than the default, in two spellings Go reads
            /// alike (`true` and `T`, `1s` and `1000ms`): what the tests
            /// give to show that values, not spellings, are compared.
            pub fn spellings(self) -> (&'static str, &'static str) {
                match self {
                    $(Knob::$variant => ($spelled, $also),)*
                }
            }

            /// Reads `text` with this knob's parser, the one the command
            /// line uses, into `knobs`.
            pub fn set(self, knobs: &mut Knobs, text: &str) -> Result<(), String> {
                match self {
                    $(Knob::$variant => knobs.$field = $parse(text)?,)*
                }
                Ok(())
            }
        }
    };
}

knobs! {
    /// A fix, Go's Transport.DisableKeepAlives: every upstream request says
    /// `Connection: close` and the client pools no idle connection.
    DisableKeepAlives disable_keep_alives: bool = "false",
        env "DISABLE_KEEP_ALIVES", side Server2, parse parse_bool,
        go "Transport.DisableKeepAlives",
        switched RenewSharedClient, spelled "true" as "T", flag "true";

    /// A fix, Go's Transport.IdleConnTimeout, in Go syntax (1s, 500ms,
    /// 1m30s): how long an idle pooled connection may live. 0 means no
    /// limit, as Go's zero value does (reqwest's own default is 90s).
    IdleConnTimeout idle_conn_timeout: Duration = "0",
        env "IDLE_CONN_TIMEOUT", side Server2, parse parse_duration,
        go "Transport.IdleConnTimeout",
        switched RenewSharedClient, spelled "1s" as "1000ms";

    /// A fix when negative, Go's Transport.MaxIdleConnsPerHost, a whole
    /// number as Go reads it: 0 is Go's default of 2 idle connections per
    /// host, a negative number keeps none, a positive one caps (reqwest's
    /// own default has no cap).
    MaxIdleConnsPerHost max_idle_conns_per_host: IdleConnsPerHost = "0",
        env "MAX_IDLE_CONNS_PER_HOST", side Server2, parse parse_idle_conns_per_host,
        go "Transport.MaxIdleConnsPerHost",
        switched RenewSharedClient, spelled "-1" as "-01", clap(allow_negative_numbers = true);

    /// A fix on server 1: /hello answers with `Connection: close`, so every
    /// client closes the connection after reading the answer.
    ConnectionClose connection_close: bool = "false",
        env "CONNECTION_CLOSE", side Server1, parse parse_bool,
        go "a handler's Connection: close header",
        switched Nothing, spelled "true" as "T", flag "true";

    /// How long each /forward client lives: connection (as long as its
    /// connection is open, Go's lifetime: the leak), request (dropped when
    /// the request is done, Rust's) or process (one client, shared).
    ClientLifetime client_lifetime: ClientLifetime = "connection",
        env "CLIENT_LIFETIME", side Server2, parse parse_client_lifetime,
        go "the garbage collector's reach",
        switched RenewSharedClient, spelled "process" as "process";

    /// A fix on server 1, Go's http.Server.IdleTimeout, in Go syntax: close
    /// a connection whose next request head has not arrived within this
    /// time. 0 means none of its own, like Go's server: idle connections
    /// stay open, unless SERVER_READ_TIMEOUT is set, which Go then takes as
    /// the idle timeout too.
    /// Otherwise at least 10ms: a shorter one would close connections
    /// before their first request could arrive.
    ServerIdleTimeout server_idle_timeout: Duration = "0",
        env "SERVER_IDLE_TIMEOUT", side Server1, parse parse_server_timeout,
        go "Server.IdleTimeout",
        switched Nothing, spelled "1s" as "1000ms";

    /// A fix on server 1, the opposite of Go's
    /// http.Server.SetKeepAlivesEnabled(false): false answers every request
    /// with `Connection: close`, and, switched at runtime, also closes the
    /// connections waiting idle for their next request.
    ServerKeepAlives server_keep_alives: bool = "true",
        env "SERVER_KEEP_ALIVES", side Server1, parse parse_bool,
        go "Server.SetKeepAlivesEnabled",
        switched CloseWaitingIfOff, spelled "false" as "F", flag "true";

    /// A fix on server 1, Go's http.Server.ReadTimeout, in Go syntax: how
    /// long reading a request head may take, from its first byte (from the
    /// connection's start, for its first request); a slower one gets no
    /// answer, the connection just closes. With SERVER_IDLE_TIMEOUT at 0 it
    /// is the idle timeout too, as in Go. 0 means none; otherwise at least
    /// 10ms.
    ServerReadTimeout server_read_timeout: Duration = "0",
        env "SERVER_READ_TIMEOUT", side Server1, parse parse_server_timeout,
        go "Server.ReadTimeout",
        switched Nothing, spelled "1s" as "1000ms";

    /// A total deadline for each upstream call, in Go syntax; past it
    /// /forward answers 504. 0 means none, like the Go original.
    RequestTimeout request_timeout: Duration = "0",
        env "REQUEST_TIMEOUT", side Server2, parse parse_duration,
        go "Client.Timeout",
        switched RenewSharedClient, spelled "1500ms" as "1.5s";

    /// Go's Transport.ResponseHeaderTimeout, in Go syntax: how long each
    /// upstream request waits for the answer's head once it is written;
    /// past it /forward answers 504. The answer's body is not bounded by
    /// it. 0 means none, Go's zero value; reqwest has no such setting.
    ResponseHeaderTimeout response_header_timeout: Duration = "0",
        env "RESPONSE_HEADER_TIMEOUT", side Server2, parse parse_duration,
        go "Transport.ResponseHeaderTimeout",
        switched Nothing, spelled "1s" as "1000ms";
}

impl Knobs {
    /// How long an inbound connection may wait idle for its next request,
    /// as Go's `Server.idleTimeout` reads it: `SERVER_IDLE_TIMEOUT`, or
    /// `SERVER_READ_TIMEOUT` when that is 0; 0 for no limit.
    pub(crate) fn server_idle_wait(&self) -> Duration {
        match self.server_idle_timeout {
            Duration::ZERO => self.server_read_timeout,
            idle => idle,
        }
    }

    /// The knobs that values spelled as given make, as another server's
    /// `/figures` reports them: Go's zero values for those it does not
    /// name, or names with a value that does not parse.
    pub fn spelled<'a>(values: impl IntoIterator<Item = (Knob, &'a str)>) -> Knobs {
        let mut knobs = Knobs::default();
        for (knob, value) in values {
            // A server checked its own settings at start.
            let _ = knob.set(&mut knobs, value);
        }
        knobs
    }

    /// The knobs a list of `VAR=value` settings gives, for tests that
    /// write settings as a person types them.
    #[cfg(test)]
    pub(crate) fn from_settings(settings: &[&str]) -> Knobs {
        Knobs::spelled(settings.iter().filter_map(|given| {
            let (env, value) = given.split_once('=')?;
            Some((Knob::named(env)?, value))
        }))
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

impl Knob {
    /// The knob whose env var is `env`.
    pub(crate) fn named(env: &str) -> Option<Knob> {
        Knob::ALL.iter().copied().find(|knob| knob.env() == env)
    }
}

impl serde::Serialize for Knob {
    /// By its env var.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.env())
    }
}

impl<'de> serde::Deserialize<'de> for Knob {
    /// From its env var.
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Knob, D::Error> {
        let env = String::deserialize(deserializer)?;
        Knob::named(&env).ok_or_else(|| {
            serde::de::Error::custom(format!("{env}: not a setting that can be switched"))
        })
    }
}

/// Go's `MaxIdleConnsPerHost`, kept as Go's int. Two values are equal
/// when Go reads them alike: 0 and 2, or any two negatives.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdleConnsPerHost(pub i64);

impl PartialEq for IdleConnsPerHost {
    fn eq(&self, other: &IdleConnsPerHost) -> bool {
        self.kept() == other.kept()
    }
}

impl Eq for IdleConnsPerHost {}

/// Go's `DefaultMaxIdleConnsPerHost`: what a zero `MaxIdleConnsPerHost`
/// means.
const GO_DEFAULT_IDLE_CONNS_PER_HOST: usize = 2;

impl IdleConnsPerHost {
    /// How many idle connections to one host a pool keeps, as Go reads the
    /// value: 0 is Go's default of 2, a negative value none (Go's
    /// `tryPutIdleConn` refuses every idle connection then), a positive one
    /// that many.
    pub(crate) fn kept(self) -> usize {
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

/// The shortest server timeout but none.
const MIN_SERVER_TIMEOUT: Duration = Duration::from_millis(10);

/// A server's timeout: 0 (none) or at least [`MIN_SERVER_TIMEOUT`].
fn parse_server_timeout(text: &str) -> Result<Duration, String> {
    let timeout = parse_duration(text)?;
    if !timeout.is_zero() && timeout < MIN_SERVER_TIMEOUT {
        return Err(format!(
            "invalid duration {text:?}: 0 (none) or at least {MIN_SERVER_TIMEOUT:?}; a \
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
            assert_eq!(
                settings.knob(knob),
                Some(knob.default_value()),
                "{settings}"
            );
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
            let (value, also) = knob.spellings();
            let flag = format!("--{}={value}", knob.env().to_lowercase().replace('_', "-"));
            let mut set = Knobs::default();
            knob.set(&mut set, value).expect("a valid value");
            assert_ne!(set, Knobs::default(), "{knob:?}");
            assert_eq!(set, from_flags(&[flag]), "{knob:?}");
            assert_eq!(set, Knobs::spelled([(knob, also)]), "{knob:?} {also}");
            assert_eq!(Knob::named(knob.env()), Some(knob));
        }
    }

    #[test]
    fn a_settings_list_reads_into_knobs_whatever_the_spelling() {
        let given = Knobs::from_settings;
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
    fn a_server_timeout_is_none_or_long_enough_for_a_request() {
        assert_eq!(parse_server_timeout("0"), Ok(Duration::ZERO));
        assert_eq!(parse_server_timeout("10ms"), Ok(Duration::from_millis(10)));
        for short in ["1ns", "9ms", "999us"] {
            let err = parse_server_timeout(short).expect_err(short);
            assert!(err.contains("at least 10ms"), "{err}");
        }
    }
}
