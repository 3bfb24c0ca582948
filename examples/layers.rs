//! `/hello` built up from the bare floor, one layer at a time, so that
//! `scripts/layers.sh` can measure what each layer costs:
//!
//! - `bare`: tokio's accept loop, hyper's HTTP/1 connections and an answer
//!   with the live task count, nothing else: the floor for a server like
//!   this one (`scripts/bench.sh` measures against it too);
//! - `routes`: the same accept loop serving this server's axum router,
//!   whose `/hello` handler reads the knobs and counts its answer;
//! - `wrapped`: the router inside the connection's wrapper (the requests
//!   in flight, the body left over, `Connection: close` when it must be)
//!   on a socket that keeps this server's deadlines.
//!
//! The next two layers are the server itself: with `RUST_LOG=off` it adds
//! the accept loop's own counting (connections open, the graceful
//! shutdown's watch), and at `RUST_LOG=info` the log line of each answer.
//!
//! Run with: `cargo run --release --example layers -- bare 127.0.0.1:0`;
//! it prints the address it listens on.

/// The server's allocator, so that every layer, the floor's too, runs on
/// what the server runs on.
#[cfg(all(feature = "jemalloc", not(target_env = "msvc")))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use reqwest_connection_leak::cli::Cli;
use reqwest_connection_leak::observe::ends::Ends;
use reqwest_connection_leak::serve::server::{Server, Serving};
use tokio::net::TcpListener;

const USAGE: &str = "usage: layers bare|routes|wrapped ADDRESS, e.g. layers bare 127.0.0.1:0";

/// The layer served, read once from the command line.
enum Layer {
    Bare,
    Routes(Serving),
    Wrapped(Serving),
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(layer), Some(address)) = (args.next(), args.next()) else {
        return Err(USAGE.into());
    };
    let address: SocketAddr = address.parse()?;
    let layer = match layer.as_str() {
        "bare" => Layer::Bare,
        "routes" => Layer::Routes(server()?.serving().clone()),
        "wrapped" => Layer::Wrapped(server()?.serving().clone()),
        other => return Err(format!("{other:?} is not a layer; {USAGE}").into()),
    };
    let listener = TcpListener::bind(address).await?;
    println!("{}", listener.local_addr()?);
    let http = http1::Builder::new();
    loop {
        let (stream, remote) = listener.accept().await?;
        match &layer {
            Layer::Bare => {
                tokio::spawn(http.serve_connection(TokioIo::new(stream), service_fn(hello)));
            }
            Layer::Routes(serving) => {
                let routes = serving.routes();
                tokio::spawn(http.serve_connection(TokioIo::new(stream), routes));
            }
            Layer::Wrapped(serving) => {
                let ends = Ends {
                    local: stream.local_addr()?,
                    remote,
                };
                let (socket, service) = serving.connection(stream, ends);
                tokio::spawn(http.serve_connection(TokioIo::new(socket), service));
            }
        }
    }
}

/// This server with its default settings, as `cargo run` starts it.
fn server() -> Result<Server, Box<dyn std::error::Error>> {
    let (cli, settings) = Cli::parse_with_settings(["layers".into()])?;
    Ok(Server::build(&cli.serve, &settings)?)
}

/// The floor's answer: `/hello`'s body, with the live task count.
async fn hello(_: Request<hyper::body::Incoming>) -> Result<Response<String>, Infallible> {
    let tasks = tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks();
    let body = format!(r#"{{"msg":"Hello World","goRoutines":{tasks}}}"#);
    Ok(Response::builder()
        .header("content-type", "application/json")
        .body(body)
        .unwrap_or_default())
}
