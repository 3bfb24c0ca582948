//! One name for "this build reads Linux's socket diagnostics and `/proc`":
//! the `linux_view` cfg, set here on Linux. Everything in `src/` that
//! needs them says `cfg(linux_view)`, never `target_os = "linux"`, so that
//! `RUSTFLAGS="--cfg pretend_not_linux"` builds on Linux the very code a
//! Mac gets, and CI compiles and tests that code (`.ci/run`, the portable
//! step). Without it, the other platforms' paths would be compiled by
//! nobody here, and would break unseen.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(linux_view)");
    println!("cargo::rustc-check-cfg=cfg(pretend_not_linux)");
    println!("cargo::rerun-if-changed=build.rs");
    // Cargo hands a build script the target's cfgs, those of RUSTFLAGS
    // included.
    let linux = std::env::var("CARGO_CFG_TARGET_OS").is_ok_and(|os| os == "linux");
    let pretending = std::env::var_os("CARGO_CFG_PRETEND_NOT_LINUX").is_some();
    if linux && !pretending {
        println!("cargo::rustc-cfg=linux_view");
    }
}
