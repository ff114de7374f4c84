//! The HTTPS client every AWS SDK client of a process shares, and the roots it trusts.
//!
//! By default it trusts Amazon Trust Services' five roots (`certs/amazon-trust-services.pem`),
//! the roots every AWS service endpoint's certificate chains to, rather than the platform's
//! whole store. Two reasons. Start-up: the SDK's default client loads and decodes the
//! platform's store when each SDK client is built (on this project's functions that was
//! over two thirds of the instructions before the first poll; BENCHMARKS.md), where five
//! certificates cost next to nothing. Trust: a certificate for an AWS endpoint from any other
//! authority is refused. `AWS_CA_BUNDLE` (the AWS CLI's name for it) names a PEM file to trust
//! instead, for an endpoint behind a TLS-inspecting proxy or a DynamoDB-compatible service with
//! a certificate of its own.

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext, TrustStore};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Amazon Trust Services' root certificates, PEM.
pub const AMAZON_ROOTS_PEM: &str = include_str!("../certs/amazon-trust-services.pem");

/// The certificates AWS endpoints are checked against.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum AwsTrust {
    /// Amazon Trust Services' roots: AWS endpoints, as deployed.
    #[default]
    Amazon,
    /// The certificates of a PEM file (`AWS_CA_BUNDLE`), already read and checked.
    Bundle(Vec<u8>),
}

impl AwsTrust {
    /// Trust the certificates of `pem`, which must hold at least one and nothing malformed.
    pub fn bundle(pem: Vec<u8>) -> Result<Self, String> {
        let certificates = CertificateDer::pem_slice_iter(&pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("not a PEM certificate file: {e}"))?;
        if certificates.is_empty() {
            return Err("holds no PEM certificate".into());
        }
        Ok(Self::Bundle(pem))
    }

    fn pem(&self) -> &[u8] {
        match self {
            Self::Amazon => AMAZON_ROOTS_PEM.as_bytes(),
            Self::Bundle(pem) => pem,
        }
    }
}

/// The SDK's default HTTPS client (hyper 1, rustls on aws-lc-rs, proxies from the
/// environment), trusting `trust` only.
pub fn https_client(trust: &AwsTrust) -> SharedHttpClient {
    let tls = TlsContext::builder()
        .with_trust_store(
            TrustStore::empty()
                .with_native_roots(false)
                .with_pem_certificate(trust.pem()),
        )
        .build()
        .expect("a TLS context with a trust store always builds");
    Builder::new().build_with_connector_fn(move |settings, components| {
        let mut connector = ConnectorBuilder::default()
            .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(tls.clone());
        connector.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            connector.set_sleep_impl(components.sleep_impl());
        }
        connector.set_proxy_config(Some(ProxyConfig::from_env()));
        connector.build()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_amazon_roots_are_five_certificates_the_sdk_accepts() {
        let certificates = CertificateDer::pem_slice_iter(AMAZON_ROOTS_PEM.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(certificates.len(), 5);
        // Building an SDK client builds its TLS connector, which panics on a root it
        // cannot parse.
        let sdk = aws_config::SdkConfig::builder()
            .http_client(https_client(&AwsTrust::Amazon))
            .behavior_version(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new("us-east-1"))
            .build();
        let _client = aws_sdk_dynamodb::Client::new(&sdk);
    }

    #[test]
    fn a_bundle_must_hold_certificates() {
        assert!(AwsTrust::bundle(AMAZON_ROOTS_PEM.as_bytes().to_vec()).is_ok());
        assert!(AwsTrust::bundle(b"".to_vec()).is_err());
        assert!(AwsTrust::bundle(b"not a certificate".to_vec()).is_err());
        let broken = b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n";
        assert!(AwsTrust::bundle(broken.to_vec()).is_err());
    }
}
