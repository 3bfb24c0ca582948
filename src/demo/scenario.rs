//! The demo's scenarios: the leak, each fix and each client lifetime.

use std::time::Duration;

use clap::ValueEnum;

use crate::demo::verdict::Expectation;

/// One way to run the pair, named as on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// The defaults: the leak.
    Leak,
    /// Fix 1 on server 2.
    DisableKeepAlives,
    /// Fix 2 on server 2.
    IdleConnTimeout,
    /// Fix 3 on server 1.
    ConnectionClose,
    /// Rust's own lifetime on server 2.
    ClientLifetimeRequest,
    /// One shared client on server 2.
    ClientLifetimeProcess,
    /// Fix 4 on server 1: it closes idle connections itself.
    ServerIdleTimeout,
}

/// Which server a flag is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server1,
    Server2,
}

/// An env var set on one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag {
    pub side: Side,
    pub name: &'static str,
    pub value: &'static str,
}

/// How long the idle timeout scenarios let a connection sit idle.
const IDLE_TIMEOUT: Duration = Duration::from_secs(1);

/// The least time the demo waits idle before its last sample.
const MIN_IDLE_WAIT: Duration = Duration::from_secs(3);

impl Scenario {
    /// Every scenario, in the order the demo runs them.
    pub const ALL: [Scenario; 7] = [
        Scenario::Leak,
        Scenario::DisableKeepAlives,
        Scenario::IdleConnTimeout,
        Scenario::ConnectionClose,
        Scenario::ClientLifetimeRequest,
        Scenario::ClientLifetimeProcess,
        Scenario::ServerIdleTimeout,
    ];

    /// The one flag the scenario sets, if any.
    pub fn flag(self) -> Option<Flag> {
        let (side, name, value) = match self {
            Scenario::Leak => return None,
            Scenario::DisableKeepAlives => (Side::Server2, "DISABLE_KEEP_ALIVES", "true"),
            Scenario::IdleConnTimeout => (Side::Server2, "IDLE_CONN_TIMEOUT", "1s"),
            Scenario::ConnectionClose => (Side::Server1, "CONNECTION_CLOSE", "true"),
            Scenario::ClientLifetimeRequest => (Side::Server2, "CLIENT_LIFETIME", "request"),
            Scenario::ClientLifetimeProcess => (Side::Server2, "CLIENT_LIFETIME", "process"),
            Scenario::ServerIdleTimeout => (Side::Server1, "SERVER_IDLE_TIMEOUT", "1s"),
        };
        Some(Flag { side, name, value })
    }

    /// The name shown in the table and the chart: the flag it sets.
    pub fn label(self) -> String {
        match self.flag() {
            None => "leak (defaults)".to_owned(),
            Some(Flag {
                side: Side::Server1,
                name,
                value,
            }) => format!("{name}={value} (server 1)"),
            Some(Flag { name, value, .. }) => format!("{name}={value}"),
        }
    }

    /// What the scenario should show.
    pub fn expectation(self) -> Expectation {
        match self {
            Scenario::Leak => Expectation::Leaks,
            Scenario::IdleConnTimeout | Scenario::ServerIdleTimeout => {
                Expectation::ReclaimedAfterIdle
            }
            Scenario::DisableKeepAlives
            | Scenario::ConnectionClose
            | Scenario::ClientLifetimeRequest
            | Scenario::ClientLifetimeProcess => Expectation::Flat,
        }
    }

    /// How long to wait idle after the last request: 3 s, or three idle
    /// timeouts, enough for either side to close every connection.
    pub fn idle_wait(self) -> Duration {
        match self {
            Scenario::IdleConnTimeout | Scenario::ServerIdleTimeout => {
                MIN_IDLE_WAIT.max(IDLE_TIMEOUT * 3)
            }
            _ => MIN_IDLE_WAIT,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_show_the_flag_and_its_side() {
        assert_eq!(Scenario::Leak.label(), "leak (defaults)");
        assert_eq!(
            Scenario::DisableKeepAlives.label(),
            "DISABLE_KEEP_ALIVES=true"
        );
        assert_eq!(
            Scenario::ConnectionClose.label(),
            "CONNECTION_CLOSE=true (server 1)"
        );
        assert_eq!(
            Scenario::ClientLifetimeProcess.label(),
            "CLIENT_LIFETIME=process"
        );
    }

    #[test]
    fn the_idle_timeout_scenarios_use_the_timeout_they_wait_for() {
        for scenario in [Scenario::IdleConnTimeout, Scenario::ServerIdleTimeout] {
            let flag = scenario.flag().expect("a flag");
            let timeout = crate::go_syntax::parse_duration(flag.value).expect("duration");
            assert_eq!(timeout, IDLE_TIMEOUT);
            assert!(scenario.idle_wait() >= timeout * 3);
        }
    }
}
