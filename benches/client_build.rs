//! What building one `/forward` client costs, the work every request does
//! before it can call server 1. Run with `cargo bench --bench client_build`.

use std::hint::black_box;
use std::time::Instant;

use reqwest_connection_leak::roles::client_settings::ClientSettings;

const BUILDS: u32 = 20_000;

fn main() {
    let settings = ClientSettings::default();
    // Warm up the allocator and the caches first.
    for _ in 0..1_000 {
        black_box(settings.build().expect("client"));
    }
    let started = Instant::now();
    for _ in 0..BUILDS {
        black_box(settings.build().expect("client"));
    }
    let mean = started.elapsed() / BUILDS;
    println!(
        "client build: {:.2} us mean over {BUILDS} builds",
        mean.as_secs_f64() * 1e6
    );
}
