//! The daemons' own clients (`lxc`, `incus`) trust a remote by its exact certificate and
//! ignore the names in it. A daemon's generated certificate names only its hostname,
//! 127.0.0.1 and ::1, so a client that also checks names refuses every other address: a
//! cluster member at 127.0.0.2, a LAN address, a DNS name the certificate lacks. lxpack
//! trusts the same way: the server must present exactly the pinned certificate, and
//! prove in the handshake that it holds its key; the name it was reached by is not
//! checked.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, SignatureScheme};

/// Accepts exactly one certificate, whatever name it was reached by.
#[derive(Debug)]
pub(crate) struct PinnedCertificate {
    pinned: CertificateDer<'static>,
    provider: Arc<CryptoProvider>,
}

impl PinnedCertificate {
    /// A verifier that accepts only `pinned`, checking handshake signatures with
    /// `provider`'s algorithms.
    pub(crate) fn new(pinned: CertificateDer<'static>, provider: Arc<CryptoProvider>) -> Self {
        Self { pinned, provider }
    }
}

impl ServerCertVerifier for PinnedCertificate {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if end_entity.as_ref() == self.pinned.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            // Told apart by the transport's error explanation: "not the pinned one".
            Err(Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier(pinned: &[u8]) -> PinnedCertificate {
        PinnedCertificate::new(
            CertificateDer::from(pinned.to_vec()),
            crate::transport::http::crypto_provider(),
        )
    }

    #[test]
    fn the_pinned_certificate_is_accepted_by_any_name_and_no_other_is() {
        let verifier = verifier(b"the pinned certificate");
        for name in ["127.0.0.2", "member-2.cluster.invalid", "127.0.0.1"] {
            let name = ServerName::try_from(name).unwrap();
            assert!(
                verifier
                    .verify_server_cert(
                        &CertificateDer::from(b"the pinned certificate".to_vec()),
                        &[],
                        &name,
                        &[],
                        UnixTime::now(),
                    )
                    .is_ok()
            );
        }
        let other = verifier.verify_server_cert(
            &CertificateDer::from(b"another certificate".to_vec()),
            &[],
            &ServerName::try_from("127.0.0.1").unwrap(),
            &[],
            UnixTime::now(),
        );
        let error = other.unwrap_err().to_string();
        assert!(error.contains("invalid peer certificate"), "{error}");
    }
}
