//! buildimage and retention with the EC2 AMI catalog, against moto's EC2 endpoint
//! (scripts/moto-up) and the real LXD: the OS comes from the AMI's tags, each image is
//! tied to its AMI twin, and the image of a deregistered AMI is purged.

use std::time::Duration;

use aws_sdk_ec2::config::{BehaviorVersion, Credentials, Region};

use crate::harness::{Env, ImageJanitor, Run, daemons, test_image_os, unique_env};

fn moto_url() -> Option<String> {
    if std::env::var("LXPACK_SKIP_REAL").as_deref() == Ok("1") {
        eprintln!("LXPACK_SKIP_REAL=1: moto test skipped on request");
        return None;
    }
    let url = std::env::var("LXPACK_TEST_MOTO_URL")
        .unwrap_or_else(|_| "http://127.0.0.1:5000".to_owned());
    let authority = url.trim_start_matches("http://").trim_end_matches('/');
    assert!(
        std::net::TcpStream::connect(authority).is_ok(),
        "moto does not answer at {url}; start it with `scripts/moto-up` (or set LXPACK_TEST_MOTO_URL), or set LXPACK_SKIP_REAL=1"
    );
    Some(url)
}

fn ec2(url: &str) -> aws_sdk_ec2::Client {
    // lxpack builds the SDK without its default HTTP client (docs/architecture.md):
    // this seeding client names the same ring-based one.
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(aws_smithy_http_client::tls::Provider::Rustls(
            aws_smithy_http_client::tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https();
    let config = aws_sdk_ec2::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(http)
        .endpoint_url(url)
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "test"))
        .build();
    aws_sdk_ec2::Client::from_conf(config)
}

async fn register(ec2: &aws_sdk_ec2::Client, name: &str, release: &str) -> String {
    let id = ec2
        .register_image()
        .name(name)
        .description("lxpack CLI test")
        .root_device_name("/dev/xvda")
        .architecture(aws_sdk_ec2::types::ArchitectureValues::from(
            std::env::consts::ARCH,
        ))
        .send()
        .await
        .unwrap()
        .image_id
        .unwrap();
    ec2.create_tags()
        .resources(&id)
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("os_family")
                .value("busybox")
                .build(),
        )
        .tags(
            aws_sdk_ec2::types::Tag::builder()
                .key("os_release")
                .value(release)
                .build(),
        )
        .send()
        .await
        .unwrap();
    id
}

fn run_with_aws(env: &Env, args: &[&str]) -> Run {
    let mut command = env.command();
    command
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .args(args);
    Run::from(command.output().unwrap())
}

fn listed(env: &Env) -> Vec<serde_json::Value> {
    let run = run_with_aws(env, &["--json", "images", "hello"]).expect(0);
    let listing: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    listing["images"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn buildimage_from_an_ami_and_purge_after_it_is_deregistered() {
    let Some(daemons) = daemons() else { return };
    let Some(url) = moto_url() else { return };
    let (_, client, socket) = &daemons[0];
    let release = test_image_os(client)
        .trim_start_matches("busybox/")
        .to_owned();
    let ec2 = ec2(&url);
    let app_env = unique_env();
    let janitor = ImageJanitor::new(client);
    let old = register(
        &ec2,
        &format!("ami.{app_env}.eu-west-1.web.hello.20261126-100000"),
        &release,
    )
    .await;
    let new = register(
        &ec2,
        &format!("ami.{app_env}.eu-west-1.web.hello.20261126-110000"),
        &release,
    )
    .await;
    // Another app's AMI: never listed as hello's.
    register(
        &ec2,
        &format!("ami.{app_env}.eu-west-1.web.hello2.20261126-100000"),
        &release,
    )
    .await;

    let env = Env::new(Some(socket));
    env.write_config(&format!(
        "container:\n  timeout: 30\nlxpack:\n  buildimage:\n    step_snapshots: false\n  runtime:\n    socket: {socket}\n  aws:\n    endpoint_url: {url}\n"
    ));
    env.import_example_as(&app_env);

    let mut jobs = Vec::new();
    for ami in [&old, &new] {
        let run = run_with_aws(&env, &["--json", "buildimage", "hello", "--ami", ami]).expect(0);
        let result: serde_json::Value =
            serde_json::from_str(run.stdout.lines().last().unwrap()).unwrap();
        jobs.push(result["job"].as_str().unwrap().to_owned());
        janitor.add(&jobs[jobs.len() - 1]);
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    let images = listed(&env);
    assert_eq!(images.len(), 2, "{images:?}");
    assert!(
        images.iter().all(|i| i["ami_status"] == "exists"),
        "{images:?}"
    );
    assert_eq!(images[1]["ami"], old.as_str());

    ec2.deregister_image().image_id(&old).send().await.unwrap();
    let images = listed(&env);
    assert_eq!(images[1]["ami_status"], "gone", "{images:?}");
    assert_eq!(images[0]["ami_status"], "exists", "{images:?}");

    let run = run_with_aws(&env, &["images", "purge", "hello"]).expect(0);
    assert!(run.stdout.contains("its AMI is gone"), "{}", run.stdout);
    let images = listed(&env);
    assert_eq!(images.len(), 1, "{images:?}");
    assert_eq!(images[0]["job"], jobs[1].as_str());

    run_with_aws(
        &env,
        &["buildimage", "hello", "--ami", "ami-0123456789abcdef0"],
    )
    .expect(10)
    .says(&["ami-0123456789abcdef0", "not found"]);

    // Without credentials: one clear exit-10 error, and none of the SDK's own log lines.
    let mut command = env.command();
    command
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY")
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env_remove("RUST_LOG")
        .args(["buildimage", "hello", "--ami", "ami-0123456789abcdef0"]);
    let run = Run::from(command.output().unwrap()).expect(10);
    assert!(
        !run.stderr
            .lines()
            .any(|line| line.contains("DEBUG") || line.contains(" WARN ")),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("hint:"), "{}", run.stderr);
    let run = run_with_aws(&env, &["doctor"]).expect(0);
    assert!(
        run.stdout.contains("ok    aws credentials"),
        "{}",
        run.stdout
    );

    for job in &jobs {
        let _ = std::process::Command::new(client)
            .args(["image", "delete", job])
            .output();
    }
}
