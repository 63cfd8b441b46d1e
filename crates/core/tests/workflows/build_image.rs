//! buildimage end to end on the fakes.

use lxpack_core::domain::{ImageAlias, ImageRef, ImageSelector, Isolation, property};
use lxpack_core::events::Step;
use lxpack_core::ports::Compression;
use lxpack_core::workflows::{RecordOutcome, WorkflowError};
use lxpack_fake::{RegistryCall, RuntimeCall};

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn builds_publishes_records_and_cleans_up() {
    let world = World::new();
    let job = job(1_700_000_100);
    let report = world.build(&job).await.unwrap();

    // Published under the job id, with properties that identify it.
    let image = world.registry.image(&ImageAlias::for_job(&job)).unwrap();
    assert_eq!(report.image.fingerprint, image.fingerprint);
    let prop = |k: &str| image.properties.get(k).cloned().unwrap_or_default();
    assert_eq!(prop(property::APP), "web");
    assert_eq!(prop(property::ENV), "prod");
    assert_eq!(prop(property::ROLE), "webfront");
    assert_eq!(prop(property::COLOR), "");
    assert_eq!(prop(property::JOB), job.as_str());
    assert_eq!(prop(property::AMI), ami_id(1).as_str());
    assert_eq!(prop(property::OS), "debian");
    assert_eq!(prop(property::RELEASE), "12");
    // Recorded on the app, then everything removed.
    assert_eq!(world.app().build_infos.container_image, Some(job.clone()));
    assert_eq!(report.record, RecordOutcome::Recorded { replaced: None });
    assert_eq!(
        report.source,
        ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(BASE_ALIAS).unwrap()))
    );
    assert!(!report.kept_resources);
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn runs_hooks_and_features_in_order_with_the_ghost_environment() {
    let world = World::new();
    world.build(&job(1_700_000_100)).await.unwrap();
    type Env = Vec<(String, String)>;
    let execs: Vec<(Vec<String>, Env)> = world
        .runtime
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            RuntimeCall::Exec { command, env, .. } => Some((command, env)),
            _ => None,
        })
        .collect();
    let commands: Vec<String> = execs.iter().map(|(c, _)| c.join(" ")).collect();
    assert_eq!(
        commands,
        [
            "true",
            "sh /tmp/lxpack-pre_buildimage",
            r#"salt-call state.apply nginx --file-root=/srv/salt/salt --pillar-root=/srv/salt/pillar --local -l info pillar={"nginx":{"version":"1.24"}}"#,
            "sh /tmp/lxpack-post_buildimage",
            "rm -f /tmp/lxpack-pre_buildimage /tmp/lxpack-post_buildimage",
        ]
    );
    let expected_env: Vec<(String, String)> = [
        ("GHOST_APP", "web"),
        ("GHOST_ENV", "prod"),
        ("GHOST_ENV_COLOR", ""),
        ("GHOST_ROLE", "webfront"),
        ("DB", "postgres"),
        ("EMPTY", ""),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    for (command, env) in &execs[1..4] {
        assert_eq!(env, &expected_env, "{command:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn the_profile_mounts_formulas_read_only_and_the_instance_is_unprivileged() {
    let world = World::new();
    world.build(&job(1_700_000_100)).await.unwrap();
    let calls = world.runtime.calls();
    let profile = world.created_profile();
    assert_eq!(profile.mounts.len(), 1);
    let mount = &profile.mounts[0];
    assert_eq!(mount.target.as_str(), "/srv/salt");
    assert_eq!(mount.source.to_string(), "/srv/formulas/salt");
    assert!(mount.read_only);
    let spec = calls
        .iter()
        .find_map(|c| match c {
            RuntimeCall::LaunchInstance { spec } => Some(spec.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(spec.isolation, Isolation::Unprivileged);
    assert_eq!(spec.profile.as_ref(), Some(&profile.name));
    assert_eq!(
        spec.labels.as_ref().map(|labels| labels.job.clone()),
        Some(job(1_700_000_100))
    );
    assert_eq!(
        spec.labels, profile.labels,
        "the profile carries the same labels"
    );
    assert!(
        !spec.ephemeral,
        "a buildimage container must survive its stop to be published"
    );
}

#[tokio::test(start_paused = true)]
async fn stops_before_publishing_with_zstd_and_records_only_after() {
    let world = World::new();
    world.build(&job(1_700_000_100)).await.unwrap();
    let order: Vec<String> = world
        .runtime
        .daemon_calls()
        .into_iter()
        .filter_map(|call| match call {
            lxpack_fake::DaemonCall::Runtime(RuntimeCall::StopInstance { graceful, .. }) => {
                assert_eq!(graceful, None);
                Some("stop".to_owned())
            }
            lxpack_fake::DaemonCall::Registry(RegistryCall::PublishImage { request }) => {
                assert_eq!(request.compression, Compression::Zstd);
                Some("publish".to_owned())
            }
            lxpack_fake::DaemonCall::Runtime(RuntimeCall::DeleteInstance { .. }) => {
                Some("delete".to_owned())
            }
            _ => None,
        })
        .collect();
    assert_eq!(order, ["stop", "publish", "delete"]);
    let steps = world.steps();
    let position = |s: Step| steps.iter().position(|x| *x == s).unwrap();
    assert!(position(Step::Publish) < position(Step::RecordImage));
}

#[tokio::test(start_paused = true)]
async fn the_apps_explicit_source_image_wins_and_is_pulled_from_the_endpoint() {
    let mut settings = settings();
    settings.source_server = Some(lxpack_core::domain::RemoteServer {
        url: "https://images.example.com:8443".into(),
        protocol: lxpack_core::domain::RemoteProtocol::Lxd,
    });
    let world = World::with(settings, true);
    let remote = lxpack_fake::ImageBuilder::new("remote")
        .os("debian", "12")
        .build();
    world
        .runtime
        .add_remote_image("https://images.example.com:8443", remote.clone());
    let mut app = web_app();
    app.build_infos.source_container_image =
        Some(ImageSelector::Fingerprint(remote.fingerprint.to_string()));
    world.store.insert_app(app);
    let report = world.build(&job(1_700_000_100)).await;
    let source = match &report {
        Ok(report) => report.source.clone(),
        Err(error) => panic!("{error}"),
    };
    assert!(
        matches!(source, ImageRef::Remote { ref server, .. } if server.url == "https://images.example.com:8443")
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_matching_base_image_the_error_lists_the_candidates() {
    let world = World::new();
    world.catalog.insert_ami(
        REGION,
        lxpack_fake::FakeAmiCatalog::app_ami(
            &web_app(),
            ami_id(1),
            std::time::SystemTime::UNIX_EPOCH,
            lxpack_core::domain::OsIdentity::new(
                lxpack_core::domain::OsType::Linux,
                "ubuntu",
                "22.04",
                "x86_64",
            ),
        ),
    );
    let error = world.build(&job(1_700_000_100)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::NoMatchingSourceImage { .. }),
        "{error:?}"
    );
    let message = error.to_string();
    assert!(message.contains("ubuntu 22.04"), "{message}");
    assert!(
        message.contains("debian-12 (os=debian release=12 architecture=x86_64)"),
        "{message}"
    );
    world.assert_nothing_left();
    assert!(
        world.runtime.calls().is_empty(),
        "nothing is created before the source is known"
    );
}

#[tokio::test(start_paused = true)]
async fn without_a_catalog_the_os_is_given_and_retention_only_counts() {
    let world = World::with(settings(), false);
    let job = job(1_700_000_100);
    let mut request = world.build_request(&job);
    request.ami = Some(ami_id(1));
    request.os = Some(debian());
    let report = world
        .workflows
        .build_image(&request, &world.events, &world.cancel)
        .await
        .unwrap();
    assert!(report.retention.count_only);
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("only the count rule"))
    );

    request.os = None;
    request.job = crate::helpers::job(1_700_000_200);
    let error = world
        .workflows
        .build_image(&request, &world.events, &world.cancel)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no AMI catalog"), "{error}");

    request.ami = None;
    let error = world
        .workflows
        .build_image(&request, &world.events, &world.cancel)
        .await
        .unwrap_err();
    assert!(
        matches!(error, WorkflowError::NoSourceImage { .. }),
        "{error}"
    );
}

#[tokio::test(start_paused = true)]
async fn windows_amis_and_unconfigured_provisioners_are_refused_before_anything_runs() {
    let world = World::new();
    world.catalog.insert_ami(
        REGION,
        lxpack_fake::FakeAmiCatalog::app_ami(
            &web_app(),
            ami_id(1),
            std::time::SystemTime::UNIX_EPOCH,
            lxpack_core::domain::OsIdentity::new(
                lxpack_core::domain::OsType::Windows,
                "windows",
                "2022",
                "x86_64",
            ),
        ),
    );
    let error = world.build(&job(1_700_000_100)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::WindowsAmi { .. }),
        "{error:?}"
    );

    let world = World::with(lxpack_core::workflows::Settings::default(), true);
    let error = world.build(&job(1_700_000_100)).await.unwrap_err();
    assert!(
        error.to_string().contains("features_provisioners"),
        "{error}"
    );
    assert!(world.runtime.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn ansible_features_get_a_playbook_and_bootstrap_runs_when_asked() {
    let mut settings = settings();
    settings
        .provisioners
        .push(lxpack_core::workflows::ProvisionerSettings {
            kind: lxpack_core::domain::Provisioner::Ansible,
            formulas: "/srv/formulas/ansible".into(),
            bootstrap_command: Some("true".into()),
            formulas_digest: None,
        });
    settings.bootstrap_provisioners = true;
    let world = World::with(settings, true);
    let mut app = web_app();
    app.features.push(lxpack_core::domain::Feature {
        name: "php".into(),
        version: String::new(),
        provisioner: lxpack_core::domain::Provisioner::Ansible,
    });
    world.store.insert_app(app);
    world.build(&job(1_700_000_100)).await.unwrap();
    let steps = world.steps();
    use lxpack_core::domain::Provisioner::{Ansible, Salt};
    assert_eq!(
        steps,
        [
            Step::DescribeAmi,
            Step::ChooseSourceImage,
            Step::Network,
            Step::CreateProfile,
            Step::Launch,
            Step::WaitReady,
            Step::DeliverScripts,
            Step::Bootstrap(Salt),
            Step::Bootstrap(Ansible),
            Step::PreBuildImageHook,
            Step::Features(Salt),
            Step::Features(Ansible),
            Step::PostBuildImageHook,
            Step::RemoveScripts,
            Step::Stop,
            Step::Publish,
            Step::RecordImage,
            Step::Retention,
            Step::Cleanup,
        ]
    );
    let pushed: Vec<String> = world
        .runtime
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            RuntimeCall::PushFile { file, .. } => Some(file.path.to_string()),
            _ => None,
        })
        .collect();
    assert!(
        pushed.contains(&"/tmp/lxpack-ansible-playbook.yml".to_owned()),
        "{pushed:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn an_older_job_never_replaces_a_newer_jobs_image() {
    let world = World::new();
    let newer = job(1_700_000_200);
    let older = job(1_700_000_100);
    world.built(&newer).await;
    let report = world.build(&older).await.unwrap();
    assert_eq!(
        report.record,
        RecordOutcome::Superseded {
            current: newer.clone()
        }
    );
    assert_eq!(world.app().build_infos.container_image, Some(newer));
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("newer job"))
    );
    world.assert_nothing_left();
}

#[tokio::test(start_paused = true)]
async fn keep_leaves_the_container_and_says_how_to_remove_it() {
    let world = World::new();
    let mut request = world.build_request(&job(1_700_000_100));
    request.keep = true;
    let report = world
        .workflows
        .build_image(&request, &world.events, &world.cancel)
        .await
        .unwrap();
    assert!(report.kept_resources);
    assert_eq!(world.runtime.instances().len(), 1);
    assert_eq!(world.runtime.profiles().len(), 1);
    let kept = world
        .events
        .events()
        .into_iter()
        .find_map(|e| match e {
            lxpack_core::events::Event::ResourcesKept {
                instance, profile, ..
            } => Some((instance, profile)),
            _ => None,
        })
        .unwrap();
    assert_eq!(kept.1, lxpack_core::domain::ProfileName::of(&kept.0));
}
