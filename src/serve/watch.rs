//! The figures a person watches: `GET /figures` (this server's own) and
//! `GET /watch` (this server's, its upstream's, and what the settings in
//! effect amount to), which the dashboard polls.
//!
//! Each server keeps its own recent figures ([`History`], a thread's
//! work); nothing else runs unless asked. A page's first `/watch` gets the
//! whole of both servers' histories, each later one what is new since the
//! last it had. A `/watch` on server 2 fetches server 1's `/figures`
//! (with the samples server 2 does not have yet) through one client kept
//! for the purpose, on a connection opened for that fetch and closed after
//! it: while it fetches, watching adds that one connection, and one task,
//! on each side, as the connection that asks `/hello` counts in its
//! answer. One fetch serves every watcher for a quarter of a second, so
//! that many pages cost server 1 no more.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode, Url};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::failure::{cause_chain, shown};
use crate::observe::history::{History, Reading, Sample, now_ms};
use crate::observe::metrics::{Metrics, Outcome, samples};
use crate::roles::client_settings::ClientSettings;
use crate::roles::hello::Hello;
use crate::roles::upstream::read_body;
use crate::scenario::verdict::{Point, Seen};
use crate::scenario::{self, Expectation, Scenario, amounts_to, in_effect};
use crate::serve::switches::{Switchboard, Switched};
use crate::settings::knobs::{ClientLifetime, Knobs, Side};
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
    /// Its last settings switched at runtime, oldest first.
    #[serde(default)]
    pub switches: Vec<Switched>,
    /// Every sample of its `/metrics`, by name with labels.
    pub samples: BTreeMap<String, f64>,
    /// Its history's samples that the asker did not have yet.
    #[serde(default)]
    pub history: Vec<Sample>,
}

/// Which history samples the asker has already: the sequence number of the
/// last of each server's it got. A first poll names none and gets all.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub struct Since {
    /// This server's.
    pub since: Option<u64>,
    /// Server 1's, on server 2.
    pub upstream_since: Option<u64>,
}

/// What `/watch` answers.
#[derive(Debug, Clone, Serialize)]
pub struct Watch {
    /// The role this server plays, decided at each poll: `server1` when
    /// its `UPSTREAM_URL` is its own socket, or when it has answered
    /// `/hello`, forwarded nothing successfully and reaches no server 1;
    /// `server2` otherwise. No one stray request makes a server 2 that
    /// reaches its server 1 look like a server 1.
    pub role: Side,
    /// This server's clock, in milliseconds since the Unix epoch: the
    /// chart's "now".
    pub now_ms: u64,
    pub this: Figures,
    /// Server 1, seen from server 2; `None` on server 1.
    pub upstream: Option<Upstream>,
    /// The registry's entries that the settings of both servers put in
    /// effect; the leak itself when none.
    pub in_effect: Vec<Entry>,
    /// What they amount to: the settings' prediction, not what was seen.
    pub amounts_to: Expectation,
    /// What the counts showed over server 2's last requests, read from
    /// both servers' histories; `None` on server 1, or before enough
    /// requests.
    pub seen: Option<Seen>,
    /// The registry's settings, for the page's switches.
    pub switchable: Vec<Switchable>,
    /// Set when this server's retainer cannot see connections close: what
    /// that means for the prediction.
    pub blind: Option<&'static str>,
}

/// One registry entry's setting, as a switch on the page.
#[derive(Debug, Clone, Serialize)]
pub struct Switchable {
    pub name: &'static str,
    pub side: Side,
    pub setting: &'static str,
    /// The entry's value: the fix.
    pub value: &'static str,
    /// The value it has when not given.
    pub default: &'static str,
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
    pub expectation: Expectation,
}

impl From<&Scenario> for Entry {
    fn from(scenario: &Scenario) -> Self {
        Entry {
            name: scenario.name,
            label: scenario.label(),
            go: scenario.go,
            rust: scenario.rust,
            expectation: scenario.expectation(),
        }
    }
}

/// What both endpoints read.
#[derive(Debug, Clone)]
pub struct Watched {
    pub metrics: Arc<Metrics>,
    /// This server's recent figures.
    pub history: Arc<History>,
    /// The settings given at start, as `VAR=value`.
    pub settings: Arc<[String]>,
    /// The knobs now, and how they were switched.
    pub board: Arc<Switchboard>,
}

impl Watched {
    /// This server's figures now, with its history's samples after
    /// `since`.
    pub fn figures(&self, since: Option<u64>) -> Result<Figures, std::fmt::Error> {
        let forwarder = &self.board.forwarder;
        let text = self.metrics.render(forwarder.retained_clients())?;
        Ok(Figures {
            instance: forwarder.instance().to_owned(),
            settings: self.settings_now(),
            switches: self.board.history(),
            samples: samples(&text),
            history: self.history.after(since),
        })
    }

    /// The settings given at start, each knob's as it is now.
    fn settings_now(&self) -> Vec<String> {
        let current = self.board.live.current();
        self.settings
            .iter()
            .map(|setting| {
                let env = setting
                    .split_once('=')
                    .map_or(setting.as_str(), |(env, _)| env);
                match current.given.get(env) {
                    Some(value) => format!("{env}={value}"),
                    None => setting.clone(),
                }
            })
            .collect()
    }

    /// This server's figures, server 1's, and what the settings amount
    /// to. `local` is the address the asking connection came to: this
    /// server's own socket.
    pub async fn watch(&self, local: SocketAddr, since: Since) -> Result<Watch, std::fmt::Error> {
        let this = self.figures(since.since)?;
        // Server 1 is fetched unless it is this very server: a page shows
        // what a server can do, whatever one request made it look like.
        let own_socket = self.board.upstream.is_at(local);
        let fetched = match own_socket {
            true => None,
            false => {
                let forwarded = self.metrics.forward.requests();
                Some(
                    self.board
                        .upstream
                        .fetch(since.upstream_since, forwarded)
                        .await,
                )
            }
        };
        let role = self.role(own_socket, fetched.as_ref());
        let upstream = fetched.filter(|_| role == Side::Server2);
        let seen = upstream.as_ref().and_then(|_| {
            Seen::over(
                &points(&self.history.after(None), |s| s.forwarded),
                &points(&self.board.upstream.mirror.after(None), |s| s.answered),
            )
        });
        let this_knobs = self.board.live.knobs();
        let upstream_knobs = upstream
            .as_ref()
            .and_then(|upstream| upstream.figures.as_ref())
            .map(|figures| Knobs::read(&figures.settings));
        let effective = match role {
            Side::Server1 => in_effect(Some(&this_knobs), None),
            Side::Server2 => in_effect(upstream_knobs.as_ref(), Some(&this_knobs)),
        };
        let mut predicted = amounts_to(&effective);
        let blind = role == Side::Server2
            && self.metrics.forward.is_blind()
            && this_knobs.client_lifetime == ClientLifetime::Connection;
        if blind && predicted == Expectation::ReclaimedAfterIdle {
            // The connections close, but their clients stay held.
            predicted = Expectation::Leaks;
        }
        Ok(Watch {
            role,
            now_ms: now_ms(),
            amounts_to: predicted,
            seen,
            blind: blind.then_some(
                "this server's retainer cannot see connections close (no socket diagnostics, \
                 no /proc/net/tcp, or CONNECTION_CHECK=none): every client it holds stays \
                 held until shutdown, whatever closes its connection",
            ),
            in_effect: effective.into_iter().map(Entry::from).collect(),
            switchable: switchable(),
            this,
            upstream,
        })
    }

    /// The role this server plays, from what it did and what it can
    /// reach: see [`Watch::role`].
    fn role(&self, own_socket: bool, upstream: Option<&Upstream>) -> Side {
        let forwarded = self.metrics.forward.ended_with(Outcome::ok);
        let answered = self.metrics.hello_answers.get();
        let reaches_server_1 = upstream.is_some_and(|upstream| upstream.figures.is_some());
        if own_socket || (forwarded == 0 && answered > 0 && !reaches_server_1) {
            Side::Server1
        } else {
            Side::Server2
        }
    }
}

/// Each role's samples as the verdict reads them: server 2's by its
/// `/forward`s, server 1's by its `/hello`s.
fn points(samples: &[Sample], requests: fn(&Sample) -> u64) -> Vec<Point> {
    samples
        .iter()
        .map(|sample| Point {
            requests: requests(sample),
            tasks: usize::try_from(sample.tasks).unwrap_or(usize::MAX),
        })
        .collect()
}

/// Every registry entry that sets something, as a switch.
fn switchable() -> Vec<Switchable> {
    scenario::ALL
        .iter()
        .filter_map(|scenario| {
            let setting = scenario.setting?;
            Some(Switchable {
                name: scenario.name,
                side: setting.side(),
                setting: setting.knob.env(),
                value: setting.value,
                default: setting.knob.default_value(),
            })
        })
        .collect()
}

/// Server 1, as this server reaches it.
#[derive(Debug)]
pub struct UpstreamWatch {
    /// `UPSTREAM_URL` with no path: where `/figures` and `/hello` are.
    origin: Url,
    /// Built on the first watch, kept for every later one.
    client: OnceLock<reqwest::Result<Client>>,
    /// The last fetch and when it was made: every watcher within
    /// [`SHARED_FOR`] of it shares it, and one fetch at a time is made.
    last: tokio::sync::Mutex<Option<(Instant, Upstream)>>,
    /// Server 1's history as far as fetched: each fetch asks for the
    /// samples after the last one here.
    mirror: History,
}

/// How long one fetch of server 1 serves every watcher: any number of
/// pages and calls cost server 1 at most four connections a second.
const SHARED_FOR: Duration = Duration::from_millis(250);

impl UpstreamWatch {
    pub fn new(upstream_url: &Url) -> Self {
        let mut origin = upstream_url.clone();
        origin.set_path("/");
        origin.set_query(None);
        UpstreamWatch {
            origin,
            client: OnceLock::new(),
            last: tokio::sync::Mutex::new(None),
            mirror: History::default(),
        }
    }

    /// Whether `UPSTREAM_URL` is `local`, this server's own socket: its
    /// port, on a loopback host or on `local`'s own address.
    fn is_at(&self, local: SocketAddr) -> bool {
        let same_port = self.origin.port_or_known_default() == Some(local.port());
        let host = self.origin.host_str().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
            .unwrap_or(host);
        let same_host = host.eq_ignore_ascii_case("localhost")
            || host.parse::<IpAddr>().is_ok_and(|address| {
                let address = address.to_canonical();
                address.is_loopback() || address == local.ip().to_canonical()
            });
        same_port && same_host
    }

    /// Server 1's figures, or what can be had of them: fetched once for
    /// every watcher within [`SHARED_FOR`]. Watchers that come while a
    /// fetch is under way wait for it and share it. Its history holds the
    /// samples after `since`. `forwarded` is this server's count of
    /// `/forward`s, which stands for server 1's `/hello`s when server 1
    /// keeps no history.
    async fn fetch(&self, since: Option<u64>, forwarded: u64) -> Upstream {
        let mut last = self.last.lock().await;
        let mut upstream = match last.as_ref() {
            Some((at, upstream)) if at.elapsed() < SHARED_FOR => upstream.clone(),
            _ => {
                let upstream = self.fetch_now(forwarded).await;
                *last = Some((Instant::now(), upstream.clone()));
                upstream
            }
        };
        if let Some(figures) = upstream.figures.as_mut() {
            figures.history = self.mirror.after(since);
        }
        upstream
    }

    /// Fetches server 1's figures, and keeps the samples of its history
    /// that are new in the mirror.
    async fn fetch_now(&self, forwarded: u64) -> Upstream {
        let url = redacted(&self.origin);
        let (figures, missing) = match self.fetch_figures().await {
            Ok(mut figures) => {
                self.mirror.extend(&figures.history);
                figures.history.clear();
                (Some(figures), None)
            }
            Err(missing) => (self.fetch_hello(forwarded).await, Some(missing)),
        };
        Upstream {
            url,
            figures,
            missing,
        }
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
        let mut url = self.origin.join("figures").map_err(|err| err.to_string())?;
        if let Some(seq) = self.mirror.last_seq() {
            url.set_query(Some(&format!("since={seq}")));
        }
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

    /// Sends `body`, a switch, to server 1's `/settings`: its status and
    /// its answer.
    pub async fn relay_settings(&self, switch: Value) -> Result<(StatusCode, Value), String> {
        let client = self.client()?;
        let url = self
            .origin
            .join("settings")
            .map_err(|err| err.to_string())?;
        let mut response = client
            .put(url)
            .header(CONTENT_TYPE, "application/json")
            .body(switch.to_string())
            .send()
            .await
            .map_err(|err| format!("server 1 did not answer: {}", cause_chain(&err)))?;
        let status = response.status();
        let media = response
            .headers()
            .get(CONTENT_TYPE)
            .map(|value| shown(&String::from_utf8_lossy(value.as_bytes())))
            .unwrap_or_else(|| "no Content-Type".to_owned());
        let answer = read_body(&mut response, MAX_ANSWER_BYTES)
            .await
            .map_err(|err| format!("server 1's answer is not readable: {}", cause_chain(&err)))?;
        let not_json = || format!("server 1 answered {status} with {media}, not JSON");
        if !media.starts_with("application/json") {
            return Err(not_json());
        }
        serde_json::from_slice(&answer)
            .map(|answer| (status, answer))
            .map_err(|_| not_json())
    }

    /// What can be had from any server 1: its count, from `/hello`, which
    /// the mirror keeps as a sample of its own, with `forwarded` for the
    /// `/hello`s it has answered this server.
    async fn fetch_hello(&self, forwarded: u64) -> Option<Figures> {
        let client = self.client().ok()?;
        let response = client
            .get(self.origin.join("hello").ok()?)
            .send()
            .await
            .ok()?;
        let hello: Hello = read_json(response).await.ok()?;
        let tasks = hello.go_routines;
        let reading = Reading {
            tasks: tasks.try_into().unwrap_or(0),
            answered: forwarded,
            ..Reading::default()
        };
        self.mirror.record(reading, now_ms());
        Some(Figures {
            instance: String::new(),
            settings: Vec::new(),
            switches: Vec::new(),
            samples: BTreeMap::from([("tokio_alive_tasks".to_owned(), tasks as f64)]),
            history: Vec::new(),
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
