//! The registry: the leak, each fix and each client lifetime, one entry
//! each, in the order the demo runs them.
//!
//! Everything that lists fixes reads this list: the demo's scenarios, their
//! labels, colours and expectations, the hint given when descriptors run
//! out, the end-to-end tests and the scripts (through `scenarios`). Adding
//! a fix means its setting, the code where it takes effect, and one entry
//! here.

pub mod verdict;

use std::fmt;

pub use verdict::Expectation;

/// Which server a setting is given to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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

/// An env var, the value a scenario gives it, and the server it is set on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub side: Side,
    pub env: &'static str,
    pub value: &'static str,
}

/// One way to run the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The name `demo --scenario` takes.
    pub name: &'static str,
    /// The one setting changed from the defaults; none for the leak itself.
    pub setting: Option<Setting>,
    /// What the Go original does there.
    pub go: &'static str,
    /// What reqwest and hyper do here.
    pub rust: &'static str,
    /// What the counts should show.
    pub expectation: Expectation,
}

const fn on(side: Side, env: &'static str, value: &'static str) -> Option<Setting> {
    Some(Setting { side, env, value })
}

/// Every scenario, in the order the demo runs them.
pub const ALL: [Scenario; 7] = [
    Scenario {
        name: "leak",
        setting: None,
        go: "A transport built per request keeps its idle connection open, and that \
             connection's goroutines keep the transport reachable, so the garbage \
             collector never frees either.",
        rust: "Dropping a reqwest::Client closes its idle connection, so the retainer \
               (CLIENT_LIFETIME=connection) keeps each client as long as Go would keep \
               its transport.",
        expectation: Expectation::Leaks,
    },
    Scenario {
        name: "disable-keep-alives",
        setting: on(Side::Server2, "DISABLE_KEEP_ALIVES", "true"),
        go: "Transport.DisableKeepAlives sends Connection: close and never pools the \
             connection.",
        rust: "Every request says Connection: close and the pool keeps no idle \
               connection, so hyper closes it after the answer.",
        expectation: Expectation::Flat,
    },
    Scenario {
        name: "idle-conn-timeout",
        setting: on(Side::Server2, "IDLE_CONN_TIMEOUT", "1s"),
        go: "Transport.IdleConnTimeout closes a pooled connection idle this long; its \
             goroutines end and the transport is collected.",
        rust: "hyper-util's pool evicts an idle connection on a timer whose period is \
               the timeout, so it closes between one and two timeouts idle.",
        expectation: Expectation::ReclaimedAfterIdle,
    },
    Scenario {
        name: "connection-close",
        setting: on(Side::Server1, "CONNECTION_CLOSE", "true"),
        go: "A handler that answers Connection: close makes the server close the \
             connection, and the client does not pool it.",
        rust: "hyper closes the connection after an answer that says Connection: close, \
               and the client, reading the header, does not pool it.",
        expectation: Expectation::Flat,
    },
    Scenario {
        name: "client-lifetime-request",
        setting: on(Side::Server2, "CLIENT_LIFETIME", "request"),
        go: "Go has no such choice: its garbage collector decides when a transport goes.",
        rust: "Rust's ownership: the client is dropped when the handler returns, which \
               closes its idle connection at once.",
        expectation: Expectation::Flat,
    },
    Scenario {
        name: "client-lifetime-process",
        setting: on(Side::Server2, "CLIENT_LIFETIME", "process"),
        go: "The idiomatic Go fix: one http.Client, built once and shared.",
        rust: "One reqwest::Client, built at start and shared: its pool reuses one \
               connection.",
        expectation: Expectation::Flat,
    },
    Scenario {
        name: "server-idle-timeout",
        setting: on(Side::Server1, "SERVER_IDLE_TIMEOUT", "1s"),
        go: "http.Server.IdleTimeout closes a keep-alive connection whose next request \
             has not come within the timeout.",
        rust: "hyper's header read timeout runs while a connection waits for its next \
               request head, so it closes a connection idle this long.",
        expectation: Expectation::ReclaimedAfterIdle,
    },
];

impl Scenario {
    /// The scenario called `name`, for `demo --scenario`.
    pub fn named(name: &str) -> Result<&'static Scenario, String> {
        ALL.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|s| s.name).collect();
            format!(
                "unknown scenario {name:?}; expected one of {}",
                names.join(", ")
            )
        })
    }

    /// The name shown in the table and the chart: the setting, and the
    /// server it is set on when that is server 1.
    pub fn label(&self) -> String {
        match self.setting {
            None => "leak (defaults)".to_owned(),
            Some(Setting {
                side: Side::Server1,
                env,
                value,
            }) => format!("{env}={value} (server 1)"),
            Some(Setting { env, value, .. }) => format!("{env}={value}"),
        }
    }

    /// The variables one side is started with.
    pub fn env(&self, side: Side) -> Vec<(&'static str, &'static str)> {
        self.setting
            .iter()
            .filter(|setting| setting.side == side)
            .map(|setting| (setting.env, setting.value))
            .collect()
    }

    /// One line for scripts: name, side, setting and expectation, separated
    /// by tabs (`-` for no setting).
    pub fn tab_separated(&self) -> String {
        match self.setting {
            None => format!("{}\t-\t-\t{}", self.name, self.expectation),
            Some(setting) => format!(
                "{}\t{}\t{}={}\t{}",
                self.name, setting.side, setting.env, setting.value, self.expectation
            ),
        }
    }
}

/// Every fix, as one sentence: what to set, and where, to stop the leak.
pub fn ways_out() -> String {
    let fixes_on = |side: Side| -> Vec<String> {
        ALL.iter()
            .filter(|scenario| scenario.expectation != Expectation::Leaks)
            .filter_map(|scenario| scenario.setting)
            .filter(|setting| setting.side == side)
            .map(|setting| format!("{}={}", setting.env, setting.value))
            .collect()
    };
    format!(
        "{} here, or {} on server 1, stop the leak",
        either(&fixes_on(Side::Server2)),
        either(&fixes_on(Side::Server1))
    )
}

/// `a, b or c`.
fn either(items: &[String]) -> String {
    match items {
        [] => String::new(),
        [only] => only.clone(),
        [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_found() {
        for scenario in &ALL {
            assert_eq!(Scenario::named(scenario.name), Ok(scenario));
        }
        let err = Scenario::named("nope").unwrap_err();
        assert!(err.contains("\"nope\""), "{err}");
        assert!(err.contains("leak, disable-keep-alives"), "{err}");
    }

    #[test]
    fn labels_show_the_setting_and_its_side() {
        let label = |name| Scenario::named(name).expect("registered").label();
        assert_eq!(label("leak"), "leak (defaults)");
        assert_eq!(label("disable-keep-alives"), "DISABLE_KEEP_ALIVES=true");
        assert_eq!(
            label("connection-close"),
            "CONNECTION_CLOSE=true (server 1)"
        );
        assert_eq!(label("client-lifetime-process"), "CLIENT_LIFETIME=process");
    }

    #[test]
    fn only_the_leak_changes_nothing_and_only_it_leaks() {
        for scenario in &ALL {
            assert_eq!(
                scenario.setting.is_none(),
                scenario.expectation == Expectation::Leaks,
                "{}",
                scenario.name
            );
        }
    }

    #[test]
    fn the_ways_out_name_every_fix_on_its_side() {
        assert_eq!(
            ways_out(),
            "DISABLE_KEEP_ALIVES=true, IDLE_CONN_TIMEOUT=1s, CLIENT_LIFETIME=request or \
             CLIENT_LIFETIME=process here, or CONNECTION_CLOSE=true or \
             SERVER_IDLE_TIMEOUT=1s on server 1, stop the leak"
        );
    }

    #[test]
    fn each_side_gets_only_its_own_setting() {
        let close = Scenario::named("connection-close").expect("registered");
        assert_eq!(close.env(Side::Server1), [("CONNECTION_CLOSE", "true")]);
        assert!(close.env(Side::Server2).is_empty());
        assert_eq!(
            close.tab_separated(),
            "connection-close\tserver1\tCONNECTION_CLOSE=true\tflat"
        );
    }
}
