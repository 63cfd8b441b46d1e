//! A remote daemon fails in ways a local socket cannot, and some of them quietly: LXD
//! and Incus answer a client whose certificate they do not trust, but only with what is
//! public (no instances, no private images), so a job would see an empty server rather
//! than an error. Every HTTPS client therefore checks, once, that the daemon trusts it;
//! and a transport failure is told by its deepest cause (a certificate other than the
//! pinned one, nothing listening, a name that does not resolve), each with its fix.

use lxpack_core::ports::Unreachable;

/// The command that makes the daemon trust a client certificate, on either daemon.
const TRUST_HINT: &str = "on the daemon's host, trust the client certificate: \
`lxc config trust add CLIENT.crt` (LXD) or `incus config trust add-certificate CLIENT.crt` \
(Incus), where CLIENT.crt is lxpack.runtime.client_cert";

/// Checks the `auth` field of `GET /1.0` from a remote daemon.
pub(crate) fn check_trusted(endpoint: &str, auth: &str) -> Result<(), Unreachable> {
    match auth {
        "trusted" => Ok(()),
        "" => Err(untrusted(endpoint, "auth: not given")),
        other => Err(untrusted(endpoint, &format!("auth: {other}"))),
    }
}

/// The daemon does not trust our certificate: `why` is what it said (the `auth` of
/// `GET /1.0`, or the message of a 403).
pub(crate) fn untrusted(endpoint: &str, why: &str) -> Unreachable {
    Unreachable {
        endpoint: endpoint.to_owned(),
        reason: format!("the daemon does not trust this client certificate ({why})"),
        hint: TRUST_HINT.to_owned(),
    }
}

/// Why an HTTPS call failed, from its error and the chain of its causes.
pub(crate) fn transport_failure(
    endpoint: &str,
    error: &(dyn std::error::Error + 'static),
) -> Unreachable {
    let mut chain = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if chain.last() != Some(&text) {
            chain.push(text);
        }
        source = cause.source();
    }
    explain(endpoint, &chain)
}

/// The reason and fix for a chain of error messages, outermost first.
fn explain(endpoint: &str, chain: &[String]) -> Unreachable {
    let all = chain.join(": ");
    let deepest = chain.last().cloned().unwrap_or_default();
    let has = |needle: &str| all.contains(needle);
    let (reason, hint) = if has("invalid peer certificate")
        || has("UnknownIssuer")
        || has("BadSignature")
    {
        (
            format!("the server's certificate is not the pinned one ({deepest})"),
            "set lxpack.runtime.server_cert to the daemon's own certificate: server.crt in its \
             directory (/var/lib/lxd, /var/lib/incus, or the snap's), or the certificate \
             `lxc remote add` saved"
                .to_owned(),
        )
    } else if has("NotValidForName") || has("certificate is not valid for") {
        (
            format!("the server's certificate does not name this address ({deepest})"),
            "use the address the certificate names (see `openssl x509 -in server.crt -noout -text`) \
             in lxpack.runtime.url"
                .to_owned(),
        )
    } else if has("Connection refused") || has("connection refused") {
        (
            "connection refused: nothing listens at this address".to_owned(),
            "make the daemon listen (`lxc config set core.https_address :8443`, or incus), \
             or fix lxpack.runtime.url; if it answered before, the daemon or the network to \
             it went down"
                .to_owned(),
        )
    } else if has("dns error") || has("failed to lookup address") {
        (
            format!("the host name does not resolve ({deepest})"),
            "fix the host in lxpack.runtime.url".to_owned(),
        )
    } else if has("certificate required") || has("CertificateRequired") || has("handshake") {
        (
            format!("the TLS handshake failed ({deepest})"),
            "check lxpack.runtime.client_cert and client_key, and that the daemon speaks TLS 1.3"
                .to_owned(),
        )
    } else {
        (
            all.clone(),
            "check that the daemon runs and answers at this address".to_owned(),
        )
    };
    Unreachable {
        endpoint: endpoint.to_owned(),
        reason,
        hint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const URL: &str = "https://10.0.0.1:8443";

    fn chain(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_a_trusted_client_goes_on() {
        assert!(check_trusted(URL, "trusted").is_ok());
        let refused = check_trusted(URL, "untrusted").unwrap_err();
        assert!(refused.reason.contains("does not trust"), "{refused:?}");
        assert!(refused.reason.contains("auth: untrusted"), "{refused:?}");
        assert!(refused.hint.contains("config trust add"), "{refused:?}");
        assert!(check_trusted(URL, "").is_err());
    }

    #[test]
    fn each_cause_gets_its_own_reason_and_fix() {
        let cases = [
            (
                chain(&[
                    "error sending request for url (https://10.0.0.1:8443/1.0)",
                    "client error (Connect)",
                    "invalid peer certificate: UnknownIssuer",
                ]),
                "not the pinned one",
                "server_cert",
            ),
            (
                chain(&[
                    "error sending request for url (https://10.0.0.1:8443/1.0)",
                    "client error (Connect)",
                    "tcp connect error",
                    "Connection refused (os error 111)",
                ]),
                "connection refused",
                "core.https_address",
            ),
            (
                chain(&[
                    "error sending request",
                    "dns error",
                    "failed to lookup address information",
                ]),
                "does not resolve",
                "lxpack.runtime.url",
            ),
            (
                chain(&["error sending request", "something else entirely"]),
                "something else entirely",
                "daemon runs",
            ),
        ];
        for (causes, reason, hint) in cases {
            let failure = explain(URL, &causes);
            assert!(failure.reason.contains(reason), "{causes:?} -> {failure:?}");
            assert!(failure.hint.contains(hint), "{causes:?} -> {failure:?}");
            assert_eq!(failure.endpoint, URL);
        }
    }
}
