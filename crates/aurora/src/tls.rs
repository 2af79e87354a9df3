//! Verified TLS with rustls: system roots plus an optional CA bundle (e.g. the RDS bundle).

use std::sync::Arc;

use rustls::RootCertStore;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::config::{SslMode, TlsConfig};
use crate::error::{AuroraError, TlsError};

/// Builds the TLS connector for `config`, or `None` for `sslmode=disable`.
///
/// The ring provider is passed explicitly rather than installed process-wide, so this works
/// whatever other crates in the binary enabled on rustls.
pub(crate) fn connector(config: &TlsConfig) -> Result<Option<MakeRustlsConnect>, AuroraError> {
    if config.mode == SslMode::Disable {
        return Ok(None);
    }
    let roots = root_store(config).map_err(AuroraError::Tls)?;
    let client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| AuroraError::Tls(TlsError::Config(e)))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Some(MakeRustlsConnect::new(client)))
}

fn root_store(config: &TlsConfig) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    if config.use_system_roots {
        // Individual unreadable system certificates are skipped, as browsers do.
        let native = rustls_native_certs::load_native_certs();
        for cert in native.certs {
            let _ = roots.add(cert);
        }
    }
    if let Some(path) = &config.ca_bundle {
        let pem = std::fs::read(path).map_err(|source| TlsError::ReadCaBundle {
            path: path.clone(),
            source,
        })?;
        let mut added = 0usize;
        for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
            let cert = cert.map_err(|source| TlsError::BadPem {
                path: path.clone(),
                source,
            })?;
            roots.add(cert).map_err(|source| TlsError::BadCertificate {
                path: path.clone(),
                source,
            })?;
            added += 1;
        }
        if added == 0 {
            return Err(TlsError::EmptyCaBundle { path: path.clone() });
        }
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    Ok(roots)
}
