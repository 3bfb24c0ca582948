//! `UPSTREAM_CA_FILE`, with the `tls` feature: certificates to trust for an
//! https upstream besides the system's.

use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// Certificates read from `UPSTREAM_CA_FILE`.
#[derive(Debug, Clone)]
pub(crate) struct ExtraRoots(pub Vec<CertificateDer<'static>>);

/// Reads a PEM file of one or more certificates.
pub(crate) fn read_roots(path: &str) -> Result<ExtraRoots, String> {
    let certificates = CertificateDer::pem_file_iter(Path::new(path))
        .and_then(|certificates| certificates.collect::<Result<Vec<_>, _>>())
        .map_err(|err| format!("cannot read certificates from {path:?}: {err}"))?;
    if certificates.is_empty() {
        return Err(format!("no PEM certificate in {path:?}"));
    }
    Ok(ExtraRoots(certificates))
}
