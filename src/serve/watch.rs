//! The figures a person watches: `GET /figures` (this server's own) and
//! `GET /watch` (this server's, its upstream's, and what the settings in
//! effect amount to), which the dashboard polls.
//!
//! Nothing here runs unless asked: no task samples in the background, and
//! the page keeps the history. A `/watch` on server 2 fetches server 1's
//! `/figures` through one client kept for the purpose, on a connection
//! opened for that fetch and closed after it: while it fetches, watching
//! adds that one connection, and one task, on each side, as the connection
//! that asks `/hello` counts in its answer.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use reqwest::{Client, StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::observe::metrics::{Metrics, samples};
use crate::roles::client_settings::ClientSettings;
use crate::roles::forward::Forwarder;
use crate::roles::forward_error::cause_chain;
use crate::roles::hello::Hello;
use crate::roles::upstream::read_body;
use crate::scenario::{self, Expectation, Scenario, Setting, Side};
use crate::settings::go_syntax::{parse_bool, parse_duration};
use crate::settings::redact::redacted;

/// How long a fetch of server 1's figures may take.
const FETCH_LIMIT: Duration = Duration::from_secs(1);

/// One server's figures at one moment: what `/figures` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figures {
    /// Which process: the name it marks `Via` with.
    pub instance: String,
    /// Its settings in effect, as `VAR=value`.
    pub settings: Vec<String>,
    /// Every sample of its `/metrics`, by name with labels.
    pub samples: BTreeMap<String, f64>,
}

/// What `/watch` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    /// The role this server plays: 1 when its `UPSTREAM_URL` leads back to
    /// itself (the walkthrough's server 1, on the defaults), 2 otherwise.
    pub role: u8,
    pub this: Figures,
    /// Server 1, seen from server 2; `None` on server 1.
    pub upstream: Option<Upstream>,
    /// The registry's entries that the settings of both servers put in
    /// effect; the leak itself when none.
    pub in_effect: Vec<Entry>,
    /// What they amount to: `leaks`, `flat` or `reclaimed after idle`.
    pub amounts_to: String,
}

/// Server 1's figures, or what could be had of them.
#[derive(Debug, Clone, Serialize)]
pub struct Upstream {
    /// Where they come from, password hidden.
    pub url: String,
    pub figures: Option<Figures>,
    /// What is missing, and why; `None` when everything came.
    pub missing: Option<String>,
}

/// One entry of the registry, as the page shows it.
#[derive(Debug, Clone, Serialize)]
pub struct Entry {
    pub name: &'static str,
    pub label: String,
    pub go: &'static str,
    pub rust: &'static str,
    pub expectation: String,
}

impl From<&Scenario> for Entry {
    fn from(scenario: &Scenario) -> Self {
        Entry {
            name: scenario.name,
            label: scenario.label(),
            go: scenario.go,
            rust: scenario.rust,
            expectation: scenario.expectation.to_string(),
        }
    }
}

/// What both endpoints read.
#[derive(Debug, Clone)]
pub struct Watched {
    pub metrics: Arc<Metrics>,
    pub forwarder: Arc<Forwarder>,
    /// The settings in effect, as `VAR=value`.
    pub settings: Arc<[String]>,
    pub upstream: Arc<UpstreamWatch>,
}

impl Watched {
    /// This server's figures now.
    pub fn figures(&self) -> Result<Figures, std::fmt::Error> {
        let text = self.metrics.render(self.forwarder.retained_clients())?;
        Ok(Figures {
            instance: self.forwarder.instance().to_owned(),
            settings: self.settings.to_vec(),
            samples: samples(&text),
        })
    }

    /// This server's figures, server 1's, and what the settings amount to.
    pub async fn watch(&self) -> Result<Watch, std::fmt::Error> {
        let this = self.figures()?;
        let upstream = self.upstream.fetch(&this.instance).await;
        let role = if upstream.is_some() { 2 } else { 1 };
        let upstream_settings = upstream
            .as_ref()
            .and_then(|upstream| upstream.figures.as_ref())
            .map(|figures| figures.settings.as_slice());
        let (server1, server2) = match role {
            1 => (Some(this.settings.as_slice()), None),
            _ => (upstream_settings, Some(this.settings.as_slice())),
        };
        let effective = in_effect(server1, server2);
        Ok(Watch {
            role,
            amounts_to: amounts_to(&effective).to_string(),
            in_effect: effective.into_iter().map(Entry::from).collect(),
            this,
            upstream,
        })
    }
}

/// Server 1, as this server reaches it.
#[derive(Debug)]
pub struct UpstreamWatch {
    /// `UPSTREAM_URL` with no path: where `/figures` and `/hello` are.
    origin: Url,
    /// Built on the first watch, kept for every later one.
    client: OnceLock<reqwest::Result<Client>>,
    /// Set once `UPSTREAM_URL` turned out to lead back to this server.
    is_this_server: AtomicBool,
}

impl UpstreamWatch {
    pub fn new(upstream_url: &Url) -> Self {
        let mut origin = upstream_url.clone();
        origin.set_path("/");
        origin.set_query(None);
        UpstreamWatch {
            origin,
            client: OnceLock::new(),
            is_this_server: AtomicBool::new(false),
        }
    }

    /// Server 1's figures; `None` when the upstream is this very server.
    async fn fetch(&self, this_instance: &str) -> Option<Upstream> {
        if self.is_this_server.load(Ordering::Relaxed) {
            return None;
        }
        let url = redacted(&self.origin).to_string();
        let (figures, missing) = match self.fetch_figures().await {
            Ok(figures) if figures.instance == this_instance => {
                self.is_this_server.store(true, Ordering::Relaxed);
                return None;
            }
            Ok(figures) => (Some(figures), None),
            Err(missing) => (self.fetch_hello().await, Some(missing)),
        };
        Some(Upstream {
            url,
            figures,
            missing,
        })
    }

    /// The kept client: a new connection for each fetch, closed after it,
    /// so that nothing stays open once nobody watches.
    fn client(&self) -> Result<&Client, String> {
        let settings = ClientSettings {
            disable_keep_alives: true,
            request_timeout: Some(FETCH_LIMIT),
            ..ClientSettings::default()
        };
        self.client
            .get_or_init(|| settings.build())
            .as_ref()
            .map_err(|err| cause_chain(err))
    }

    async fn fetch_figures(&self) -> Result<Figures, String> {
        let client = self.client()?;
        let url = self.origin.join("figures").map_err(|err| err.to_string())?;
        let response = client
            .get(url)
            .send()
            .await
            .map_err(|err| format!("server 1 did not answer: {}", cause_chain(&err)))?;
        match response.status() {
            StatusCode::OK => read_json(response)
                .await
                .map_err(|err| format!("server 1's /figures is not readable: {err}")),
            StatusCode::NOT_FOUND => Err("server 1 has no /figures (the Go original has \
                none): only its goroutine count, from /hello"
                .to_owned()),
            status => Err(format!("server 1's /figures answered {status}")),
        }
    }

    /// What can be had from any server 1: its count, from `/hello`.
    async fn fetch_hello(&self) -> Option<Figures> {
        let client = self.client().ok()?;
        let response = client
            .get(self.origin.join("hello").ok()?)
            .send()
            .await
            .ok()?;
        let hello: Hello = read_json(response).await.ok()?;
        Some(Figures {
            instance: String::new(),
            settings: Vec::new(),
            samples: BTreeMap::from([("tokio_alive_tasks".to_owned(), hello.go_routines as f64)]),
        })
    }
}

/// The most of an answer read here: figures take a few kilobytes.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Reads a JSON answer of at most [`MAX_ANSWER_BYTES`].
async fn read_json<T: serde::de::DeserializeOwned>(
    mut response: reqwest::Response,
) -> Result<T, String> {
    let body = read_body(&mut response, MAX_ANSWER_BYTES)
        .await
        .map_err(|err| cause_chain(&err))?;
    serde_json::from_slice(&body).map_err(|err| err.to_string())
}

/// The registry's entries that the settings put in effect: each side's
/// settings, where known, against the entries set on that side.
pub fn in_effect(server1: Option<&[String]>, server2: Option<&[String]>) -> Vec<&'static Scenario> {
    let settings_of = |side| match side {
        Side::Server1 => server1,
        Side::Server2 => server2,
    };
    let fixes: Vec<&Scenario> = scenario::ALL
        .iter()
        .filter(|scenario| {
            scenario.setting.is_some_and(|setting| {
                settings_of(setting.side)
                    .is_some_and(|given| given.iter().any(|given| same_meaning(given, &setting)))
            })
        })
        .collect();
    if fixes.is_empty() {
        scenario::ALL
            .iter()
            .filter(|scenario| scenario.setting.is_none())
            .collect()
    } else {
        fixes
    }
}

/// Whether `given`, a `VAR=value`, sets what `setting` sets: the same
/// value, the same boolean however spelled, or a duration other than zero
/// where the registry gives one.
fn same_meaning(given: &str, setting: &Setting) -> bool {
    let Some((env, value)) = given.split_once('=') else {
        return false;
    };
    if env != setting.env {
        return false;
    }
    if let (Ok(given), Ok(expected)) = (parse_bool(value), parse_bool(setting.value)) {
        return given == expected;
    }
    if let (Ok(given), Ok(_)) = (parse_duration(value), parse_duration(setting.value)) {
        return !given.is_zero();
    }
    value == setting.value
}

/// What entries in effect amount to together: the best that any of them
/// promises.
pub fn amounts_to(entries: &[&Scenario]) -> Expectation {
    let promises = |expectation| entries.iter().any(|s| s.expectation == expectation);
    if promises(Expectation::Flat) {
        Expectation::Flat
    } else if promises(Expectation::ReclaimedAfterIdle) {
        Expectation::ReclaimedAfterIdle
    } else {
        Expectation::Leaks
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(entries: &[&Scenario]) -> Vec<&'static str> {
        entries.iter().map(|s| s.name).collect()
    }

    fn list(settings: &[&str]) -> Vec<String> {
        settings.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn the_defaults_are_the_leak() {
        let defaults = list(&["DISABLE_KEEP_ALIVES=false", "IDLE_CONN_TIMEOUT=0"]);
        let effective = in_effect(Some(&defaults), Some(&defaults));
        assert_eq!(names(&effective), ["leak"]);
        assert_eq!(amounts_to(&effective), Expectation::Leaks);
    }

    #[test]
    fn each_side_is_read_for_its_own_fixes_in_any_spelling() {
        let server1 = list(&["CONNECTION_CLOSE=T", "IDLE_CONN_TIMEOUT=5s"]);
        let server2 = list(&["IDLE_CONN_TIMEOUT=2s", "CONNECTION_CLOSE=false"]);
        let effective = in_effect(Some(&server1), Some(&server2));
        assert_eq!(names(&effective), ["idle-conn-timeout", "connection-close"]);
        assert_eq!(amounts_to(&effective), Expectation::Flat);
        let effective = in_effect(None, Some(&server2));
        assert_eq!(names(&effective), ["idle-conn-timeout"]);
        assert_eq!(amounts_to(&effective), Expectation::ReclaimedAfterIdle);
    }

    #[test]
    fn a_lifetime_is_matched_by_its_value() {
        let server2 = list(&["CLIENT_LIFETIME=process"]);
        assert_eq!(
            names(&in_effect(None, Some(&server2))),
            ["client-lifetime-process"]
        );
        let server2 = list(&["CLIENT_LIFETIME=connection"]);
        assert_eq!(names(&in_effect(None, Some(&server2))), ["leak"]);
    }
}
