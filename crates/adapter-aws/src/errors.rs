//! Turning the SDK's errors into the port's: the cases an operator can act on (no
//! credentials, access denied, not found, throttled, unreachable) become their own
//! variants with a hint, and everything else stays an opaque source, so that no SDK type
//! reaches a caller.

use std::error::Error as StdError;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_ec2::config::http::HttpResponse;
use aws_sdk_ec2::error::{ConnectorError, ProvideErrorMetadata, SdkError};
use aws_sdk_sts::operation::assume_role::AssumeRoleError;
use lxpack_core::domain::AmiId;
use lxpack_core::ports::{AmiCatalogError, Unreachable};

/// What was being done when a call failed, for the messages and hints.
#[derive(Debug, Clone)]
pub(crate) struct Call<'a> {
    /// What lxpack was doing, e.g. `describe AMI ami-0123abcd in eu-west-1`.
    pub(crate) operation: String,
    /// The region called.
    pub(crate) region: &'a str,
    /// The endpoint override, if any.
    pub(crate) endpoint_url: Option<&'a str>,
    /// The AMI asked for, when one was.
    pub(crate) ami: Option<AmiId>,
    /// How many attempts the SDK makes in all.
    pub(crate) max_attempts: u32,
    /// The ARN of the role assumed, in cross-account mode.
    pub(crate) role_arn: Option<String>,
}

impl Call<'_> {
    fn endpoint(&self) -> String {
        self.endpoint_url
            .map_or_else(|| format!("EC2 in {}", self.region), str::to_owned)
    }
}

/// What an error code means to lxpack.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CodeKind {
    /// The AMI does not exist, or its id is not one.
    NotFound,
    /// The identity may not make the call.
    Denied,
    /// The credentials were rejected: unknown, expired or badly signed.
    Rejected,
    /// The service asks to slow down.
    Throttled,
    /// The service failed on its side.
    ServiceFault,
}

/// Classifies an AWS error code (EC2's or STS's).
pub(crate) fn classify(code: &str) -> Option<CodeKind> {
    Some(match code {
        "InvalidAMIID.NotFound" | "InvalidAMIID.Malformed" | "InvalidAMIID.Unavailable" => {
            CodeKind::NotFound
        }
        "UnauthorizedOperation"
        | "AccessDenied"
        | "AccessDeniedException"
        | "OptInRequired"
        | "Blocked"
        | "UnauthorizedAccess" => CodeKind::Denied,
        "AuthFailure"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch"
        | "ExpiredToken"
        | "ExpiredTokenException"
        | "RequestExpired"
        | "UnrecognizedClientException"
        | "IncompleteSignature"
        | "InvalidAccessKeyId" => CodeKind::Rejected,
        "RequestLimitExceeded"
        | "Throttling"
        | "ThrottlingException"
        | "ThrottledException"
        | "RequestThrottled"
        | "RequestThrottledException"
        | "TooManyRequestsException"
        | "SlowDown"
        | "EC2ThrottledException"
        | "PriorRequestNotComplete"
        | "BandwidthLimitExceeded" => CodeKind::Throttled,
        "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable"
        | "ServerInternal" => CodeKind::ServiceFault,
        _ => return None,
    })
}

/// Maps a failed EC2 call.
pub(crate) fn from_sdk<E>(error: SdkError<E, HttpResponse>, call: &Call<'_>) -> AmiCatalogError
where
    E: ProvideErrorMetadata + StdError + Send + Sync + 'static,
{
    if let Some(mapped) = from_credentials(&error, call) {
        return mapped;
    }
    let mapped = match &error {
        SdkError::ServiceError(context) => {
            let service_error = context.err();
            service_error.code().and_then(|code| {
                from_code(
                    code,
                    service_error.message().unwrap_or_default(),
                    "EC2",
                    call,
                )
            })
        }
        SdkError::TimeoutError(_) => Some(unreachable(
            call,
            "no answer in time".to_owned(),
            format!(
                "check the network path to {}; the per-attempt timeout can be raised",
                call.endpoint()
            ),
        )),
        SdkError::DispatchFailure(failure) => Some(unreachable(
            call,
            failure
                .as_connector_error()
                .map_or_else(|| chain_text(&error), |e| chain_text(e)),
            connection_hint(call),
        )),
        _ => None,
    };
    mapped.unwrap_or_else(|| AmiCatalogError::Other {
        operation: call.operation.clone(),
        source: Box::new(error),
    })
}

/// An error code with its meaning, as a port error; `None` for codes lxpack has no
/// special case for.
pub(crate) fn from_code(
    code: &str,
    message: &str,
    service: &str,
    call: &Call<'_>,
) -> Option<AmiCatalogError> {
    let message = if message.is_empty() { code } else { message };
    Some(match classify(code)? {
        CodeKind::NotFound => AmiCatalogError::NotFound {
            ami: call.ami.clone()?,
            region: call.region.to_owned(),
        },
        CodeKind::Denied => AmiCatalogError::AccessDenied {
            message: match (service, &call.role_arn) {
                ("STS", Some(arn)) => format!(
                    "{code}: {message} (the base credentials may not assume {arn}: the role's \
                     trust policy must allow them, with the right external id if it asks for one)"
                ),
                (_, Some(arn)) => format!(
                    "{code}: {message} (role {arn} needs ec2:DescribeImages in {})",
                    call.region
                ),
                _ => format!(
                    "{code}: {message} (the credentials need ec2:DescribeImages in {})",
                    call.region
                ),
            },
        },
        CodeKind::Rejected => AmiCatalogError::AccessDenied {
            message: format!(
                "{code}: {message} ({service} rejected the credentials: check the keys, or \
                 renew expired ones, e.g. with `aws sso login`)"
            ),
        },
        CodeKind::Throttled => AmiCatalogError::Throttled {
            message: format!(
                "{code}: {message} (still throttled after {} attempts: retry later, or lower \
                 the rate of EC2 calls in this account and region)",
                call.max_attempts
            ),
        },
        CodeKind::ServiceFault => unreachable(
            call,
            format!("{service} answered {code}: {message}"),
            format!(
                "{service} kept failing after {} attempts; retry later",
                call.max_attempts
            ),
        ),
    })
}

/// Credential problems, wherever they hide in the chain: the SDK reports them as a
/// dispatch failure that wraps the provider's error.
fn from_credentials(error: &(dyn StdError + 'static), call: &Call<'_>) -> Option<AmiCatalogError> {
    let credentials = chain(error).find_map(|e| e.downcast_ref::<CredentialsError>())?;
    if let Some(sts) = chain(credentials).find_map(|e| e.downcast_ref::<AssumeRoleError>())
        && let Some(mapped) = sts
            .code()
            .and_then(|code| from_code(code, sts.message().unwrap_or_default(), "STS", call))
    {
        return Some(mapped);
    }
    if chain(credentials).any(|e| e.downcast_ref::<ConnectorError>().is_some()) {
        return Some(unreachable_credentials(call, credentials));
    }
    Some(match credentials {
        CredentialsError::ProviderTimedOut(_) => unreachable_credentials(call, credentials),
        CredentialsError::CredentialsNotLoaded(_) => AmiCatalogError::MissingCredentials {
            hint: missing_credentials_hint(call, None),
        },
        _ => AmiCatalogError::MissingCredentials {
            hint: missing_credentials_hint(call, Some(&chain_text(credentials))),
        },
    })
}

fn missing_credentials_hint(call: &Call<'_>, problem: Option<&str>) -> String {
    let mut hint = String::new();
    if let Some(problem) = problem {
        hint.push_str(&format!("loading them failed: {problem}; "));
    }
    hint.push_str(
        "provide them as AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or as a profile \
         (AWS_PROFILE; for SSO run `aws sso login` first), or run where a role is attached \
         (instance profile, ECS task role, web identity)",
    );
    if let Some(arn) = &call.role_arn {
        hint.push_str(&format!(
            "; they are the base credentials that assume {arn}"
        ));
    }
    hint
}

fn unreachable_credentials(call: &Call<'_>, credentials: &CredentialsError) -> AmiCatalogError {
    AmiCatalogError::Unreachable(Unreachable {
        endpoint: call.role_arn.as_ref().map_or_else(
            || "the AWS credential provider".to_owned(),
            |_| "STS (to assume the role)".to_owned(),
        ),
        reason: chain_text(credentials),
        hint: "check the network path to the credential source (instance metadata, SSO, STS) \
               and try again"
            .to_owned(),
    })
}

fn unreachable(call: &Call<'_>, reason: String, hint: String) -> AmiCatalogError {
    AmiCatalogError::Unreachable(Unreachable {
        endpoint: call.endpoint(),
        reason,
        hint,
    })
}

fn connection_hint(call: &Call<'_>) -> String {
    match call.endpoint_url {
        Some(url) => format!("check that the EC2 endpoint override {url} is right and answering"),
        None => format!(
            "check the network path to EC2 in {} (DNS, proxy, VPC endpoint) and that the \
             region exists",
            call.region
        ),
    }
}

fn chain<'a>(
    error: &'a (dyn StdError + 'static),
) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |e: &&'a (dyn StdError + 'static)| {
        (*e).source()
    })
}

/// The messages of an error and its sources, joined with `: `, skipping repeats.
pub(crate) fn chain_text(error: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    for e in chain(error) {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|part| part.contains(&text)) {
            parts.push(text);
        }
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(ami: Option<&AmiId>, role_arn: Option<&str>) -> Call<'static> {
        Call {
            operation: "describe an AMI".into(),
            region: "eu-west-1",
            endpoint_url: None,
            ami: ami.cloned(),
            max_attempts: 3,
            role_arn: role_arn.map(str::to_owned),
        }
    }

    #[test]
    fn each_code_has_one_meaning() {
        let ami = AmiId::parse("ami-0123abcd").unwrap();
        let with_ami = call(Some(&ami), None);
        for code in [
            "InvalidAMIID.NotFound",
            "InvalidAMIID.Malformed",
            "InvalidAMIID.Unavailable",
        ] {
            assert!(
                matches!(
                    from_code(code, "m", "EC2", &with_ami),
                    Some(AmiCatalogError::NotFound { ami: a, region }) if a == ami && region == "eu-west-1"
                ),
                "{code}"
            );
        }
        // Without an AMI (a listing), "not found" is not something lxpack explains.
        assert!(from_code("InvalidAMIID.NotFound", "m", "EC2", &call(None, None)).is_none());

        let denied = from_code(
            "UnauthorizedOperation",
            "You are not authorized",
            "EC2",
            &with_ami,
        );
        let Some(AmiCatalogError::AccessDenied { message }) = denied else {
            panic!("{denied:?}")
        };
        assert!(
            message.starts_with("UnauthorizedOperation: You are not authorized"),
            "{message}"
        );
        assert!(
            message.contains("ec2:DescribeImages in eu-west-1"),
            "{message}"
        );

        let rejected = from_code("AuthFailure", "", "EC2", &with_ami);
        let Some(AmiCatalogError::AccessDenied { message }) = rejected else {
            panic!("{rejected:?}")
        };
        assert!(message.contains("rejected the credentials"), "{message}");

        for code in ["RequestLimitExceeded", "Throttling", "ThrottlingException"] {
            let throttled = from_code(code, "Rate exceeded", "EC2", &with_ami);
            let Some(AmiCatalogError::Throttled { message }) = throttled else {
                panic!("{throttled:?}")
            };
            assert!(message.contains("after 3 attempts"), "{message}");
        }

        let fault = from_code("InternalError", "boom", "EC2", &with_ami);
        let Some(AmiCatalogError::Unreachable(unreachable)) = fault else {
            panic!("{fault:?}")
        };
        assert_eq!(unreachable.endpoint, "EC2 in eu-west-1");
        assert_eq!(unreachable.reason, "EC2 answered InternalError: boom");

        assert!(from_code("InvalidParameterValue", "bad", "EC2", &with_ami).is_none());
    }

    #[test]
    fn denied_role_assumption_points_at_the_trust_policy() {
        let arn = "arn:aws:iam::111122223333:role/deployer";
        let denied = from_code(
            "AccessDenied",
            "not authorized to perform sts:AssumeRole",
            "STS",
            &call(None, Some(arn)),
        );
        let Some(AmiCatalogError::AccessDenied { message }) = denied else {
            panic!("{denied:?}")
        };
        assert!(
            message.contains("may not assume arn:aws:iam::111122223333:role/deployer"),
            "{message}"
        );
        assert!(message.contains("trust policy"), "{message}");
    }

    #[test]
    fn a_missing_provider_is_missing_credentials() {
        let error: SdkError<AssumeRoleError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(
                Box::new(CredentialsError::not_loaded(
                    "no providers in chain provided credentials",
                )),
                None,
            ));
        let mapped = from_sdk(error, &call(None, Some("arn:aws:iam::111122223333:role/r")));
        let AmiCatalogError::MissingCredentials { hint } = mapped else {
            panic!("{mapped:?}")
        };
        assert!(hint.contains("AWS_ACCESS_KEY_ID"), "{hint}");
        assert!(hint.contains("aws sso login"), "{hint}");
        assert!(
            hint.contains("base credentials that assume arn:aws:iam::111122223333:role/r"),
            "{hint}"
        );
    }

    #[test]
    fn an_invalid_profile_says_what_is_wrong() {
        let error: SdkError<AssumeRoleError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::other(
                Box::new(CredentialsError::invalid_configuration(
                    "profile `ci` has no region",
                )),
                None,
            ));
        let mapped = from_sdk(error, &call(None, None));
        let AmiCatalogError::MissingCredentials { hint } = mapped else {
            panic!("{mapped:?}")
        };
        assert!(hint.contains("profile `ci` has no region"), "{hint}");
    }

    #[test]
    fn unknown_failures_stay_opaque_with_their_operation() {
        let error: SdkError<AssumeRoleError, HttpResponse> =
            SdkError::construction_failure("a required field is missing");
        let mapped = from_sdk(error, &call(None, None));
        assert_eq!(mapped.to_string(), "describe an AMI failed");
        assert!(StdError::source(&mapped).is_some());
    }

    #[test]
    fn chain_text_skips_repeated_messages() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer: inner")]
        struct Outer(#[source] Inner);
        #[derive(Debug, thiserror::Error)]
        #[error("inner")]
        struct Inner;
        assert_eq!(chain_text(&Outer(Inner)), "outer: inner");
    }
}
