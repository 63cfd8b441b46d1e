//! Building an EC2 client for one region from the catalog's settings. Apps live in
//! different regions, so there is one client per region, each with its own credential
//! chain (whose web-identity, SSO and STS calls then go to that region too) and, in
//! cross-account mode, its own assumed-role session.

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_ec2::config::retry::RetryConfig;
use aws_sdk_ec2::config::timeout::TimeoutConfig;
use aws_sdk_ec2::config::{Credentials, Region, SharedCredentialsProvider, SharedHttpClient};
use aws_smithy_http_client::tls::{Provider, rustls_provider::CryptoMode};
use secrecy::ExposeSecret;

use crate::config::{CredentialSource, Ec2CatalogConfig};

/// The SDK behaviour lxpack was written and tested against (retries on, a 3.1 s connect
/// timeout); pinned so that an SDK upgrade does not change it silently.
fn behavior_version() -> BehaviorVersion {
    BehaviorVersion::v2026_01_12()
}

/// The HTTPS client of every SDK call (EC2, STS, SSO, instance metadata): hyper with
/// rustls on ring, the crypto backend the LXD adapter uses too, so the binary builds one
/// (aws-lc-sys, the SDK's default, needs cmake and takes minutes to compile). The
/// trusted roots are the system's, loaded when the SDK first uses the client.
pub(crate) fn https_client() -> SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// An EC2 client for `region`. No call is made here: credentials are resolved, and the
/// role assumed, on the first request (and refreshed before they expire).
pub(crate) async fn ec2_client(config: &Ec2CatalogConfig, region: &str) -> aws_sdk_ec2::Client {
    let retry = RetryConfig::standard()
        .with_max_attempts(config.max_attempts)
        .with_initial_backoff(config.initial_backoff);
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(config.connect_timeout)
        .operation_attempt_timeout(config.attempt_timeout)
        .build();
    let mut loader = aws_config::defaults(behavior_version())
        .region(Region::new(region.to_owned()))
        .http_client(https_client())
        .retry_config(retry)
        .timeout_config(timeouts);
    match &config.credentials {
        CredentialSource::DefaultChain => {}
        CredentialSource::Profile(name) => loader = loader.profile_name(name),
        CredentialSource::Static(keys) => {
            loader = loader.credentials_provider(Credentials::new(
                keys.access_key_id.clone(),
                keys.secret_access_key.expose_secret().to_owned(),
                keys.session_token
                    .as_ref()
                    .map(|token| token.expose_secret().to_owned()),
                None,
                "lxpack-static",
            ));
        }
    }
    let base = loader.load().await;

    let mut ec2 = aws_sdk_ec2::config::Builder::from(&base);
    if let Some(role) = &config.assume_role {
        let mut sts = base.to_builder();
        if let Some(url) = &config.sts_endpoint_url {
            sts = sts.endpoint_url(url);
        }
        let mut builder = AssumeRoleProvider::builder(role.arn(region))
            .session_name(role.session_name())
            .region(Region::new(region.to_owned()))
            .configure(&sts.build());
        if let Some(id) = role.external_id() {
            builder = builder.external_id(id);
        }
        let provider = match base.credentials_provider() {
            Some(base_credentials) => builder.build_from_provider(base_credentials).await,
            None => builder.build().await,
        };
        ec2 = ec2.credentials_provider(SharedCredentialsProvider::new(provider));
    }
    if let Some(url) = &config.endpoint_url {
        ec2 = ec2.endpoint_url(url);
    }
    aws_sdk_ec2::Client::from_conf(ec2.build())
}
