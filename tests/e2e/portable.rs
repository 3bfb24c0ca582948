//! The build a Mac gets. Everything in `src/` that needs Linux's socket
//! diagnostics or `/proc` goes through one cfg, `linux_view` (set by
//! `build.rs`), so that `RUSTFLAGS="--cfg pretend_not_linux"` compiles on
//! Linux the very code a Mac compiles; `.ci/run` builds and tests it so.
//! There, the tests below drive what the README promises a Mac user: the
//! demo's table (the `demo` tests, run unchanged), `inspect`'s refusal,
//! and a server that says once at start that it cannot see connections
//! close.

use std::path::Path;

/// Every Rust file under `folder`, with its text.
fn rust_files(folder: &Path, found: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for path in entries.map(|entry| entry.expect("an entry").path()) {
        if path.is_dir() {
            rust_files(&path, found);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path).expect("readable");
            found.push((path.display().to_string(), text));
        }
    }
}

#[test]
fn every_linux_condition_goes_through_the_alias() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for folder in ["src", "tests", "benches", "examples"] {
        rust_files(&root.join(folder), &mut files);
    }
    // Spelled in two pieces, so that this file does not name it.
    let condition = ["target_os = ", "\"linux\""].concat();
    let direct: Vec<&str> = files
        .iter()
        .filter(|(_, text)| text.contains(&condition))
        .map(|(path, _)| path.as_str())
        .collect();
    assert!(
        direct.is_empty(),
        "{condition} outside build.rs: {direct:?}; write cfg(linux_view)"
    );
    let aliased = files
        .iter()
        .filter(|(_, text)| text.contains("cfg(linux_view)") || text.contains("cfg!(linux_view)"))
        .count();
    assert!(aliased >= 5, "the alias is used in {aliased} files");
    let build = std::fs::read_to_string(root.join("build.rs")).expect("build.rs");
    assert!(
        build.contains(&condition),
        "build.rs sets the alias on Linux"
    );
}

#[cfg(not(linux_view))]
mod elsewhere {
    use std::process::Command;
    use std::time::Duration;

    use crate::common::{BINARY, eventually, sample, scrape, start_server};

    #[test]
    fn inspect_says_in_one_line_that_it_needs_linux_and_exits_2() {
        for args in [&["inspect", "1"][..], &["inspect", "--all", "--once"]] {
            let output = Command::new(BINARY).args(args).output().expect("run");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
            assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
            assert!(stderr.contains("needs Linux"), "{args:?}: {stderr}");
            assert!(output.stdout.is_empty(), "{args:?}");
        }
    }

    #[test]
    fn a_server_says_once_at_start_that_it_cannot_see_connections_close() {
        let server = start_server("server", &[]);
        // Before any request: blind from the start, and said so once.
        assert_eq!(sample(&scrape(&server), "forward_retainer_blind"), 1.0);
        let said = |server: &crate::common::ServerProcess| {
            server
                .log()
                .iter()
                .filter(|line| line.contains("cannot see connections close"))
                .count()
        };
        assert!(eventually(Duration::from_secs(5), || said(&server) == 1));
        assert!(
            server
                .log()
                .iter()
                .all(|line| !line.contains("/proc/net/tcp instead")),
            "{:?}",
            server.log()
        );
    }
}
