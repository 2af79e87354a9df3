//! Verified TLS with rustls: system roots plus an optional CA bundle (e.g. the RDS bundle).

use std::sync::Arc;

use rustls::RootCertStore;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{SslMode, TlsConfig};
use crate::error::AuroraError;

/// Builds the TLS connector for `config`, or `None` for `sslmode=disable`.
///
/// The ring provider is passed explicitly rather than installed process-wide, so this works
/// whatever other crates in the binary enabled on rustls.
pub(crate) fn connector(config: &TlsConfig) -> Result<Option<MakeRustlsConnect>, AuroraError> {
    if config.mode == SslMode::Disable {
        return Ok(None);
    }
    let roots = root_store(config)?;
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| AuroraError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(client)))
}

fn root_store(config: &TlsConfig) -> Result<RootCertStore, AuroraError> {
    let mut roots = RootCertStore::empty();
    if config.use_system_roots {
        // Individual unreadable system certificates are skipped, as browsers do.
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
    }
    if let Some(path) = &config.ca_bundle {
        let pem = std::fs::read(path).map_err(|e| {
            AuroraError::Tls(format!("cannot read CA bundle {}: {e}", path.display()))
        })?;
        let mut added = 0usize;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|e| {
                AuroraError::Tls(format!("bad PEM in CA bundle {}: {e}", path.display()))
            })?;
            roots.add(cert).map_err(|e| {
                AuroraError::Tls(format!(
                    "bad certificate in CA bundle {}: {e}",
                    path.display()
                ))
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(AuroraError::Tls(format!(
                "CA bundle {} holds no PEM certificate",
                path.display()
            )));
        }
    }
    if roots.is_empty() {
        return Err(AuroraError::Tls(
            "no trusted root certificates (no system roots and no CA bundle)".to_owned(),
        ));
    }
    Ok(roots)
}

/// A rustls client configuration for HTTPS calls to AWS endpoints (system roots only).
pub(crate) fn https_client_config() -> Result<Arc<rustls::ClientConfig>, AuroraError> {
    let roots = root_store(&TlsConfig::default())?;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| AuroraError::Tls(e.to_string()))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}
