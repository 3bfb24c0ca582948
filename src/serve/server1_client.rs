//! The client to server 1 that the dashboard and the switches use: its
//! figures, with the samples of its history this server has not seen yet,
//! and the switches passed on to its `/settings`.
//!
//! One client is kept for the purpose, on a connection opened for each
//! fetch and closed after it: while it fetches, watching adds that one
//! connection, and one task, on each side, as the connection that asks
//! `/hello` counts in its answer. One fetch serves every watcher for a
//! quarter of a second, so that many pages cost server 1 no more.

use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, StatusCode, Url};
use serde::Serialize;
use serde_json::Value;

use crate::failure::{cause_chain, shown};
use crate::observe::history::{History, Reading, Tick, now_ms};
use crate::roles::client_settings::ClientSettings;
use crate::roles::hello::Hello;
use crate::roles::upstream::read_body;
use crate::serve::figures::Figures;
use crate::settings::redact::redacted;

/// How long a fetch of server 1's figures may take.
const FETCH_LIMIT: Duration = Duration::from_secs(1);

/// Server 1's figures, or what could be had of them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Server1View {
    /// Where they come from, password hidden.
    pub(crate) url: String,
    pub(crate) figures: Option<Figures>,
    /// What is missing, and why; `None` when everything came.
    pub(crate) missing: Option<String>,
}

/// Server 1, as this server reaches it.
#[derive(Debug)]
pub(crate) struct Server1Client {
    /// `UPSTREAM_URL` with no path: where `/figures` and `/hello` are.
    origin: Url,
    /// Built on the first watch or the first relayed switch, kept for every
    /// later one.
    client: OnceLock<reqwest::Result<Client>>,
    /// The last fetch and when it was made: every watcher within
    /// [`SHARED_FOR`] of it shares it, and one fetch at a time is made.
    last: tokio::sync::Mutex<Option<(Instant, Server1View)>>,
    /// Server 1's history as far as fetched: each fetch asks for the
    /// samples after the last one here.
    mirror: History,
}

/// How long one fetch of server 1 serves every watcher: any number of
/// pages and calls cost server 1 at most four fetches a second, each one
/// connection, or two against a server 1 with no `/figures` (the Go
/// original: `/figures`, then `/hello`).
const SHARED_FOR: Duration = Duration::from_millis(250);

impl Server1Client {
    pub(crate) fn new(upstream_url: &Url) -> Self {
        let mut origin = upstream_url.clone();
        origin.set_path("/");
        origin.set_query(None);
        Server1Client {
            origin,
            client: OnceLock::new(),
            last: tokio::sync::Mutex::new(None),
            mirror: History::default(),
        }
    }

    /// Server 1's history, as far as fetched.
    pub(crate) fn history(&self) -> Vec<Tick> {
        self.mirror.after(None)
    }

    /// Whether `UPSTREAM_URL` is `local`, this server's own socket: its
    /// port, on a loopback host or on `local`'s own address.
    pub(crate) fn is_at(&self, local: SocketAddr) -> bool {
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
    /// every watcher within a quarter of a second. Watchers that come while a
    /// fetch is under way wait for it and share it. Its history holds the
    /// samples after `since`. `forwarded` is this server's count of
    /// `/forward`s, which stands for server 1's `/hello`s when server 1
    /// keeps no history.
    pub(crate) async fn fetch(&self, since: Option<u64>, forwarded: u64) -> Server1View {
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
    async fn fetch_now(&self, forwarded: u64) -> Server1View {
        let url = redacted(&self.origin);
        let (figures, missing) = match self.fetch_figures().await {
            Ok(mut figures) => {
                self.mirror.extend(&figures.history);
                figures.history.clear();
                (Some(figures), None)
            }
            Err(missing) => (self.fetch_hello(forwarded).await, Some(missing)),
        };
        Server1View {
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

    /// Sends `switch` to server 1's `/settings`: its status and its
    /// answer.
    pub(crate) async fn relay_settings(
        &self,
        switch: Value,
    ) -> Result<(StatusCode, Value), String> {
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
        Some(Figures::tasks_only(tasks.try_into().unwrap_or(u64::MAX)))
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
