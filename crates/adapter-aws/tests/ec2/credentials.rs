//! Where credentials come from: the standard chain (run in a child process with a
//! controlled environment, so no test touches this process's environment or the
//! machine's instance metadata), profiles, fixed keys, and Cloud Deploy's cross-account
//! role.

use std::collections::BTreeSet;
use std::process::Command;

use aws_config::BehaviorVersion;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_ec2::config::{Credentials, Region};
use lxpack_aws::{AssumeRole, CredentialSource, Ec2AmiCatalog, Ec2CatalogConfig};
use lxpack_core::domain::AmiId;
use lxpack_core::ports::{AmiCatalog, AmiCatalogError};

use crate::helpers::{ACCESS_KEY, Moto, REGION, SECRET_KEY, moto_config, moto_or_skip};
use crate::stub::{Stub, StubImage, assume_role_reply, images_page, sts_error};

const ACCOUNT_B: &str = "111122223333";
const DEBIAN: &[(&str, &str)] = &[("os_family", "debian"), ("os_release", "12")];

/// An EC2 client on moto acting as `role` in account B, for seeding that account.
async fn ec2_as_role(url: &str, role: &str) -> aws_sdk_ec2::Client {
    let base = aws_config::defaults(BehaviorVersion::latest())
        .http_client(crate::helpers::http_client())
        .region(Region::new(REGION))
        .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "seed"))
        .endpoint_url(url)
        .load()
        .await;
    let provider = AssumeRoleProvider::builder(format!("arn:aws:iam::{ACCOUNT_B}:role/{role}"))
        .session_name("seed")
        .configure(&base)
        .build()
        .await;
    aws_sdk_ec2::Client::from_conf(
        aws_sdk_ec2::config::Builder::from(&base)
            .credentials_provider(provider)
            .build(),
    )
}

#[tokio::test]
async fn cross_account_mode_lists_the_other_accounts_amis() {
    let moto = moto_or_skip!();
    let web = moto.app("web", None);
    // One AMI in the caller's own account, one in account B.
    let own = moto.register(&Moto::ami_name(&web, 1), "", DEBIAN).await;
    let in_b = ec2_as_role(&moto.url, "deployer").await;
    let name_b = Moto::ami_name(&web, 2);
    let id_b = in_b
        .register_image()
        .name(&name_b)
        .root_device_name("/dev/xvda")
        .send()
        .await
        .unwrap()
        .image_id
        .unwrap();
    let id_b = AmiId::parse(&id_b).unwrap();
    in_b.create_tags()
        .resources(id_b.as_str())
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("os_family")
                .value("debian")
                .build(),
        )
        .send()
        .await
        .unwrap();

    let as_b = Ec2AmiCatalog::new(
        moto_config(&moto.url)
            .assume_role(AssumeRole::new(ACCOUNT_B, "deployer").unwrap())
            .build()
            .unwrap(),
    );
    let listed: BTreeSet<AmiId> = as_b
        .list_app_amis(&web)
        .await
        .unwrap()
        .into_iter()
        .map(|ami| ami.id)
        .collect();
    assert_eq!(listed, BTreeSet::from([id_b.clone()]));
    assert_eq!(as_b.describe_ami(REGION, &id_b).await.unwrap().name, name_b);

    let own_account: BTreeSet<AmiId> = moto
        .catalog()
        .list_app_amis(&web)
        .await
        .unwrap()
        .into_iter()
        .map(|ami| ami.id)
        .collect();
    assert_eq!(own_account, BTreeSet::from([own]));
}

#[tokio::test]
async fn the_assumed_role_signs_the_ec2_calls() {
    let stub = Stub::start(|request| match request.action() {
        "AssumeRole" => assume_role_reply("ASIASTUBROLEKEY", "stub-role-secret", "stub-role-token"),
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
    let role = AssumeRole::new(ACCOUNT_B, "deployer")
        .unwrap()
        .with_session_name("ci-job-42")
        .unwrap()
        .with_external_id("ext-42");
    let catalog = Ec2AmiCatalog::new(moto_config(&stub.url).assume_role(role).build().unwrap());
    let ami = AmiId::parse("ami-0123abcd").unwrap();
    catalog.describe_ami(REGION, &ami).await.unwrap();
    // The session is cached: a second call assumes nothing new.
    catalog.describe_ami(REGION, &ami).await.unwrap();

    let assume = stub.requests_for("AssumeRole");
    assert_eq!(assume.len(), 1);
    assert_eq!(
        assume[0].param("RoleArn"),
        Some("arn:aws:iam::111122223333:role/deployer")
    );
    assert_eq!(assume[0].param("RoleSessionName"), Some("ci-job-42"));
    assert_eq!(assume[0].param("ExternalId"), Some("ext-42"));
    let base_signature = &assume[0].headers["authorization"];
    assert!(
        base_signature.contains(&format!("Credential={ACCESS_KEY}/")),
        "{base_signature}"
    );
    assert!(
        base_signature.contains("/eu-west-1/sts/"),
        "{base_signature}"
    );

    let describe = stub.requests_for("DescribeImages");
    assert_eq!(describe.len(), 2);
    for request in describe {
        let signature = &request.headers["authorization"];
        assert!(
            signature.contains("Credential=ASIASTUBROLEKEY/"),
            "{signature}"
        );
        assert!(signature.contains("/eu-west-1/ec2/"), "{signature}");
        assert_eq!(request.headers["x-amz-security-token"], "stub-role-token");
    }
}

#[tokio::test]
async fn a_denied_role_points_at_its_trust_policy() {
    let stub = Stub::start(|_| {
        sts_error(
            403,
            "AccessDenied",
            "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: sts:AssumeRole",
        )
    })
    .await;
    let catalog = Ec2AmiCatalog::new(
        moto_config(&stub.url)
            .assume_role(AssumeRole::new(ACCOUNT_B, "deployer").unwrap())
            .build()
            .unwrap(),
    );
    let error = catalog
        .describe_ami(REGION, &AmiId::parse("ami-0123abcd").unwrap())
        .await
        .unwrap_err();
    let AmiCatalogError::AccessDenied { message } = &error else {
        panic!("{error:?}")
    };
    assert!(
        message.contains("not authorized to perform: sts:AssumeRole"),
        "{message}"
    );
    assert!(
        message.contains("may not assume arn:aws:iam::111122223333:role/deployer"),
        "{message}"
    );
    assert!(stub.requests_for("DescribeImages").is_empty());
}

// ---- the standard chain, in a child process ----

const CHILD_MODE: &str = "LXPACK_AWS_TEST_CHILD";
const CHILD_ENDPOINT: &str = "LXPACK_AWS_TEST_ENDPOINT";

/// Runs the test `name` of this binary again, in a child process whose environment is
/// only `env` (`$HOME` replaced by a fresh home directory holding `files`), and checks
/// that it passed.
async fn run_child(
    name: &str,
    mode: &str,
    endpoint: &str,
    env: &[(&str, &str)],
    files: &[(&str, &str)],
) {
    let home = std::env::temp_dir().join(format!(
        "lxpack-aws-child-{}",
        crate::helpers::unique_token()
    ));
    std::fs::create_dir_all(home.join(".aws")).unwrap();
    for (path, content) in files {
        std::fs::write(home.join(path), content).unwrap();
    }
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env_clear()
        .env("HOME", &home)
        .env("AWS_CONFIG_FILE", home.join(".aws/config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join(".aws/credentials"))
        // The chain's last resort is instance metadata, which is not on loopback: off.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env(CHILD_MODE, mode)
        .env(CHILD_ENDPOINT, endpoint);
    for (key, value) in env {
        command.env(key, value);
    }
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&home);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "child {name} ({mode}) failed:\n{stdout}\n{stderr}"
    );
}

fn child_mode() -> Option<(String, String)> {
    let mode = std::env::var(CHILD_MODE).ok()?;
    Some((mode, std::env::var(CHILD_ENDPOINT).unwrap()))
}

fn image_reply() -> crate::stub::Reply {
    images_page(
        &[StubImage::debian(
            "ami-0123abcd",
            "debian-12-amd64-20240201-1644",
            "2024-02-01T16:44:00.000Z",
        )],
        None,
    )
}

#[tokio::test]
async fn no_credentials_anywhere_is_missing_credentials() {
    if let Some((mode, endpoint)) = child_mode() {
        assert_eq!(mode, "missing");
        let catalog = Ec2AmiCatalog::new(
            Ec2CatalogConfig::builder()
                .credentials(CredentialSource::DefaultChain)
                .endpoint_url(endpoint)
                .max_attempts(1)
                .build()
                .unwrap(),
        );
        let error = catalog
            .describe_ami(REGION, &AmiId::parse("ami-0123abcd").unwrap())
            .await
            .unwrap_err();
        let AmiCatalogError::MissingCredentials { hint } = &error else {
            panic!("{error:?}")
        };
        assert!(hint.contains("AWS_ACCESS_KEY_ID"), "{hint}");
        assert_eq!(error.to_string(), "no AWS credentials were found");
        return;
    }
    let stub = Stub::start(|_| image_reply()).await;
    run_child(
        "credentials::no_credentials_anywhere_is_missing_credentials",
        "missing",
        &stub.url,
        &[],
        &[],
    )
    .await;
    assert!(
        stub.requests().is_empty(),
        "no request may leave without credentials"
    );
}

#[tokio::test]
async fn the_standard_chain_reads_environment_and_profiles() {
    if let Some((mode, endpoint)) = child_mode() {
        let source = match mode.as_str() {
            "environment" => CredentialSource::DefaultChain,
            "profile" => CredentialSource::Profile("ci".into()),
            other => panic!("unknown mode {other}"),
        };
        let catalog = Ec2AmiCatalog::new(
            Ec2CatalogConfig::builder()
                .credentials(source)
                .endpoint_url(endpoint)
                .max_attempts(1)
                .build()
                .unwrap(),
        );
        let ami = catalog
            .describe_ami(REGION, &AmiId::parse("ami-0123abcd").unwrap())
            .await
            .unwrap();
        assert_eq!(ami.os.family, "debian");
        return;
    }
    let name = "credentials::the_standard_chain_reads_environment_and_profiles";

    let stub = Stub::start(|_| image_reply()).await;
    run_child(
        name,
        "environment",
        &stub.url,
        &[
            ("AWS_ACCESS_KEY_ID", "AKIAFROMENVIRONMENT"),
            ("AWS_SECRET_ACCESS_KEY", "secret-from-environment"),
        ],
        &[],
    )
    .await;
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].headers["authorization"].contains("Credential=AKIAFROMENVIRONMENT/"));

    let stub = Stub::start(|_| image_reply()).await;
    run_child(
        name,
        "profile",
        &stub.url,
        &[],
        &[
            (
                ".aws/credentials",
                "[default]\naws_access_key_id = AKIANOTTHISONE\naws_secret_access_key = x\n\n\
                 [ci]\naws_access_key_id = AKIAFROMPROFILE\naws_secret_access_key = secret-from-profile\n",
            ),
            (".aws/config", "[profile ci]\nregion = us-east-1\n"),
        ],
    )
    .await;
    let requests = stub.requests();
    assert_eq!(requests.len(), 1);
    assert!(requests[0].headers["authorization"].contains("Credential=AKIAFROMPROFILE/"));
}
