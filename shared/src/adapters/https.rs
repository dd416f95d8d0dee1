//! The outbound HTTPS clients' TLS (Yahoo, Reddit, webhooks, the CloudFormation
//! ResponseURL): Mozilla's root store compiled in (`webpki-roots`, the store the database
//! connection trusts too) and aws-lc-rs, built once per process.
//!
//! reqwest's own rustls setup goes through `rustls-platform-verifier`, which reads and
//! parses the system's root certificates (`load_native_certs`) on every client build:
//! about 4 ms of a function's cold start, measured as the gap between watchdog and
//! monitor-positions in the cold-init benchmark (docs/deploy.md, "Cold init"). The
//! compiled-in anchors are already parsed.

use std::sync::{Arc, OnceLock};

/// A client builder whose TLS trusts the compiled-in roots (verification stays on:
/// certificate chain and host name).
pub fn client_builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder().tls_backend_preconfigured(tls_config())
}

/// The shared rustls configuration (a clone: the roots and the provider are behind `Arc`s).
pub fn tls_config() -> rustls::ClientConfig {
    static CONFIG: OnceLock<rustls::ClientConfig> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
            rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("aws-lc-rs supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth()
        })
        .clone()
}

/// An HTTPS server on loopback whose certificate (for `localhost`) is self-signed: a
/// client that verifies must refuse it. Serves one handshake attempt.
#[cfg(test)]
pub(crate) struct SelfSignedServer {
    pub port: u16,
    serve: tokio::task::JoinHandle<()>,
}

#[cfg(test)]
impl SelfSignedServer {
    pub async fn start() -> Self {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        use tokio::io::AsyncReadExt;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        // A self-signed certificate for `localhost` (tests/fixtures/tls, valid to 2126).
        let fixture = |f: &str| format!("{}/tests/fixtures/tls/{f}", env!("CARGO_MANIFEST_DIR"));
        let cert = CertificateDer::from_pem_file(fixture("self-signed.cert.pem")).unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("self-signed.key.pem")).unwrap();
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        let serve = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                // The handshake fails on the client's side: the server sees an alert.
                if let Ok(mut tls) = acceptor.accept(tcp).await {
                    let mut buf = [0u8; 1];
                    let _ = tls.read(&mut buf).await;
                }
            }
        });
        Self { port, serve }
    }
}

#[cfg(test)]
impl Drop for SelfSignedServer {
    fn drop(&mut self) {
        self.serve.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// reqwest takes a preconfigured rustls config only from its own rustls version; a
    /// mismatch would make every build fail ("unknown TLS backend").
    #[test]
    fn reqwest_accepts_the_preconfigured_tls() {
        client_builder()
            .build()
            .expect("reqwest took the rustls config");
    }

    /// An HTTPS server whose certificate chains to no trusted root is refused: the
    /// preconfigured TLS still verifies.
    #[tokio::test]
    async fn a_self_signed_server_is_refused() {
        let server = SelfSignedServer::start().await;
        let err = client_builder()
            .build()
            .unwrap()
            .get(format!("https://localhost:{}/", server.port))
            .send()
            .await
            .expect_err("a self-signed certificate must be refused");
        let chain = format!("{err:?}");
        assert!(
            chain.contains("InvalidCertificate(UnknownIssuer)"),
            "{chain}"
        );
    }
}
