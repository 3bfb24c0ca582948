//! Where a leaked request's memory goes on server 2: the bytes allocated,
//! counted on their way to jemalloc, for a thousand `/forward` clients
//! built and held, then made to call server 1 once each, every connection
//! kept in its client's pool, as the leak keeps it. Server 1 is this
//! program's own binary, in a process of its own, so that only the client
//! side is counted. The bytes are those asked for; jemalloc rounds each
//! up to its size class, and the pages around them make the RSS that
//! `scripts/bench.sh` reports. Run with `cargo bench --bench leak_memory`.

use std::alloc::{GlobalAlloc, Layout};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

use reqwest_connection_leak::roles::client_settings::ClientSettings;
use tikv_jemallocator::Jemalloc;

/// jemalloc, with a count of the allocations not yet freed, by size in
/// bytes (the last place counts every size beyond the others).
struct Counting;

const SIZES: usize = 64 * 1024;

static LIVE: [AtomicUsize; SIZES + 1] = [const { AtomicUsize::new(0) }; SIZES + 1];

fn counted(size: usize) -> &'static AtomicUsize {
    &LIVE[size.min(SIZES)]
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        counted(layout.size()).fetch_add(1, Ordering::Relaxed);
        unsafe { Jemalloc.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        counted(layout.size()).fetch_add(1, Ordering::Relaxed);
        unsafe { Jemalloc.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        counted(layout.size()).fetch_sub(1, Ordering::Relaxed);
        unsafe { Jemalloc.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        counted(new_size).fetch_add(1, Ordering::Relaxed);
        counted(layout.size()).fetch_sub(1, Ordering::Relaxed);
        unsafe { Jemalloc.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Clients held at once: enough that one's share is read to a byte.
const CLIENTS: usize = 1000;

/// How many allocations of each size are live now.
fn live() -> Vec<usize> {
    LIVE.iter()
        .map(|count| count.load(Ordering::Relaxed))
        .collect()
}

/// The bytes `after` holds beyond `before`, and the sizes that hold the
/// most of them, as (size, allocations per client), largest share first.
fn grown(before: &[usize], after: &[usize]) -> (usize, Vec<(usize, f64)>) {
    let mut sizes: Vec<(usize, isize)> = (0..=SIZES)
        .map(|size| (size, after[size] as isize - before[size] as isize))
        .filter(|(_, more)| *more > 0)
        .collect();
    let bytes = sizes.iter().map(|(size, more)| size * *more as usize).sum();
    sizes.sort_by_key(|(size, more)| std::cmp::Reverse(size * *more as usize));
    let largest = sizes
        .into_iter()
        .take(8)
        .map(|(size, more)| (size, more as f64 / CLIENTS as f64))
        .collect();
    (bytes, largest)
}

fn main() {
    let mut server1 = Command::new(env!("CARGO_BIN_EXE_reqwest-connection-leak"))
        .env("BIND_ADDRESS", "127.0.0.1:0")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("server 1 starts");
    let mut address = String::new();
    BufReader::new(server1.stdout.take().expect("its output"))
        .read_line(&mut address)
        .expect("server 1 says where it listens");
    let url = format!("http://{}/hello", address.trim());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let settings = ClientSettings::default();
    // One client and one call first, so that what is made once (the
    // runtime's timer, the resolver's thread) is not counted.
    runtime.block_on(async {
        let client = settings.build().expect("a client");
        client.get(&url).send().await.expect("an answer");
    });

    let before = live();
    let clients: Vec<reqwest::Client> = (0..CLIENTS)
        .map(|_| settings.build().expect("a client"))
        .collect();
    let built = live();
    runtime.block_on(async {
        for client in &clients {
            let answer = client.get(&url).send().await.expect("an answer");
            answer.bytes().await.expect("its body");
        }
    });
    // The connections' tasks settle into their idle wait: the count stops
    // changing (for two seconds at most).
    let mut called = live();
    for _ in 0..100 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        let now = live();
        if now == called {
            break;
        }
        called = now;
    }
    let per = |bytes: usize| bytes as f64 / CLIENTS as f64 / 1000.0;
    for (what, from, to) in [
        ("a client built and held", &before, &built),
        (
            "its call to server 1, the connection pooled",
            &built,
            &called,
        ),
    ] {
        let (bytes, largest) = grown(from, to);
        let sizes: Vec<String> = largest
            .iter()
            .map(|(size, each)| format!("{each:.2} x {size} B"))
            .collect();
        println!(
            "{what}: {:.2} KB a client; largest: {}",
            per(bytes),
            sizes.join(", ")
        );
    }
    drop(clients);
    let _ = server1.kill();
    let _ = server1.wait();
}
