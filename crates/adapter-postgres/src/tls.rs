//! The TLS connector: rustls on ring (the tree's one crypto provider, as in lxpack-lxd
//! and lxpack-aws), trusting the root certificate file when one is given and the
//! system's roots otherwise. The server's chain and its name (the URL's host) are
//! always verified; there is no "accept any certificate" mode.

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{ClientConfig, RootCertStore};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::error::{BoxError, PostgresStoreError};

/// The connector for every connection of one store.
pub(crate) fn connector(
    root_certificate: Option<&Path>,
) -> Result<MakeRustlsConnect, PostgresStoreError> {
    let roots = match root_certificate {
        Some(path) => {
            roots_from_file(path).map_err(|source| PostgresStoreError::RootCertificate {
                path: path.to_owned(),
                source,
            })?
        }
        None => system_roots(),
    };
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|error| PostgresStoreError::Settings {
                problem: format!("TLS cannot be set up: {error}"),
            })?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Every certificate of a PEM file; at least one.
fn roots_from_file(path: &Path) -> Result<RootCertStore, BoxError> {
    let mut roots = RootCertStore::empty();
    for certificate in CertificateDer::pem_file_iter(path)? {
        roots.add(certificate?)?;
    }
    if roots.is_empty() {
        return Err("the file holds no PEM certificate".into());
    }
    Ok(roots)
}

/// The system's trust roots; those that do not parse are skipped, as browsers do.
fn system_roots() -> RootCertStore {
    let mut roots = RootCertStore::empty();
    let found = rustls_native_certs::load_native_certs();
    for error in &found.errors {
        tracing::debug!(%error, "a system root certificate could not be loaded");
    }
    let (added, ignored) = roots.add_parsable_certificates(found.certs);
    tracing::debug!(added, ignored, "system root certificates");
    roots
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_missing_or_empty_root_file_is_its_own_error() {
        let missing = Path::new("/nonexistent/lxpack-ca.pem");
        let error = connector(Some(missing)).err().unwrap();
        assert!(
            matches!(&error, PostgresStoreError::RootCertificate { path, .. } if path == missing),
            "{error:?}"
        );
        let empty =
            std::env::temp_dir().join(format!("lxpack-pg-empty-{}.pem", std::process::id()));
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = connector(Some(&empty)).err().unwrap();
        std::fs::remove_file(&empty).unwrap();
        assert!(
            matches!(error, PostgresStoreError::RootCertificate { .. }),
            "{error:?}"
        );
    }

    #[test]
    fn the_system_roots_serve_without_a_file() {
        assert!(connector(None).is_ok());
    }
}
