//! How the catalog reaches EC2: credentials, the optional cross-account role, endpoint
//! overrides, the OS tags, paging and retries. Everything is validated here, once, so
//! that a bad setting fails at start-up with a message naming it rather than on the
//! first AWS call.

use std::fmt;
use std::time::Duration;

use secrecy::SecretString;

use crate::os_identity::OsTagKeys;

/// A `Result` whose error is [`ConfigError`].
pub(crate) type Result<T, E = ConfigError> = std::result::Result<T, E>;

/// A setting of [`Ec2CatalogConfig`] that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not a 12-digit AWS account id.
    #[error("invalid AWS account id {input:?}: expected 12 digits, e.g. 123456789012")]
    AccountId {
        /// What was given.
        input: String,
    },
    /// Not an IAM role name.
    #[error(
        "invalid IAM role name {input:?}: expected 1 to 64 letters, digits or any of +=,.@_- \
         (the name only, without arn:… or a path)"
    )]
    RoleName {
        /// What was given.
        input: String,
    },
    /// Not a role session name.
    #[error(
        "invalid role session name {input:?}: expected 2 to 64 letters, digits or any of +=,.@-"
    )]
    SessionName {
        /// What was given.
        input: String,
    },
    /// An endpoint that is not an `http://` or `https://` URL with a host.
    #[error(
        "invalid {service} endpoint URL {input:?}: expected http://HOST[:PORT] or https://HOST[:PORT]"
    )]
    EndpointUrl {
        /// `EC2` or `STS`.
        service: &'static str,
        /// What was given.
        input: String,
    },
    /// An empty OS tag key.
    #[error("the {which} tag key is empty: name the tag that holds it, e.g. os_{which}")]
    TagKey {
        /// `family` or `release`.
        which: &'static str,
    },
    /// A page size EC2 refuses.
    #[error("invalid page size {value}: EC2 accepts 5 to 1000")]
    PageSize {
        /// What was given.
        value: u32,
    },
    /// Zero attempts, or more than is sensible.
    #[error("invalid max attempts {value}: expected 1 to 10 (1 means no retries)")]
    MaxAttempts {
        /// What was given.
        value: u32,
    },
    /// An empty static access key id or secret.
    #[error("the static AWS credentials have an empty {which}")]
    EmptyCredential {
        /// Which part is empty.
        which: &'static str,
    },
    /// Not an AWS region name.
    #[error("invalid AWS region {input:?}: expected a region name such as eu-west-1")]
    Region {
        /// What was given.
        input: String,
    },
    /// A profile name that is empty.
    #[error("the AWS profile name is empty: leave it unset to use AWS_PROFILE or `default`")]
    EmptyProfile,
}

/// Where the credentials come from.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum CredentialSource {
    /// The AWS SDK's standard chain, in its order: environment variables, the shared
    /// config and credentials files (with SSO, `credential_process` and role chaining),
    /// web identity, ECS, then EC2 instance metadata.
    #[default]
    DefaultChain,
    /// The standard chain, reading this profile instead of `AWS_PROFILE`/`default`.
    Profile(String),
    /// Fixed keys, e.g. from a secret store (or dummy keys for a local EC2 stand-in).
    Static(StaticCredentials),
}

/// Fixed AWS keys. The secret parts never appear in `Debug` output or logs.
#[derive(Clone)]
pub struct StaticCredentials {
    pub(crate) access_key_id: String,
    pub(crate) secret_access_key: SecretString,
    pub(crate) session_token: Option<SecretString>,
}

impl StaticCredentials {
    /// Keys without a session token.
    #[must_use]
    pub fn new(access_key_id: impl Into<String>, secret_access_key: SecretString) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key,
            session_token: None,
        }
    }

    /// Adds the session token of temporary keys.
    #[must_use]
    pub fn with_session_token(mut self, token: SecretString) -> Self {
        self.session_token = Some(token);
        self
    }
}

impl fmt::Debug for StaticCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StaticCredentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"[redacted]")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

/// Cloud Deploy's cross-account mode: the EC2 calls are made as this role, assumed
/// with the base credentials through STS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    account_id: String,
    role_name: String,
    session_name: String,
    external_id: Option<String>,
}

impl AssumeRole {
    /// The role `role_name` in account `account_id`, with session name `lxpack`.
    ///
    /// # Errors
    /// [`ConfigError::AccountId`] unless the account id is 12 digits;
    /// [`ConfigError::RoleName`] unless the role name is a plain IAM role name.
    pub fn new(account_id: &str, role_name: &str) -> Result<Self> {
        let account_id = account_id.trim();
        if account_id.len() != 12 || !account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(ConfigError::AccountId {
                input: account_id.to_owned(),
            });
        }
        let valid_role = (1..=64).contains(&role_name.len())
            && role_name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-".contains(&b));
        if !valid_role {
            return Err(ConfigError::RoleName {
                input: role_name.to_owned(),
            });
        }
        Ok(Self {
            account_id: account_id.to_owned(),
            role_name: role_name.to_owned(),
            session_name: "lxpack".to_owned(),
            external_id: None,
        })
    }

    /// Names the STS session (it shows in CloudTrail).
    ///
    /// # Errors
    /// [`ConfigError::SessionName`] unless it is 2 to 64 of `[A-Za-z0-9+=,.@-]`.
    pub fn with_session_name(mut self, name: &str) -> Result<Self> {
        let valid = (2..=64).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+=,.@-".contains(&b));
        if !valid {
            return Err(ConfigError::SessionName {
                input: name.to_owned(),
            });
        }
        name.clone_into(&mut self.session_name);
        Ok(self)
    }

    /// Sets the external id the role's trust policy requires.
    #[must_use]
    pub fn with_external_id(mut self, external_id: impl Into<String>) -> Self {
        self.external_id = Some(external_id.into());
        self
    }

    /// The role's ARN in the partition of `region` (`aws`, `aws-cn`, `aws-us-gov`…).
    #[must_use]
    pub fn arn(&self, region: &str) -> String {
        format!(
            "arn:{}:iam::{}:role/{}",
            partition(region),
            self.account_id,
            self.role_name
        )
    }

    pub(crate) fn session_name(&self) -> &str {
        &self.session_name
    }

    pub(crate) fn external_id(&self) -> Option<&str> {
        self.external_id.as_deref()
    }
}

/// The AWS partition a region belongs to.
fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else if region.starts_with("us-isob-") {
        "aws-iso-b"
    } else if region.starts_with("us-iso-") {
        "aws-iso"
    } else {
        "aws"
    }
}

/// The settings of an [`Ec2AmiCatalog`](crate::Ec2AmiCatalog). Build one with
/// [`Ec2CatalogConfig::builder`].
#[derive(Debug, Clone)]
pub struct Ec2CatalogConfig {
    pub(crate) credentials: CredentialSource,
    pub(crate) assume_role: Option<AssumeRole>,
    pub(crate) endpoint_url: Option<String>,
    pub(crate) sts_endpoint_url: Option<String>,
    pub(crate) os_tags: OsTagKeys,
    pub(crate) page_size: u32,
    pub(crate) max_attempts: u32,
    pub(crate) initial_backoff: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) attempt_timeout: Duration,
}

impl Default for Ec2CatalogConfig {
    fn default() -> Self {
        Self {
            credentials: CredentialSource::DefaultChain,
            assume_role: None,
            endpoint_url: None,
            sts_endpoint_url: None,
            os_tags: OsTagKeys::default(),
            page_size: 1000,
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_millis(3100),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

impl Ec2CatalogConfig {
    /// Starts from the defaults: the standard credential chain, no role, AWS's own
    /// endpoints, tags `os_family`/`os_release`, pages of 1000, 3 attempts.
    pub fn builder() -> Ec2CatalogConfigBuilder {
        Ec2CatalogConfigBuilder {
            config: Self::default(),
        }
    }

    /// The EC2 endpoint override, if any.
    #[must_use]
    pub fn endpoint_url(&self) -> Option<&str> {
        self.endpoint_url.as_deref()
    }

    /// The tags that state an AMI's OS.
    #[must_use]
    pub fn os_tags(&self) -> &OsTagKeys {
        &self.os_tags
    }
}

/// Builds an [`Ec2CatalogConfig`]; [`build`](Self::build) validates it.
#[derive(Debug, Clone)]
#[must_use]
pub struct Ec2CatalogConfigBuilder {
    config: Ec2CatalogConfig,
}

impl Ec2CatalogConfigBuilder {
    /// Where the base credentials come from (default: the standard chain).
    pub fn credentials(mut self, source: CredentialSource) -> Self {
        self.config.credentials = source;
        self
    }

    /// Makes every EC2 call as this role (Cloud Deploy's cross-account mode).
    pub fn assume_role(mut self, role: AssumeRole) -> Self {
        self.config.assume_role = Some(role);
        self
    }

    /// Sends EC2 calls to this URL instead of AWS's regional endpoint: a VPC endpoint, or
    /// a local stand-in in tests.
    pub fn endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.config.endpoint_url = Some(url.into());
        self
    }

    /// Sends the STS calls of [`assume_role`](Self::assume_role) to this URL.
    pub fn sts_endpoint_url(mut self, url: impl Into<String>) -> Self {
        self.config.sts_endpoint_url = Some(url.into());
        self
    }

    /// The tags that state an AMI's OS (default `os_family` and `os_release`).
    pub fn os_tags(mut self, keys: OsTagKeys) -> Self {
        self.config.os_tags = keys;
        self
    }

    /// How many AMIs to ask for per `DescribeImages` page (5 to 1000, default 1000).
    pub fn page_size(mut self, size: u32) -> Self {
        self.config.page_size = size;
        self
    }

    /// How many times a call is tried in all, retrying throttling, 5xx and network
    /// errors with exponential back-off (default 3).
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.config.max_attempts = attempts;
        self
    }

    /// The first retry's back-off, doubled on each further retry (default 1 s).
    pub fn initial_backoff(mut self, backoff: Duration) -> Self {
        self.config.initial_backoff = backoff;
        self
    }

    /// How long to wait for a connection (default 3.1 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config.connect_timeout = timeout;
        self
    }

    /// How long one attempt of a call may take (default 30 s).
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.config.attempt_timeout = timeout;
        self
    }

    /// Checks the settings.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first bad setting.
    pub fn build(self) -> Result<Ec2CatalogConfig> {
        let config = self.config;
        match &config.credentials {
            CredentialSource::Profile(name) if name.trim().is_empty() => {
                return Err(ConfigError::EmptyProfile);
            }
            CredentialSource::Static(keys) => {
                use secrecy::ExposeSecret;
                if keys.access_key_id.trim().is_empty() {
                    return Err(ConfigError::EmptyCredential {
                        which: "access key id",
                    });
                }
                if keys.secret_access_key.expose_secret().is_empty() {
                    return Err(ConfigError::EmptyCredential {
                        which: "secret access key",
                    });
                }
            }
            _ => {}
        }
        for (service, url) in [
            ("EC2", &config.endpoint_url),
            ("STS", &config.sts_endpoint_url),
        ] {
            if let Some(url) = url
                && !is_http_url(url)
            {
                return Err(ConfigError::EndpointUrl {
                    service,
                    input: url.clone(),
                });
            }
        }
        if config.os_tags.family.trim().is_empty() {
            return Err(ConfigError::TagKey { which: "family" });
        }
        if config.os_tags.release.trim().is_empty() {
            return Err(ConfigError::TagKey { which: "release" });
        }
        if !(5..=1000).contains(&config.page_size) {
            return Err(ConfigError::PageSize {
                value: config.page_size,
            });
        }
        if !(1..=10).contains(&config.max_attempts) {
            return Err(ConfigError::MaxAttempts {
                value: config.max_attempts,
            });
        }
        Ok(config)
    }
}

/// `http://host[:port][/path]` or `https://…`, with a non-empty host and no spaces.
fn is_http_url(url: &str) -> bool {
    let Some(rest) = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
    else {
        return false;
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host = authority
        .rsplit_once(':')
        .filter(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(authority, |(host, _)| host);
    !host.is_empty() && !url.contains(char::is_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_validated_and_spelled_per_partition() {
        let role = AssumeRole::new("123456789012", "lxpack-deployer").unwrap();
        assert_eq!(
            role.arn("eu-west-1"),
            "arn:aws:iam::123456789012:role/lxpack-deployer"
        );
        assert_eq!(
            role.arn("cn-north-1"),
            "arn:aws-cn:iam::123456789012:role/lxpack-deployer"
        );
        assert_eq!(
            role.arn("us-gov-west-1"),
            "arn:aws-us-gov:iam::123456789012:role/lxpack-deployer"
        );
        assert_eq!(role.session_name(), "lxpack");
        for bad in ["12345678901", "1234567890123", "12345678901a", ""] {
            assert_eq!(
                AssumeRole::new(bad, "r"),
                Err(ConfigError::AccountId { input: bad.into() })
            );
        }
        for bad in ["", "role/path", "arn:aws:iam::1:role/x", &"r".repeat(65)] {
            assert!(matches!(
                AssumeRole::new("123456789012", bad),
                Err(ConfigError::RoleName { .. })
            ));
        }
        assert!(role.clone().with_session_name("x").is_err());
        assert!(role.with_session_name("ci-job-42").is_ok());
    }

    #[test]
    fn endpoints_must_be_http_urls() {
        for good in [
            "http://127.0.0.1:5000",
            "https://vpce-0a1b.ec2.eu-west-1.vpce.amazonaws.com",
            "http://localhost:5000/",
        ] {
            assert!(
                Ec2CatalogConfig::builder()
                    .endpoint_url(good)
                    .build()
                    .is_ok(),
                "{good}"
            );
        }
        for bad in [
            "127.0.0.1:5000",
            "ftp://x",
            "http://",
            "http://:80",
            "http://a b",
        ] {
            assert_eq!(
                Ec2CatalogConfig::builder()
                    .sts_endpoint_url(bad)
                    .build()
                    .unwrap_err(),
                ConfigError::EndpointUrl {
                    service: "STS",
                    input: bad.into()
                },
                "{bad}"
            );
        }
    }

    #[test]
    fn numbers_are_bounded() {
        let error = Ec2CatalogConfig::builder()
            .page_size(4)
            .build()
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid page size 4: EC2 accepts 5 to 1000"
        );
        assert!(Ec2CatalogConfig::builder().page_size(5).build().is_ok());
        assert!(Ec2CatalogConfig::builder().max_attempts(0).build().is_err());
        let keys = OsTagKeys {
            family: " ".into(),
            release: "r".into(),
        };
        assert_eq!(
            Ec2CatalogConfig::builder()
                .os_tags(keys)
                .build()
                .unwrap_err(),
            ConfigError::TagKey { which: "family" }
        );
    }

    #[test]
    fn secrets_stay_out_of_debug_output() {
        let keys =
            StaticCredentials::new("AKIDEXAMPLE", SecretString::from("wJalrXUtnFEMI-K7MDENG"))
                .with_session_token(SecretString::from("FwoGZXIvYXdz-token"));
        let config = Ec2CatalogConfig::builder()
            .credentials(CredentialSource::Static(keys))
            .build()
            .unwrap();
        let debug = format!("{config:?}");
        assert!(debug.contains("AKIDEXAMPLE"), "{debug}");
        assert!(!debug.contains("wJalrXUtnFEMI"), "{debug}");
        assert!(!debug.contains("FwoGZXIvYXdz"), "{debug}");
        assert!(debug.contains("[redacted]"), "{debug}");
    }

    #[test]
    fn empty_credentials_are_refused() {
        let keys = StaticCredentials::new("AKID", SecretString::from(""));
        assert_eq!(
            Ec2CatalogConfig::builder()
                .credentials(CredentialSource::Static(keys))
                .build()
                .unwrap_err(),
            ConfigError::EmptyCredential {
                which: "secret access key"
            }
        );
        assert_eq!(
            Ec2CatalogConfig::builder()
                .credentials(CredentialSource::Profile(String::new()))
                .build()
                .unwrap_err(),
            ConfigError::EmptyProfile
        );
    }
}
