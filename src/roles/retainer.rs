//! Keeps each per-request client alive for as long as Go would.
//!
//! In Go, the per-request `http.Transport` stays reachable while its pooled
//! connection's read and write goroutines run, so the garbage collector
//! never frees it, and the connection stays open forever. In Rust, dropping
//! a `reqwest::Client` drops its pool, which closes the idle connection at
//! once: a straight port leaks nothing. The retainer reproduces Go's
//! lifetime on purpose. It decides only when a client is dropped; what the
//! client's pool does with its sockets and tasks meanwhile is reqwest and
//! hyper's own behaviour.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use reqwest::Client;
use tokio::time::Instant;

use crate::roles::client_settings::ClientSettings;
use crate::roles::upstream::Exchange;

/// How long Go would keep a transport after one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// No connection is left open: Go would collect the transport now.
    Release,
    /// The pool closes its idle connection within this time; Go would
    /// collect the transport then.
    For(Duration),
    /// The idle connection never closes, so neither would Go's transport
    /// be freed: this is the leak.
    Forever,
}

impl Retention {
    /// Go's rule, given the client's settings and how its one request went.
    pub fn after(settings: &ClientSettings, exchange: Exchange) -> Retention {
        let kept_open = settings.pools_connections()
            && exchange
                == (Exchange::Completed {
                    connection_close: false,
                });
        match settings.idle_conn_timeout {
            _ if !kept_open => Retention::Release,
            // hyper-util checks for expired idle connections on a timer
            // whose period is the timeout, so one that went idle just after
            // a check closes at the second check: within twice the timeout.
            Some(timeout) => Retention::For(timeout * 2),
            None => Retention::Forever,
        }
    }
}

/// Holds per-request clients until their [`Retention`] runs out.
///
/// It runs one background task at most, the sweeper, and only while some
/// client has a deadline.
#[derive(Debug, Clone)]
pub struct Retainer {
    /// What every client it is given was built with.
    settings: ClientSettings,
    held: Arc<Mutex<Held>>,
}

#[derive(Debug, Default)]
struct Held {
    forever: Vec<Client>,
    /// In deadline order: every client shares the retainer's settings, so
    /// each deadline is "now plus the same time".
    until: VecDeque<(Instant, Client)>,
    sweeper_running: bool,
}

impl Retainer {
    /// A retainer for clients built with `settings`.
    pub fn new(settings: ClientSettings) -> Self {
        Retainer {
            settings,
            held: Arc::default(),
        }
    }

    /// Takes `client` after its one request and keeps it as Go would keep
    /// its transport, given how the request went.
    pub fn keep(&self, client: Client, exchange: Exchange) {
        match Retention::after(&self.settings, exchange) {
            Retention::Release => drop(client),
            Retention::Forever => self.lock().forever.push(client),
            Retention::For(duration) => {
                let mut held = self.lock();
                held.until.push_back((Instant::now() + duration, client));
                if !held.sweeper_running {
                    held.sweeper_running = true;
                    tokio::spawn(self.clone().sweep());
                }
            }
        }
    }

    /// Drops every client held now.
    pub fn clear(&self) {
        let released = {
            let mut held = self.lock();
            (
                std::mem::take(&mut held.forever),
                std::mem::take(&mut held.until),
            )
        };
        drop(released);
    }

    /// How many clients are held now.
    pub fn len(&self) -> usize {
        let held = self.lock();
        held.forever.len() + held.until.len()
    }

    /// Whether no client is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops each timed client at its deadline; ends when none is left.
    async fn sweep(self) {
        loop {
            let (expired, next_deadline) = {
                let mut held = self.lock();
                let now = Instant::now();
                let due = held
                    .until
                    .iter()
                    .take_while(|(deadline, _)| *deadline <= now)
                    .count();
                let expired: Vec<_> = held.until.drain(..due).collect();
                let next_deadline = held.until.front().map(|(deadline, _)| *deadline);
                held.sweeper_running = next_deadline.is_some();
                (expired, next_deadline)
            };
            // Dropped outside the lock: a client's drop closes its pool.
            drop(expired);
            match next_deadline {
                Some(deadline) => tokio::time::sleep_until(deadline).await,
                None => return,
            }
        }
    }

    /// A std mutex, not tokio's: it is never held across an `.await`, and
    /// a poisoned lock only means a panic elsewhere; the list is still valid.
    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::observe::tasks::alive_tasks;

    const OK: Exchange = Exchange::Completed {
        connection_close: false,
    };
    const CLOSED: Exchange = Exchange::Completed {
        connection_close: true,
    };

    fn settings() -> ClientSettings {
        ClientSettings::default()
    }

    #[test]
    fn go_defaults_keep_the_client_forever() {
        assert_eq!(Retention::after(&settings(), OK), Retention::Forever);
    }

    #[test]
    fn nothing_left_open_means_release_now() {
        let no_keep_alives = ClientSettings {
            disable_keep_alives: true,
            ..settings()
        };
        let no_idle = ClientSettings {
            max_idle_conns_per_host: Some(0),
            ..settings()
        };
        assert_eq!(Retention::after(&no_keep_alives, OK), Retention::Release);
        assert_eq!(Retention::after(&no_idle, OK), Retention::Release);
        assert_eq!(Retention::after(&settings(), CLOSED), Retention::Release);
        assert_eq!(
            Retention::after(&settings(), Exchange::Failed),
            Retention::Release
        );
    }

    #[test]
    fn an_idle_timeout_keeps_the_client_for_two_timeouts() {
        let timed = ClientSettings {
            idle_conn_timeout: Some(Duration::from_millis(700)),
            ..settings()
        };
        assert_eq!(
            Retention::after(&timed, OK),
            Retention::For(Duration::from_millis(1400))
        );
        assert_eq!(Retention::after(&timed, CLOSED), Retention::Release);
    }

    fn client() -> Client {
        settings().build().expect("client")
    }

    #[tokio::test(start_paused = true)]
    async fn timed_clients_are_dropped_at_their_deadline_and_the_sweeper_ends() {
        let retainer = Retainer::new(ClientSettings {
            idle_conn_timeout: Some(Duration::from_secs(1)),
            ..settings()
        });
        let baseline = alive_tasks();
        retainer.keep(client(), OK);
        tokio::time::sleep(Duration::from_secs(1)).await;
        retainer.keep(client(), OK);
        assert_eq!(retainer.len(), 2);
        assert_eq!(alive_tasks(), baseline + 1, "one sweeper");

        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert_eq!(retainer.len(), 1, "the first deadline has passed");
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(retainer.is_empty());
        tokio::task::yield_now().await;
        assert_eq!(alive_tasks(), baseline, "sweeper ended");
    }

    #[tokio::test]
    async fn released_clients_are_not_held_and_kept_ones_are() {
        let retainer = Retainer::new(settings());
        retainer.keep(client(), Exchange::Failed);
        retainer.keep(client(), CLOSED);
        assert!(retainer.is_empty());
        retainer.keep(client(), OK);
        retainer.keep(client(), OK);
        assert_eq!(retainer.len(), 2);
        retainer.clear();
        assert!(retainer.is_empty());
    }
}
