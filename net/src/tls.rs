//! rustls configurations, each built with the `ring` provider passed explicitly: nothing
//! here installs or reads a process-global provider (this code runs inside Python and C
//! processes, which may hold one of their own, or none).

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::NetError;

/// TLS 1.3 and 1.2; nothing older.
static VERSIONS: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13, &rustls::version::TLS12];

pub(crate) fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn certs(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>, NetError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| NetError::Config(format!("{what}: not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(NetError::Config(format!("{what}: no certificate in it (expected PEM \"BEGIN CERTIFICATE\")")));
    }
    Ok(certs)
}

fn key(pem: &[u8], what: &str) -> Result<PrivateKeyDer<'static>, NetError> {
    PrivateKeyDer::from_pem_slice(pem)
        .map_err(|e| NetError::Config(format!("{what}: no usable PEM private key in it: {e}")))
}

fn roots(pem: &[u8], what: &str) -> Result<RootCertStore, NetError> {
    let mut roots = RootCertStore::empty();
    for cert in certs(pem, what)? {
        roots.add(cert).map_err(|e| NetError::Config(format!("{what}: not a usable CA certificate: {e}")))?;
    }
    Ok(roots)
}

/// A server's PEM material: its certificate chain, its key, and the CA its clients'
/// certificates must chain to (mTLS) if any.
pub(crate) fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    client_ca_pem: Option<&[u8]>,
) -> Result<ServerConfig, NetError> {
    let provider = provider();
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| NetError::Config(format!("TLS: {e}")))?;
    let builder = match client_ca_pem {
        Some(ca) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca, "client CA")?), provider)
                .build()
                .map_err(|e| NetError::Config(format!("client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs(cert_pem, "TLS certificate")?, key(key_pem, "TLS key")?)
        .map_err(|e| NetError::Config(format!("TLS certificate and key do not go together: {e}")))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client's: the CA the server's certificate must chain to, and the client's own
/// certificate and key for mTLS. ALPN is left to the connector.
pub(crate) fn client_config(ca_pem: &[u8], identity: Option<(&[u8], &[u8])>) -> Result<ClientConfig, NetError> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(|e| NetError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots(ca_pem, "CA")?);
    match identity {
        Some((cert, key_pem)) => builder
            .with_client_auth_cert(certs(cert, "client certificate")?, key(key_pem, "client key")?)
            .map_err(|e| NetError::Config(format!("client certificate and key do not go together: {e}"))),
        None => Ok(builder.with_no_client_auth()),
    }
}
