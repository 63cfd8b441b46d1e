//! Secrets never reach a log line: every event of lxpack and of the SDK, at the most
//! verbose level, is captured while a call is made with a session token and a role
//! assumed, and searched for the secret parts.

use std::io::Write;
use std::sync::{Arc, Mutex};

use lxpack_aws::{AssumeRole, CredentialSource, Ec2AmiCatalog, SecretString, StaticCredentials};
use lxpack_core::domain::AmiId;
use lxpack_core::ports::AmiCatalog;

use crate::helpers::{REGION, moto_config};
use crate::stub::{Stub, StubImage, assume_role_reply, images_page};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

const BASE_SECRET: &str = "BaseSecretKey0000000000000000000000000000";
const BASE_TOKEN: &str = "BaseSessionToken000000000000000000000000";
const ROLE_SECRET: &str = "RoleSecretKey0000000000000000000000000000";
const ROLE_TOKEN: &str = "RoleSessionToken000000000000000000000000";

#[tokio::test]
async fn no_secret_reaches_the_logs() {
    let stub = Stub::start(|request| match request.action() {
        "AssumeRole" => assume_role_reply("ASIAROLEKEY", ROLE_SECRET, ROLE_TOKEN),
        _ => images_page(
            &[StubImage::debian(
                "ami-0123abcd",
                "debian-12-amd64-20240201-1644",
                "2024-02-01T16:44:00.000Z",
            )],
            None,
        ),
    })
    .await;
    let keys = StaticCredentials::new("AKIABASEKEY", SecretString::from(BASE_SECRET))
        .with_session_token(SecretString::from(BASE_TOKEN));
    let catalog = Ec2AmiCatalog::new(
        moto_config(&stub.url)
            .credentials(CredentialSource::Static(keys))
            .assume_role(AssumeRole::new("111122223333", "deployer").unwrap())
            .build()
            .unwrap(),
    );

    let captured = Captured::default();
    let writer = captured.clone();
    // Everything at TRACE, with the directives lxpack-aws asks every subscriber to add
    // (the CLI adds them): aws-sigv4 traces the canonical request, token included.
    let mut filter = tracing_subscriber::EnvFilter::new("trace");
    for directive in lxpack_aws::SECRET_SAFE_LOG_DIRECTIVES {
        filter = filter.add_directive(directive.parse().unwrap());
    }
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let ami = catalog
        .describe_ami(REGION, &AmiId::parse("ami-0123abcd").unwrap())
        .await
        .unwrap();
    tracing::debug!(?catalog, ?ami, "after the call");
    drop(guard);

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("describe_ami"), "the capture works: {logs}");
    assert!(
        logs.contains("AssumeRole"),
        "the SDK's own events are captured: {logs}"
    );
    for secret in [BASE_SECRET, BASE_TOKEN, ROLE_SECRET, ROLE_TOKEN] {
        assert!(!logs.contains(secret), "{secret} was logged:\n{logs}");
    }
}
