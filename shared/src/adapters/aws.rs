//! The AWS SDK configuration, loaded at most once per process and shared by every client a
//! function builds at init (Secrets Manager, EventBridge, SES, S3).
//!
//! `aws_config::load_defaults` resolves the region, builds the credentials chain and the
//! HTTPS client (with its root certificates). Loaded once per client it was most of a cold
//! start's own work: the cold-init benchmark measured api at 3.5x hello-world apart from
//! the database and the secret reads, with three loads (docs/deploy.md, "Cold init").
//!
//! The HTTPS client is ours ([`defaults`]): the SDK's default is the same hyper/rustls
//! stack on aws-lc-rs, but it trusts the system's store, which `rustls-native-certs` reads
//! and parses at every cold start (on Debian, a bundle and a directory of about 290 files:
//! about 5 ms of each function's init in the cold-init benchmark). Ours trusts roots
//! compiled in, as every other outbound client of the project does (`adapters::https`, the
//! database): Amazon Trust Services' for AWS's endpoints, Mozilla's for an overridden one
//! (`TLS_CONTEXT` below says why).
//!
//! Loading is lazy: a function that names no secret by ARN, no bus and no bucket (local
//! runs, the demo) never loads it. A handle belongs to the runtime that loaded it (the
//! HTTPS client's connection pool lives there), so it is passed down from `main`, never
//! kept in a process-wide static that another runtime (a test's) could pick up.

use std::sync::{Arc, LazyLock};

use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use tokio::sync::OnceCell;

/// A shared, lazily loaded SDK configuration. Clones share the one load.
#[derive(Clone, Debug, Default)]
pub struct AwsSdk(Arc<OnceCell<SdkConfig>>);

impl AwsSdk {
    pub fn new() -> Self {
        Self::default()
    }

    /// The ambient configuration (the Lambda role; locally the usual environment
    /// variables, `AWS_ENDPOINT_URL` pointing at an emulator), loaded on first use.
    pub async fn config(&self) -> &SdkConfig {
        self.0.get_or_init(load).await
    }

    /// Whether [`Self::config`] has loaded it yet (any clone's call counts).
    pub fn is_loaded(&self) -> bool {
        self.0.initialized()
    }
}

/// The ambient configuration (region, credentials, `AWS_ENDPOINT_URL`) with
/// [`defaults`]' HTTPS client: what `aws_config::load_defaults` gives, minus the system's
/// root store. For one-off loads (the CLI's commands, tests); a function shares one
/// through [`AwsSdk`].
pub async fn load() -> SdkConfig {
    defaults().load().await
}

/// `aws_config::defaults` with the SDK's default HTTPS client (hyper 1, rustls on
/// aws-lc-rs, the proxy from the environment, the SDK's timeouts and sleep) trusting the
/// roots compiled in (`TLS_CONTEXT`) instead of the system's store. Certificate and
/// host-name verification are unchanged. The client (and its connection pool) is built
/// per loader, the trust store once per process.
pub fn defaults() -> ConfigLoader {
    let client = Builder::new().build_with_connector_fn(|settings, runtime_components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(TLS_CONTEXT.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = runtime_components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    });
    aws_config::defaults(BehaviorVersion::latest()).http_client(client)
}

/// The roots the SDK's HTTPS client trusts, as the PEM trust store its TLS context takes (it
/// has no other way in), encoded once per process and parsed by the SDK once per
/// connector. That parse is rustls-pki-types' constant-time base64: for all of Mozilla's
/// 118 roots it was the largest single cost of a function's own init in a profile of
/// watchdog (15 % of its CPU, more than the rest of our code), so only the roots the
/// endpoints can present are given:
/// - AWS's own endpoints (no HTTPS override): Amazon Trust Services, the CA of every
///   AWS service endpoint since S3 finished moving to it in June 2022 (Amazon Root CA 1-4
///   and the Starfield Services Root G2 that cross-signs them), as AWS documents for
///   restricted trust stores;
/// - an HTTPS endpoint named by `AWS_ENDPOINT_URL` or a service's `AWS_ENDPOINT_URL_*` (an
///   S3-compatible store, a remote emulator): every Mozilla root, since it may present any
///   public CA. A plain-HTTP override (moto, LocalStack on loopback) uses no TLS at all and
///   keeps the Amazon roots, so the cold-init benchmark runs the production path.
static TLS_CONTEXT: LazyLock<TlsContext> = LazyLock::new(|| {
    let all = https_endpoint_override(std::env::vars_os());
    TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(roots_pem(all)))
        .build()
        .expect("a trust store of PEM certificates is a valid TLS context")
});

/// Whether the environment overrides an AWS endpoint with an `https://` URL.
fn https_endpoint_override(
    vars: impl Iterator<Item = (std::ffi::OsString, std::ffi::OsString)>,
) -> bool {
    vars.filter(|(name, _)| {
        name.to_str()
            .is_some_and(|n| n == "AWS_ENDPOINT_URL" || n.starts_with("AWS_ENDPOINT_URL_"))
    })
    .any(|(_, url)| {
        url.to_str()
            .is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https://"))
    })
}

/// The subject common names of Amazon Trust Services' roots in Mozilla's store.
const AMAZON_TRUST_SERVICES: [&str; 5] = [
    "Amazon Root CA 1",
    "Amazon Root CA 2",
    "Amazon Root CA 3",
    "Amazon Root CA 4",
    "Starfield Services Root Certificate Authority - G2",
];

/// Amazon Trust Services' roots, or every Mozilla root (`all`).
fn trusted_roots(all: bool) -> Vec<&'static [u8]> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .map(|cert| cert.as_ref())
        .filter(|der| all || names_any(der, &AMAZON_TRUST_SERVICES))
        .collect()
}

/// Whether the self-signed certificate `der` names one of `common_names`: its issuer, which
/// for a root is its subject, holds the name as a DER string (the length, then the bytes)
/// within the certificate's first bytes (version, serial and signature algorithm come
/// before it). One table lookup per byte, the bytes compared only where a length matches:
/// this runs over every root at init (a substring search per position cost 23 % of
/// watchdog's init in a profile).
fn names_any(der: &[u8], common_names: &[&str]) -> bool {
    let mut wanted = [false; 256];
    for cn in common_names {
        if let Ok(len) = u8::try_from(cn.len()) {
            wanted[usize::from(len)] = true;
        }
    }
    let head = &der[..der.len().min(ISSUER_WITHIN)];
    head.iter().enumerate().any(|(i, &len)| {
        wanted[usize::from(len)]
            && common_names.iter().any(|cn| {
                usize::from(len) == cn.len()
                    && head.get(i + 1..i + 1 + cn.len()) == Some(cn.as_bytes())
            })
    })
}

/// How far into a root certificate its issuer name is looked for: well past where the
/// issuer ends in Amazon's roots (the test finds each of the five exactly once).
const ISSUER_WITHIN: usize = 512;

fn roots_pem(all: bool) -> Vec<u8> {
    use base64::Engine as _;
    let mut pem = String::new();
    for der in trusted_roots(all) {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        let encoded = base64::engine::general_purpose::STANDARD.encode(der);
        for line in encoded.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
    }
    pem.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn clones_share_one_load_and_nothing_loads_until_asked() {
        let sdk = AwsSdk::new();
        let clone = sdk.clone();
        assert!(!sdk.is_loaded() && !clone.is_loaded());
        let first: *const SdkConfig = clone.config().await;
        assert!(sdk.is_loaded(), "a clone's load is the original's");
        let second: *const SdkConfig = sdk.config().await;
        assert_eq!(first, second, "the same configuration, not a second load");
        assert!(!AwsSdk::new().is_loaded(), "a new handle is a new load");
    }

    /// Both trust stores parse back to exactly the roots chosen, and rustls takes each as a
    /// trust anchor: every Mozilla root, or Amazon Trust Services' five.
    #[test]
    fn the_trust_stores_are_mozillas_roots_or_amazons() {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::CertificateDer;
        let parse = |pem: Vec<u8>| {
            CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<Vec<_>, _>>()
                .expect("the PEM parses")
        };
        let all = parse(roots_pem(true));
        assert!(all.len() > 100, "{} roots", all.len());
        assert_eq!(all, webpki_root_certs::TLS_SERVER_ROOT_CERTS);

        let amazon = parse(roots_pem(false));
        assert_eq!(
            amazon.len(),
            AMAZON_TRUST_SERVICES.len(),
            "one root per name"
        );
        for cn in AMAZON_TRUST_SERVICES {
            let named = amazon
                .iter()
                .filter(|c| names_any(c.as_ref(), &[cn]))
                .count();
            assert_eq!(named, 1, "{cn}");
        }
        // A name is not matched inside a longer one ("Amazon Root CA 1" in "... CA 10").
        assert!(!names_any(b"\x11Amazon Root CA 10", &["Amazon Root CA 1"]));

        for roots in [all, amazon] {
            let n = roots.len();
            let mut store = rustls::RootCertStore::empty();
            assert_eq!(store.add_parsable_certificates(roots), (n, 0));
        }
    }

    /// Mozilla's roots only for an HTTPS override of an AWS endpoint.
    #[test]
    fn every_root_only_for_an_https_endpoint_override() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect::<Vec<(std::ffi::OsString, std::ffi::OsString)>>()
                .into_iter()
        };
        assert!(!https_endpoint_override(env(&[])));
        assert!(!https_endpoint_override(env(&[(
            "AWS_ENDPOINT_URL",
            "http://127.0.0.1:5000"
        )])));
        assert!(!https_endpoint_override(env(&[(
            "HOME",
            "https://not.an/endpoint"
        )])));
        assert!(https_endpoint_override(env(&[(
            "AWS_ENDPOINT_URL",
            " HTTPS://r2.example.com"
        )])));
        assert!(https_endpoint_override(env(&[
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
            ("AWS_ENDPOINT_URL_S3", "https://minio.example.com"),
        ])));
    }

    /// A client of the shared configuration still verifies: an endpoint whose certificate
    /// chains to no trusted root is refused (the system store is not consulted either).
    #[cfg(feature = "secrets")]
    #[tokio::test]
    async fn the_sdk_refuses_a_self_signed_endpoint() {
        let server = crate::adapters::https::SelfSignedServer::start().await;
        let sdk = defaults()
            .endpoint_url(format!("https://localhost:{}", server.port))
            .region(aws_config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
                "AKIDTEST", "secret", None, None, "test",
            ))
            .load()
            .await;
        let client = aws_sdk_secretsmanager::Client::new(&sdk);
        let err = client
            .get_secret_value()
            .secret_id("any")
            .send()
            .await
            .expect_err("a self-signed certificate must be refused");
        let chain = format!(
            "{:?}",
            aws_sdk_secretsmanager::error::DisplayErrorContext(&err)
        );
        assert!(chain.contains("UnknownIssuer"), "{chain}");
    }
}
