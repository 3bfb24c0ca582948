//! https upstreams, with the `tls` cargo feature: one rustls configuration
//! for the whole process.
//!
//! Loading and parsing root certificates is by far the dearest part of
//! building a client with TLS (reqwest's default does it on every build,
//! which made a per-request `/forward` 10 to 14 times slower). Here it is
//! done once, and each client build takes a copy of the finished
//! configuration.

use std::sync::{Arc, OnceLock};

use rustls::{ClientConfig, RootCertStore};

use crate::settings::ca_file::ExtraRoots;

static CONFIG: OnceLock<ClientConfig> = OnceLock::new();

/// Builds the process's configuration from the system's root certificates
/// and `extra`. Call it once at start; later calls change nothing.
pub(crate) fn init(extra: Option<&ExtraRoots>) -> Result<(), String> {
    let mut roots = system_roots();
    for certificate in extra.map(|extra| extra.0.as_slice()).unwrap_or_default() {
        roots
            .add(certificate.clone())
            .map_err(|err| format!("cannot trust a certificate of UPSTREAM_CA_FILE: {err}"))?;
    }
    let _ = CONFIG.set(config_with(roots));
    Ok(())
}

/// A copy of the configuration for one client; the system's roots alone
/// if [`init`] was not called.
pub(crate) fn client_config() -> ClientConfig {
    CONFIG.get_or_init(|| config_with(system_roots())).clone()
}

fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let (loaded, unparsable) =
        roots.add_parsable_certificates(rustls_native_certs::load_native_certs().certs);
    tracing::debug!(loaded, unparsable, "system root certificates");
    roots
}

fn config_with(roots: RootCertStore) -> ClientConfig {
    ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth()
}
