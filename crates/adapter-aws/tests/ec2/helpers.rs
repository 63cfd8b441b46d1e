//! Reaching moto, seeding it through the EC2 API, and building catalogs that talk to it.

use std::time::Duration;

use aws_config::BehaviorVersion;
use aws_sdk_ec2::config::{Credentials, Region};
use aws_sdk_ec2::types::{Filter, Tag};
use lxpack_aws::{
    CredentialSource, Ec2AmiCatalog, Ec2CatalogConfig, Ec2CatalogConfigBuilder, SecretString,
    StaticCredentials,
};
use lxpack_core::domain::{AmiId, App, AppKey, Color};

/// The region every moto test works in.
pub(crate) const REGION: &str = "eu-west-1";

/// Dummy keys: moto accepts any.
pub(crate) const ACCESS_KEY: &str = "AKIAMOTOTESTKEY00001";
pub(crate) const SECRET_KEY: &str = "moto-test-secret-key";

/// Where moto listens.
pub(crate) fn moto_url() -> String {
    std::env::var("LXPACK_TEST_MOTO_URL").unwrap_or_else(|_| "http://127.0.0.1:5000".to_owned())
}

/// `host:port` of a loopback `http://` URL; anything else is refused, so that a test
/// can never send traffic off this machine.
pub(crate) fn loopback_authority(url: &str) -> String {
    let rest = url
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("LXPACK_TEST_MOTO_URL must be http://127.0.0.1:PORT, not {url}"));
    let authority = rest.split('/').next().unwrap();
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    assert!(
        host == "localhost" || host.starts_with("127.") || host == "[::1]",
        "LXPACK_TEST_MOTO_URL must point at loopback (127.0.0.1, localhost or [::1]), not {url}"
    );
    authority.to_owned()
}

/// Moto, ready for a test; `None`, after a notice, when LXPACK_SKIP_REAL=1.
///
/// # Panics
/// When moto does not answer, with how to start it.
pub(crate) async fn moto() -> Option<Moto> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: skipping a test that needs moto");
        return None;
    }
    let url = moto_url();
    let authority = loopback_authority(&url);
    let connected = tokio::time::timeout(
        Duration::from_secs(3),
        tokio::net::TcpStream::connect(&authority),
    )
    .await;
    if !matches!(connected, Ok(Ok(_))) {
        panic!(
            "moto is not answering on {url}: start it with `scripts/moto-up` (it prints the \
             URL; LXPACK_MOTO_PORT picks the port), or point LXPACK_TEST_MOTO_URL at a running \
             moto_server on loopback, or set LXPACK_SKIP_REAL=1 to skip the moto tests explicitly"
        );
    }
    Some(Moto::new(url).await)
}

/// Starts a moto test, or returns from it when LXPACK_SKIP_REAL=1.
macro_rules! moto_or_skip {
    () => {
        match $crate::helpers::moto().await {
            Some(moto) => moto,
            None => return,
        }
    };
}
pub(crate) use moto_or_skip;

/// A random word that keeps one test's AMIs apart from every other's.
pub(crate) fn unique_token() -> String {
    format!("t{:010x}", fastrand::u64(..) & 0xff_ffff_ffff)
}

/// A Cloud Deploy AMI timestamp, `2024MMDD-HHMMSS`, growing with `n`.
pub(crate) fn stamp(n: u32) -> String {
    format!("2024{:02}{:02}-{:06}", 1 + n / 28 % 12, 1 + n % 28, n)
}

/// An app called `name` in environment `env`, role `webfront`, in [`REGION`].
pub(crate) fn app(env: &str, name: &str, color: Option<Color>) -> App {
    let app = App::new(AppKey::new(name, env, "webfront"), REGION);
    match color {
        Some(color) => app.with_color(color),
        None => app,
    }
}

/// The catalog's settings for moto: dummy keys, moto for EC2 and STS, quick retries.
pub(crate) fn moto_config(url: &str) -> Ec2CatalogConfigBuilder {
    Ec2CatalogConfig::builder()
        .credentials(CredentialSource::Static(StaticCredentials::new(
            ACCESS_KEY,
            SecretString::from(SECRET_KEY),
        )))
        .endpoint_url(url)
        .sts_endpoint_url(url)
        .max_attempts(2)
        .initial_backoff(Duration::from_millis(20))
}

/// The SDK's HTTP client for the tests' own seeding clients, on ring as lxpack's own
/// (the SDK's default client is not built: docs/architecture.md).
pub(crate) fn http_client() -> aws_sdk_ec2::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
}

/// An EC2 client on moto, signed with `credentials`.
pub(crate) async fn ec2_client(url: &str, credentials: Credentials) -> aws_sdk_ec2::Client {
    let config = aws_config::defaults(BehaviorVersion::latest())
        .http_client(http_client())
        .region(Region::new(REGION))
        .credentials_provider(credentials)
        .endpoint_url(url)
        .load()
        .await;
    aws_sdk_ec2::Client::new(&config)
}

/// Moto, with a seeding client and this test's token.
pub(crate) struct Moto {
    pub(crate) url: String,
    pub(crate) ec2: aws_sdk_ec2::Client,
    /// The test's own environment name: its apps' AMI names all contain it.
    pub(crate) env: String,
}

impl Moto {
    async fn new(url: String) -> Self {
        let ec2 = ec2_client(
            &url,
            Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "moto-test"),
        )
        .await;
        Self {
            url,
            ec2,
            env: unique_token(),
        }
    }

    /// A catalog on moto with default settings otherwise.
    pub(crate) fn catalog(&self) -> Ec2AmiCatalog {
        Ec2AmiCatalog::new(moto_config(&self.url).build().unwrap())
    }

    /// One of this test's apps.
    pub(crate) fn app(&self, name: &str, color: Option<Color>) -> App {
        app(&self.env, name, color)
    }

    /// The name of `app`'s AMI number `n`.
    pub(crate) fn ami_name(app: &App, n: u32) -> String {
        format!("{}{}", app.ami_name_prefix(), stamp(n))
    }

    /// Registers an AMI (RegisterImage) and tags it.
    pub(crate) async fn register(
        &self,
        name: &str,
        description: &str,
        tags: &[(&str, &str)],
    ) -> AmiId {
        let id = self
            .ec2
            .register_image()
            .name(name)
            .description(description)
            .root_device_name("/dev/xvda")
            .send()
            .await
            .unwrap_or_else(|e| panic!("RegisterImage {name}: {e:?}"))
            .image_id
            .unwrap();
        self.tag(&id, tags).await;
        AmiId::parse(&id).unwrap()
    }

    /// Builds an AMI the way Packer does (RunInstances from a public AMI, then
    /// CreateImage), so that it inherits the source's architecture and platform.
    pub(crate) async fn create_from(
        &self,
        source: &AmiId,
        name: &str,
        description: &str,
        tags: &[(&str, &str)],
    ) -> AmiId {
        let instance = self
            .ec2
            .run_instances()
            .image_id(source.as_str())
            .min_count(1)
            .max_count(1)
            .send()
            .await
            .unwrap_or_else(|e| panic!("RunInstances {source}: {e:?}"))
            .instances()[0]
            .instance_id()
            .unwrap()
            .to_owned();
        let id = self
            .ec2
            .create_image()
            .instance_id(&instance)
            .name(name)
            .description(description)
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateImage {name}: {e:?}"))
            .image_id
            .unwrap();
        self.ec2
            .terminate_instances()
            .instance_ids(&instance)
            .send()
            .await
            .unwrap();
        self.tag(&id, tags).await;
        AmiId::parse(&id).unwrap()
    }

    async fn tag(&self, id: &str, tags: &[(&str, &str)]) {
        if tags.is_empty() {
            return;
        }
        let mut request = self.ec2.create_tags().resources(id);
        for (key, value) in tags {
            request = request.tags(Tag::builder().key(*key).value(*value).build());
        }
        request.send().await.unwrap();
    }

    /// Deregisters an AMI.
    pub(crate) async fn deregister(&self, id: &AmiId) {
        self.ec2
            .deregister_image()
            .image_id(id.as_str())
            .send()
            .await
            .unwrap();
    }

    /// The public (Amazon-owned) AMI moto ships under this name.
    pub(crate) async fn public_ami(&self, name: &str) -> AmiId {
        let output = self
            .ec2
            .describe_images()
            .owners("amazon")
            .filters(Filter::builder().name("name").values(name).build())
            .send()
            .await
            .unwrap();
        let id = output
            .images()
            .first()
            .and_then(|image| image.image_id())
            .unwrap_or_else(|| panic!("moto ships no public AMI named {name}"));
        AmiId::parse(id).unwrap()
    }
}
