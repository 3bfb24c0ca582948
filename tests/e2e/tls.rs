//! With the `tls` feature, `/forward` reaches an https server 1, trusting a
//! certificate given in UPSTREAM_CA_FILE, and refuses one it cannot verify.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::thread;

use crate::common::{get, hello_answer, start_server};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

/// A self-signed certificate for `localhost`: (PEM, DER, private key).
fn localhost_certificate() -> (String, CertificateDer<'static>, PrivateKeyDer<'static>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
        .expect("generate a certificate");
    let key = PrivatePkcs8KeyDer::from(certified.signing_key.serialize_der());
    (
        certified.cert.pem(),
        certified.cert.der().clone(),
        key.into(),
    )
}

/// A TLS stand-in for server 1 that answers one `/hello` per connection,
/// for `connections` connections.
fn https_upstream(
    certificate: CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    connections: usize,
) -> SocketAddr {
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("protocol versions")
    .with_no_client_auth()
    .with_single_cert(vec![certificate], key)
    .expect("server certificate");
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    thread::spawn(move || {
        for tcp in listener.incoming().take(connections).flatten() {
            let Ok(connection) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut stream = rustls::StreamOwned::new(connection, tcp);
            let mut request = [0u8; 4096];
            if stream.read(&mut request).is_ok() {
                let _ = stream.write_all(&hello_answer());
                stream.conn.send_close_notify();
                let _ = stream.flush();
            }
        }
    });
    address
}

#[test]
fn forward_reaches_an_https_server_1_it_was_told_to_trust() {
    let (pem, der, key) = localhost_certificate();
    let folder = std::env::temp_dir().join(format!("leak-tls-test-{}", std::process::id()));
    std::fs::create_dir_all(&folder).expect("temp folder");
    let ca_file = folder.join("server1.pem");
    std::fs::write(&ca_file, pem).expect("write the certificate");

    let upstream = https_upstream(der, key, 2);
    let url = format!("https://localhost:{}/hello", upstream.port());
    let ca_path = ca_file.to_string_lossy().into_owned();
    let trusting = start_server(
        "server2",
        &[("UPSTREAM_URL", &url), ("UPSTREAM_CA_FILE", &ca_path)],
    );
    let answer = get(trusting.address, "/forward");
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json()["server1Response"]["msg"].as_str(),
        Some("Hello World")
    );

    let untrusting = start_server("server2 without the CA", &[("UPSTREAM_URL", &url)]);
    let answer = get(untrusting.address, "/forward");
    std::fs::remove_dir_all(&folder).expect("clean up");
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(answer.body.contains("certificate"), "{}", answer.body);
}

#[test]
fn an_unreadable_ca_file_exits_2_naming_it() {
    let output = std::process::Command::new(crate::common::BINARY)
        .env_clear()
        .env("UPSTREAM_CA_FILE", "/nonexistent/ca.pem")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("UPSTREAM_CA_FILE"), "{stderr}");
}
