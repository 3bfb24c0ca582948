//! The retainer holds a client exactly as long as its connection is open,
//! as Go keeps a transport, whoever closes the connection.

use std::time::Duration;

use crate::common::{Pair, PairExt, ServerProcess, eventually, get, sample, scrape, start_pair};

/// Requests per test.
const N: usize = 40;

/// `forward_clients_held` on server 2.
fn held_clients(server2: &ServerProcess) -> f64 {
    sample(&scrape(server2), "forward_clients_held")
}

/// Sends N leaking requests, then waits up to 3 s for server 2 to hold
/// fewer than 8 clients: the retainer looks twice a second, the idle
/// timeouts are 1 s, and a second is left for a busy machine.
fn assert_released_within_3_s(pair: &Pair) {
    pair.forward_many(N);
    let mut now = f64::NAN;
    let released = eventually(Duration::from_secs(3), || {
        now = held_clients(&pair.server2);
        now < 8.0
    });
    assert!(released, "server 2 still holds {now} clients");
}

#[test]
fn leaked_connections_keep_every_client() {
    let pair = start_pair(&[], &[]);
    pair.forward_many(N);
    assert_eq!(held_clients(&pair.server2), N as f64);
    // Watched for three sweeps and more: none lets a client go.
    let let_go = eventually(Duration::from_secs(2), || {
        held_clients(&pair.server2) != N as f64
    });
    assert!(
        !let_go,
        "server 2 holds {} clients",
        held_clients(&pair.server2)
    );
}

#[test]
fn server_1_closing_idle_connections_releases_the_clients() {
    assert_released_within_3_s(&start_pair(&[("SERVER_IDLE_TIMEOUT", "1s")], &[]));
}

#[test]
fn the_clients_idle_timeout_releases_the_clients() {
    assert_released_within_3_s(&start_pair(&[], &[("IDLE_CONN_TIMEOUT", "1s")]));
}

#[test]
fn server_1_stopping_releases_the_clients() {
    let pair = start_pair(&[], &[]);
    pair.forward_many(N);
    assert_eq!(held_clients(&pair.server2), N as f64);
    let Pair { server1, server2 } = pair;
    drop(server1);
    let mut now = f64::NAN;
    let released = eventually(Duration::from_secs(3), || {
        now = held_clients(&server2);
        now < 8.0
    });
    assert!(released, "server 2 still holds {now} clients");
}

#[test]
fn reading_proc_net_instead_of_socket_diagnostics_releases_the_clients_too() {
    let pair = start_pair(
        &[("SERVER_IDLE_TIMEOUT", "1s")],
        &[("CONNECTION_CHECK", "proc")],
    );
    assert_released_within_3_s(&pair);
    assert_eq!(
        sample(&scrape(&pair.server2), "forward_retainer_blind"),
        0.0
    );
}

#[test]
fn a_retainer_that_cannot_see_connections_close_holds_them_and_says_so() {
    let pair = start_pair(
        &[("SERVER_IDLE_TIMEOUT", "1s")],
        &[("CONNECTION_CHECK", "none")],
    );
    pair.forward_many(N);
    // Server 1 closes the connections; the clients stay held.
    assert!(eventually(Duration::from_secs(4), || pair
        .idle_counts()
        .is_flat()));
    assert_eq!(held_clients(&pair.server2), N as f64);
    assert_eq!(
        sample(&scrape(&pair.server2), "forward_retainer_blind"),
        1.0
    );
    // The page predicts what the counts do, as the demo's one rule does:
    // the tasks go with the connections; it says the clients stay held.
    let watch = get(pair.server2.address, "/watch").json();
    assert_eq!(watch["amounts_to"], "reclaimed-after-idle", "{watch}");
    let blind = watch["blind"].as_str().unwrap_or_default();
    assert!(blind.contains("stays held until shutdown"), "{watch}");
}
