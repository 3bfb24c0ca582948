//! Keeps each per-request client alive for as long as Go would.
//!
//! Go frees a per-request `http.Transport` when the goroutines of its
//! connection end, whatever closed the connection: its own idle timeout,
//! server 1's, server 1 stopping, `Connection: close`, an error. While the
//! connection stays open its goroutines keep the transport reachable, so the
//! garbage collector never frees it: the leak. In Rust, dropping a
//! `reqwest::Client` drops its pool, which closes the idle connection at
//! once: a straight port leaks nothing. The retainer follows Go's rule on
//! purpose: it holds each client exactly as long as the client's connection
//! is open. What the pool does with its sockets and tasks meanwhile is
//! reqwest and hyper's own behaviour.
//!
//! reqwest does not show its connection, but each answer carries the
//! connection's two addresses, and the kernel can say whether some process
//! still holds the connection with those ends. A thread of its own asks,
//! for every held client, twice a second while the retainer holds any, and
//! lets go of each client whose connection is gone. It is a thread, not a
//! tokio task, for the same reason Go's collector is not a goroutine:
//! watching must not change the task count. It asks the kernel's socket
//! diagnostics, or where they cannot be asked its `/proc/net/tcp` tables
//! ([`crate::observe::connection_check`]), opened once when the server
//! starts. Where neither can be read (not Linux, or
//! `CONNECTION_CHECK=none`), the retainer is blind: a held client stays
//! until shutdown, the log says so once at start, and
//! `forward_retainer_blind` says so for as long as the server runs.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use reqwest::Client;

use prometheus_client::metrics::gauge::Gauge;

use crate::observe::connection_check::ConnectionCheck;
use crate::observe::ends::Ends;
use crate::roles::client_settings::ClientSettings;
use crate::roles::upstream::Exchange;
use crate::settings::check_with::CheckWith;

/// How often the thread looks: a client goes within this much of its
/// connection closing.
const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// Holds per-request clients while their connections are open.
#[derive(Debug, Clone)]
pub(crate) struct Retainer {
    held: Arc<Mutex<Held>>,
}

#[derive(Debug, Default)]
struct Held {
    /// In the order they were handed over.
    clients: Vec<Kept>,
    /// Counts the calls to [`Retainer::clear`], so that a sweep that
    /// started before one leaves the emptied list alone.
    cleared: u64,
    /// Whether the thread that lets clients go is running.
    sweeping: bool,
    /// How it asks whether a connection is open, while no thread has it;
    /// `None` for good where it cannot ask.
    check: Option<ConnectionCheck>,
}

/// One held client.
#[derive(Debug)]
struct Kept {
    /// Never read: holding it is the point.
    _client: Client,
    /// Its connection's two ends.
    ends: Ends,
}

impl Retainer {
    /// A retainer that holds nothing yet, and asks `how`; `blind` goes to
    /// 1, and the log says why, if it cannot.
    pub(crate) fn new(how: CheckWith, blind: Gauge) -> Self {
        let check = ConnectionCheck::open(how)
            .inspect_err(|err| {
                blind.set(1);
                tracing::warn!(
                    %err,
                    "cannot see connections close: as server 2, every client held stays until shutdown"
                );
            })
            .ok();
        Retainer {
            held: Arc::new(Mutex::new(Held {
                check,
                ..Held::default()
            })),
        }
    }

    /// Takes `client`, built with `settings`, after its one request. A
    /// request that left no connection open (no complete answer,
    /// `Connection: close`, no keep-alives, no idle pool) leaves Go's
    /// transport with no goroutine at all, so the client goes at once; any
    /// other is held until its connection closes. Each client is judged by
    /// the settings it was built with, as each Go transport keeps its own.
    pub(crate) fn keep(&self, client: Client, settings: &ClientSettings, exchange: Exchange) {
        let Some(ends) = exchange
            .left_open()
            .filter(|_| settings.pools_connections())
        else {
            return drop(client);
        };
        let mut held = self.lock();
        held.clients.push(Kept {
            _client: client,
            ends,
        });
        if !held.sweeping
            && let Some(check) = held.check.take()
        {
            held.sweeping = true;
            // A thread that cannot start takes the check with it: every
            // client stays until shutdown.
            if let Err(err) = self.start_sweeping(check) {
                tracing::warn!(%err, "cannot start the retainer's thread; clients stay held");
            }
        }
    }

    /// Drops every client held now.
    pub(crate) fn clear(&self) {
        let released = {
            let mut held = self.lock();
            held.cleared += 1;
            std::mem::take(&mut held.clients)
        };
        drop(released);
    }

    /// How many clients are held now.
    pub(crate) fn len(&self) -> usize {
        self.lock().clients.len()
    }

    /// Starts the thread that lets clients go, with `check`.
    fn start_sweeping(&self, check: ConnectionCheck) -> io::Result<()> {
        let retainer = self.clone();
        thread::Builder::new()
            .name("retainer".to_owned())
            .spawn(move || retainer.sweep(check))
            .map(drop)
    }

    /// The thread's work: every [`SWEEP_EVERY`], drops the clients whose
    /// connection no process holds any more; ends when no client is left,
    /// or when the kernel cannot be asked this time (out of descriptors,
    /// at the leak's end, passes), and hands the check back for the next
    /// client to start the thread again.
    fn sweep(self, mut check: ConnectionCheck) {
        loop {
            thread::sleep(SWEEP_EVERY);
            let swept = self.release_closed(&mut check);
            // Decided in the same lock in which a handed-over client looks
            // at `sweeping`: one handed over after this starts a thread of
            // its own.
            let mut held = self.lock();
            if let Err(err) = &swept {
                tracing::warn!(%err, "cannot see connections close; held clients stay held");
            }
            if swept.is_err() || held.clients.is_empty() {
                held.sweeping = false;
                held.check = Some(check);
                return;
            }
        }
    }

    /// Drops the clients whose connection has closed.
    fn release_closed(&self, check: &mut ConnectionCheck) -> io::Result<()> {
        let started = Instant::now();
        let (asked, cleared) = {
            let held = self.lock();
            let ends: Vec<Ends> = held.clients.iter().map(|kept| kept.ends).collect();
            (ends, held.cleared)
        };
        // Asked outside the lock, so requests go on meanwhile.
        let open = check.held(&asked)?;
        let (released, still_held) = {
            let mut held = self.lock();
            let released = if held.cleared == cleared {
                take_closed(&mut held.clients, &open)
            } else {
                Vec::new()
            };
            (released, held.clients.len())
        };
        let released_count = released.len();
        // Dropped outside the lock: a client's drop closes its pool.
        drop(released);
        tracing::debug!(
            asked = asked.len(),
            released = released_count,
            still_held,
            took = ?started.elapsed(),
            "swept"
        );
        Ok(())
    }

    /// A std mutex, not tokio's: it is never held across an `.await`, and
    /// a poisoned lock only means a panic elsewhere; the list is still valid.
    fn lock(&self) -> MutexGuard<'_, Held> {
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Takes out of `clients` those whose connection is closed: `open` says
/// which of the first ones are open; any handed over since were not asked
/// about and stay.
fn take_closed(clients: &mut Vec<Kept>, open: &[bool]) -> Vec<Kept> {
    let asked = open.len().min(clients.len());
    let mut still_open = Vec::new();
    let mut closed = Vec::new();
    for (kept, open) in clients.drain(..asked).zip(open) {
        if *open {
            still_open.push(kept);
        } else {
            closed.push(kept);
        }
    }
    clients.splice(0..0, still_open);
    closed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::knobs::IdleConnsPerHost;
    use std::net::SocketAddr;

    fn ends(port: u16) -> Ends {
        let at = |port| SocketAddr::from(([127, 0, 0, 1], port));
        Ends {
            local: at(port),
            remote: at(8080),
        }
    }

    fn answered(port: u16, connection_close: bool) -> Exchange {
        Exchange::Completed {
            ends: Some(ends(port)),
            connection_close,
        }
    }

    fn client() -> Client {
        ClientSettings::default().build().expect("client")
    }

    fn kept(port: u16) -> Kept {
        Kept {
            _client: client(),
            ends: ends(port),
        }
    }

    #[test]
    fn a_request_that_left_nothing_open_releases_its_client_at_once() {
        let defaults = ClientSettings::default();
        let retainer = Retainer::new(CheckWith::SockDiag, Gauge::default());
        retainer.keep(client(), &defaults, Exchange::Failed);
        retainer.keep(client(), &defaults, answered(50000, true));
        let no_ends = Exchange::Completed {
            ends: None,
            connection_close: false,
        };
        retainer.keep(client(), &defaults, no_ends);
        assert_eq!(retainer.len(), 0);

        for settings in [
            ClientSettings {
                disable_keep_alives: true,
                ..defaults
            },
            ClientSettings {
                max_idle_conns_per_host: IdleConnsPerHost(-1),
                ..defaults
            },
        ] {
            retainer.keep(client(), &settings, answered(50001, false));
            assert_eq!(retainer.len(), 0, "{settings:?}");
        }
        // Clients built before and after a change are each judged by
        // their own settings.
        retainer.keep(client(), &defaults, answered(50002, false));
        assert_eq!(retainer.len(), 1);
    }

    #[test]
    fn a_connection_left_open_holds_its_client_until_cleared() {
        let retainer = Retainer::new(CheckWith::SockDiag, Gauge::default());
        let defaults = ClientSettings::default();
        retainer.keep(client(), &defaults, answered(50000, false));
        retainer.keep(client(), &defaults, answered(50001, false));
        assert_eq!(retainer.len(), 2);
        retainer.clear();
        assert_eq!(retainer.len(), 0);
    }

    #[test]
    fn closed_connections_release_their_clients_and_later_ones_wait() {
        let mut clients = vec![kept(1), kept(2), kept(3), kept(4)];
        // Asked about the first three; the fourth came after the question.
        let closed = take_closed(&mut clients, &[true, false, true]);
        let ports = |list: &[Kept]| list.iter().map(|k| k.ends.local.port()).collect::<Vec<_>>();
        assert_eq!(ports(&closed), [2]);
        assert_eq!(ports(&clients), [1, 3, 4], "in the order handed over");
    }
}
