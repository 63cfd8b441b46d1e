//! Secrets on each real daemon: a buildpack that prints a secret alone, inside a line,
//! to stderr and cut across writes shows it in no event, error or job record; a
//! buildimage whose hooks read a secret (from the environment, and from a file on the
//! tmpfs of files delivery) publishes an image that does not contain it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use lxpack_core::domain::{
    App, AppKey, BuildInfos, GuestPath, ImageAlias, ImageSelector, JobStatus, LifecycleHooks,
    Module, OutputStream, Owner, Script, SecretRule,
};
use lxpack_core::events::{Event, Step};
use lxpack_core::ports::{Compression, ImageRegistry};
use lxpack_core::workflows::{
    BuildImageRequest, Checkout, DeployRequest, SecretDelivery, SecretSettings, Settings,
    WorkflowError, Workflows, error_chain,
};
use lxpack_fake::{FakeAppStore, RecordingEvents};
use lxpack_lxd::LxdClient;
use tokio_util::sync::CancellationToken;

use crate::helpers::{TEST_IMAGE, daemons};

const SECRET: &str = "Zq8-real-s3cret-value";
const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

/// Prints the secret in `$v` the four ways, the last cut across two writes of each
/// stream.
const LEAKY: &str = r#"echo "$v"
echo "connecting with password=$v now"
echo "error: $v" >&2
printf 'split %s' "${v%%-*}"; sleep 0.3; printf '%s end\n' "-${v#*-}"
printf '%s' "${v%%-*}" >&2; sleep 0.3; printf '%s\n' "-${v#*-}" >&2
"#;

fn app(name: &str, delivery: SecretDelivery) -> App {
    let read = match delivery {
        SecretDelivery::Files => "v=$(cat \"$DB_PASSWORD_FILE\")\n",
        _ => "v=\"$DB_PASSWORD\"\n",
    };
    // The hook reads the secret and leaves its length in the image: proof that it had
    // the value, and that the image is searched where the hook wrote.
    let pre = format!(
        "#!/bin/sh\n{read}{LEAKY}echo \"secret-length-${{#v}}\" > /etc/lxpack-secret-length\n"
    );
    let build_pack = format!("#!/bin/sh\n{read}{LEAKY}exit 3\n");
    App::new(AppKey::new(name, "test", "secrets"), "eu-west-1")
        .with_env_var("DB_PASSWORD", SECRET)
        .with_hooks(LifecycleHooks {
            pre_buildimage: Some(Script::new(pre.into_bytes())),
            post_buildimage: None,
        })
        .with_module(
            Module::new("api", GuestPath::parse("/srv/api").unwrap())
                .with_build_pack(Script::new(build_pack.into_bytes())),
        )
        .with_build_infos(BuildInfos {
            source_container_image: Some(ImageSelector::Alias(
                ImageAlias::parse(TEST_IMAGE).unwrap(),
            )),
            ..BuildInfos::default()
        })
}

fn workflows(
    daemon: &str,
    client: &LxdClient,
    store: &FakeAppStore,
    app: &AppKey,
    delivery: SecretDelivery,
) -> Workflows {
    let settings = Settings {
        // Uncompressed, so the exported image can be searched as it is.
        compression: Compression::None,
        secrets: SecretSettings {
            patterns: Vec::new(),
            apps: BTreeMap::from([(
                app.clone(),
                SecretRule {
                    names: vec!["DB_PASSWORD".into()],
                    patterns: Vec::new(),
                },
            )]),
            delivery,
        },
        ..crate::helpers::settings_for(daemon)
    };
    crate::helpers::workflows_on(client, store, settings)
}

fn assert_hidden(daemon: &str, what: &str, text: &str) {
    assert!(
        !text.contains(SECRET),
        "{daemon}: the secret shows in {what}: {text}"
    );
}

/// Every event's text, output decoded.
fn everything(events: &RecordingEvents) -> String {
    events
        .events()
        .iter()
        .map(|event| match event {
            Event::Output { bytes, .. } => String::from_utf8_lossy(bytes).into_owned(),
            other => format!("{other:?}"),
        })
        .collect()
}

/// A fresh, empty directory of this test process.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lxpack-secrets-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The image exported by the daemon's own client, as one file's bytes.
fn exported(daemon: &str, fingerprint: &str, dir: &Path) -> Vec<u8> {
    let client = if daemon == "lxd" { "lxc" } else { "incus" };
    let target = dir.join("image");
    let output = std::process::Command::new(client)
        .args(["image", "export", fingerprint])
        .arg(&target)
        .output()
        .unwrap();
    assert!(output.status.success(), "{daemon}: export: {output:?}");
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        bytes.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    bytes
}

async fn run_on(daemon: &str, client: LxdClient, delivery: SecretDelivery) {
    let store = FakeAppStore::new();
    let app = app(&format!("sec-{daemon}-{delivery}"), delivery);
    store.insert_app(app.clone());
    let workflows = workflows(daemon, &client, &store, &app.key, delivery);
    let (events, cancel) = (RecordingEvents::new(), CancellationToken::new());
    let build_job = workflows.new_job_id();
    let build = workflows
        .build_image(
            &BuildImageRequest::new(app.key.clone(), build_job.clone()),
            &events,
            &cancel,
        )
        .await
        .unwrap_or_else(|e| panic!("{daemon} {delivery}: buildimage failed: {e:?}"));
    let hook =
        String::from_utf8(events.output(Step::PreBuildImageHook, OutputStream::Stdout)).unwrap();
    let hook_err =
        String::from_utf8(events.output(Step::PreBuildImageHook, OutputStream::Stderr)).unwrap();
    let dir = scratch(&format!("image-{daemon}-{delivery}"));
    let image = exported(daemon, build.image.fingerprint.as_str(), &dir);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        hook, "***\nconnecting with password=*** now\nsplit *** end\n",
        "{daemon} {delivery}"
    );
    assert_eq!(hook_err, "error: ***\n***\n", "{daemon} {delivery}");
    let marker = format!("secret-length-{}", SECRET.len());
    assert!(
        image.windows(marker.len()).any(|w| w == marker.as_bytes()),
        "{daemon} {delivery}: the hook's marker is not in the image: the search proves nothing"
    );
    assert!(
        !image.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
        "{daemon} {delivery}: the published image contains the secret"
    );

    let checkout = scratch(&format!("checkout-{daemon}-{delivery}"));
    std::os::unix::fs::chown(&checkout, Some(OWNER.uid), Some(OWNER.gid)).unwrap();
    let deploy_job = workflows.new_job_id();
    let error = workflows
        .deploy(
            &DeployRequest::new(
                app.key.clone(),
                "api",
                deploy_job.clone(),
                Checkout {
                    path: checkout.clone(),
                    owner: OWNER,
                },
            ),
            &events,
            &cancel,
        )
        .await;
    let _ = client.delete_image(&build.image.fingerprint).await;
    let _ = std::fs::remove_dir_all(&checkout);
    let error = error.expect_err("the buildpack exits 3");
    assert!(
        matches!(error, WorkflowError::CommandFailed { exit_code: 3, .. }),
        "{daemon} {delivery}: {error:?}"
    );
    let chain = error_chain(&error);
    assert!(
        chain.contains("password=*** now"),
        "{daemon} {delivery}: {chain}"
    );
    assert_hidden(daemon, "the error", &chain);
    assert_hidden(daemon, "the error's Debug", &format!("{error:?}"));
    assert_hidden(daemon, "the events", &everything(&events));
    let record = store.job(&deploy_job).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_hidden(daemon, "the job record", &format!("{record:?}"));
    let out = String::from_utf8(events.output(Step::Buildpack, OutputStream::Stdout)).unwrap();
    assert_eq!(
        out, "***\nconnecting with password=*** now\nsplit *** end\n",
        "{daemon} {delivery}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_show_nowhere_and_stay_out_of_images_on_lxd_and_incus() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        for delivery in [SecretDelivery::Env, SecretDelivery::Files] {
            run_on(name, client.clone(), delivery).await;
        }
    }
}
