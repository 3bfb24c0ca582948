//! The registry's entries: the leak, each fix and each client lifetime,
//! one each, in the order the demo runs them, and what each says of
//! itself.

use crate::scenario::effect::effect;
use crate::scenario::verdict::Expectation;
use crate::settings::knobs::{Knob, Knobs, Side};

/// A knob and the value a scenario gives it, in Go's spelling, on the
/// server the knob acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub knob: Knob,
    pub value: &'static str,
}

impl Setting {
    /// The server it is given to.
    pub fn side(self) -> Side {
        self.knob.side()
    }

    /// The knobs of that server: Go's defaults, but this one.
    pub fn knobs(self) -> Knobs {
        let mut knobs = Knobs::default();
        self.knob
            .set(&mut knobs, self.value)
            .expect("the registry's values parse (tested below)");
        knobs
    }
}

/// One way to run the pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scenario {
    /// The name `demo --scenario` takes.
    pub name: &'static str,
    /// The one setting changed from the defaults; none for the leak itself.
    pub setting: Option<Setting>,
    /// What the Go original does there.
    pub(crate) go: &'static str,
    /// What reqwest and hyper do here.
    pub(crate) rust: &'static str,
}

const fn on(knob: Knob, value: &'static str) -> Option<Setting> {
    Some(Setting { knob, value })
}

/// Every scenario, in the order the demo runs them.
pub const ALL: &[Scenario] = &[
    Scenario {
        name: "leak",
        setting: None,
        go: "A transport built per request keeps its idle connection open, and that \
             connection's goroutines keep the transport reachable, so the garbage \
             collector never frees either.",
        rust: "Dropping a reqwest::Client closes its idle connection, so the retainer \
               (CLIENT_LIFETIME=connection) keeps each client as long as Go would keep \
               its transport.",
    },
    Scenario {
        name: "disable-keep-alives",
        setting: on(Knob::DisableKeepAlives, "true"),
        go: "Transport.DisableKeepAlives sends Connection: close and never pools the \
             connection.",
        rust: "Every request says Connection: close and the pool keeps no idle \
               connection, so hyper closes it after the answer.",
    },
    Scenario {
        name: "idle-conn-timeout",
        setting: on(Knob::IdleConnTimeout, "1s"),
        go: "Transport.IdleConnTimeout closes a pooled connection idle this long; its \
             goroutines end and the transport is collected.",
        rust: "hyper-util's pool evicts an idle connection on a timer whose period is \
               the timeout, so it closes between one and two timeouts idle.",
    },
    Scenario {
        name: "max-idle-conns-per-host",
        setting: on(Knob::MaxIdleConnsPerHost, "-1"),
        go: "A negative Transport.MaxIdleConnsPerHost keeps no idle connection: the \
             transport closes each one when its answer is read.",
        rust: "A pool that may keep no idle connection per host closes each one once \
               its answer is read.",
    },
    Scenario {
        name: "connection-close",
        setting: on(Knob::ConnectionClose, "true"),
        go: "A handler that answers Connection: close makes the server close the \
             connection, and the client does not pool it.",
        rust: "hyper closes the connection after an answer that says Connection: close, \
               and the client, reading the header, does not pool it.",
    },
    Scenario {
        name: "server-keep-alives",
        setting: on(Knob::ServerKeepAlives, "false"),
        go: "http.Server.SetKeepAlivesEnabled(false) closes the idle connections at \
             once, and every later answer closes its connection.",
        rust: "Every answer says Connection: close, so hyper closes the connection \
               after it; switched at runtime, the connections waiting idle are closed \
               at once.",
    },
    Scenario {
        name: "client-lifetime-request",
        setting: on(Knob::ClientLifetime, "request"),
        go: "Go has no such choice: its garbage collector decides when a transport goes.",
        rust: "Rust's ownership: the client is dropped when the handler returns, which \
               closes its idle connection at once.",
    },
    Scenario {
        name: "client-lifetime-process",
        setting: on(Knob::ClientLifetime, "process"),
        go: "The idiomatic Go fix: one http.Client, built once and shared.",
        rust: "One reqwest::Client, built at start and shared: its pool reuses one \
               connection. A switch of a client knob builds it anew, and the old one, \
               dropped, closes its idle connection.",
    },
    Scenario {
        name: "server-idle-timeout",
        setting: on(Knob::ServerIdleTimeout, "1s"),
        go: "http.Server.IdleTimeout closes a keep-alive connection whose next request \
             has not come within the timeout.",
        rust: "This program's own deadline, read as each wait for a next request \
               begins: a connection still waiting when it passes reads as closed by \
               its client, and hyper ends it.",
    },
    Scenario {
        name: "server-read-timeout",
        setting: on(Knob::ServerReadTimeout, "1s"),
        go: "http.Server.ReadTimeout bounds reading each request; with no IdleTimeout \
             it is the idle timeout too, so a keep-alive connection whose next request \
             has not come within it is closed.",
        rust: "The same two deadlines, kept by this program: a request head slower than \
               it gets no answer, and, with no SERVER_IDLE_TIMEOUT, a connection waiting \
               this long for its next request is closed.",
    },
];

impl Scenario {
    /// The scenario called `name`, for `demo --scenario`.
    pub(crate) fn named(name: &str) -> Result<&'static Scenario, String> {
        ALL.iter().find(|s| s.name == name).ok_or_else(|| {
            let names: Vec<_> = ALL.iter().map(|s| s.name).collect();
            format!(
                "unknown scenario {name:?}; expected one of {}",
                names.join(", ")
            )
        })
    }

    /// What the counts should show: what its setting amounts to, read
    /// from the value itself (`effect`); the leak without one.
    pub fn expectation(&self) -> Expectation {
        self.setting.map_or(Expectation::Leaks, |setting| {
            effect(setting.knob, &setting.knobs())
        })
    }

    /// The name shown in the table and the chart: the setting, and the
    /// server it is set on when that is server 1.
    pub fn label(&self) -> String {
        match self.setting {
            None => "leak (defaults)".to_owned(),
            Some(setting) if setting.side() == Side::Server1 => {
                format!("{}={} (server 1)", setting.knob.env(), setting.value)
            }
            Some(setting) => format!("{}={}", setting.knob.env(), setting.value),
        }
    }

    /// The variables one side is started with.
    pub(crate) fn env(&self, side: Side) -> Vec<(&'static str, &'static str)> {
        self.setting
            .iter()
            .filter(|setting| setting.side() == side)
            .map(|setting| (setting.knob.env(), setting.value))
            .collect()
    }

    /// One line for scripts: name, side, setting and expectation, separated
    /// by tabs (`-` for no setting).
    pub fn tab_separated(&self) -> String {
        match self.setting {
            None => format!("{}\t-\t-\t{}", self.name, self.expectation()),
            Some(setting) => format!(
                "{}\t{}\t{}={}\t{}",
                self.name,
                setting.side(),
                setting.knob.env(),
                setting.value,
                self.expectation()
            ),
        }
    }
}

/// Every fix, as one sentence: what to set, and where, to stop the leak.
pub fn ways_out() -> String {
    let fixes_on = |side: Side| -> Vec<String> {
        ALL.iter()
            .filter(|scenario| scenario.expectation() != Expectation::Leaks)
            .filter_map(|scenario| scenario.setting)
            .filter(|setting| setting.side() == side)
            .map(|setting| format!("{}={}", setting.knob.env(), setting.value))
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
        for scenario in ALL {
            assert_eq!(Scenario::named(scenario.name), Ok(scenario));
        }
        let err = Scenario::named("nope").unwrap_err();
        assert!(err.contains("\"nope\""), "{err}");
        assert!(err.contains("leak, disable-keep-alives"), "{err}");
    }

    #[test]
    fn every_value_parses_and_changes_its_knob() {
        for setting in ALL.iter().filter_map(|scenario| scenario.setting) {
            let mut knobs = Knobs::default();
            assert_eq!(setting.knob.set(&mut knobs, setting.value), Ok(()));
            assert_ne!(knobs, Knobs::default(), "{setting:?}");
        }
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
        for scenario in ALL {
            assert_eq!(
                scenario.setting.is_none(),
                scenario.expectation() == Expectation::Leaks,
                "{}",
                scenario.name
            );
        }
    }

    #[test]
    fn the_ways_out_name_every_fix_on_its_side() {
        let sentence = ways_out();
        let (here, server1) = sentence.split_once(" here, or ").expect("both sides");
        for setting in ALL.iter().filter_map(|scenario| scenario.setting) {
            let part = match setting.side() {
                Side::Server2 => here,
                Side::Server1 => server1,
            };
            let given = format!("{}={}", setting.knob.env(), setting.value);
            assert!(part.contains(&given), "{given} in {sentence}");
        }
        assert!(
            server1.ends_with(" on server 1, stop the leak"),
            "{sentence}"
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
