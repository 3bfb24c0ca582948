//! https upstreams, with the `tls` cargo feature: one rustls configuration
//! for the whole process.
//!
//! Loading and parsing root certificates is by far the dearest part of
//! building a client with TLS (reqwest's default does it on every build,
//! which made a per-request `/forward` 10 to 14 times slower). Here it is
//! done once, and each client build takes a copy of the finished
//! configuration.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

static CONFIG: OnceLock<ClientConfig> = OnceLock::new();

/// Certificates read from `UPSTREAM_CA_FILE`, trusted besides the system's.
#[derive(Debug, Clone)]
pub struct ExtraRoots(Vec<CertificateDer<'static>>);

/// Reads a PEM file of one or more certificates.
pub fn read_roots(path: &str) -> Result<ExtraRoots, String> {
    let certificates = CertificateDer::pem_file_iter(Path::new(path))
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("cannot read certificates from {path:?}: {err}"))?;
    if certificates.is_empty() {
        return Err(format!("no PEM certificate in {path:?}"));
    }
    Ok(ExtraRoots(certificates))
}

/// Builds the process's configuration from the system's root certificates
/// and `extra`. Call it once at start; later calls change nothing.
pub fn init(extra: Option<&ExtraRoots>) -> Result<(), String> {
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
pub fn client_config() -> ClientConfig {
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
