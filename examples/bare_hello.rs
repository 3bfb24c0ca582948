//! The floor to measure `/hello` against: the same answer on the same stack
//! (tokio's accept loop, hyper's HTTP/1 connections, the live task count)
//! with nothing else: no routing, no metrics, no logging, no settings.
//! Written for that measurement only (`scripts/bench.sh`).
//!
//! Run with: `cargo run --release --example bare_hello -- 127.0.0.1:0`;
//! it prints the address it listens on.

use std::convert::Infallible;
use std::net::SocketAddr;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let address: SocketAddr = std::env::args()
        .nth(1)
        .ok_or("usage: bare_hello ADDRESS, e.g. 127.0.0.1:0")?
        .parse()?;
    let listener = TcpListener::bind(address).await?;
    println!("{}", listener.local_addr()?);
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let connection =
                http1::Builder::new().serve_connection(TokioIo::new(stream), service_fn(hello));
            let _ = connection.await;
        });
    }
}

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
