//! Which role a server plays, as the page decides it at each poll, and
//! what the page says of it.

use crate::observe::metrics::{Metrics, Outcome};
use crate::serve::server1_client::Server1View;
use crate::settings::knobs::Side;

/// The role this server plays, from what it did and what it can reach:
/// `server1` when its `UPSTREAM_URL` is its own socket, or when it has
/// answered `/hello`, forwarded nothing successfully and reaches no server
/// 1; `server2` otherwise. No one stray request makes a server 2 that
/// reaches its server 1 look like a server 1.
pub(crate) fn role(metrics: &Metrics, own_socket: bool, server1: Option<&Server1View>) -> Side {
    let forwarded = metrics.forward.ended_with(Outcome::ok);
    let answered = metrics.hello_answers.get();
    let reaches_server_1 = server1.is_some_and(|server1| server1.figures.is_some());
    if own_socket || (forwarded == 0 && answered > 0 && !reaches_server_1) {
        Side::Server1
    } else {
        Side::Server2
    }
}

/// What the page says of the role this server plays.
pub(crate) fn whoami(role: Side, server1: Option<&Server1View>) -> String {
    match (role, server1) {
        (Side::Server2, Some(server1)) => {
            format!("This server plays server 2; server 1 is {}", server1.url)
        }
        _ => "This server plays server 1: its UPSTREAM_URL is its own socket, or it has \
              answered /hello, forwarded none successfully and reaches no server 1. Open \
              server 2's page to watch both."
            .to_owned(),
    }
}
