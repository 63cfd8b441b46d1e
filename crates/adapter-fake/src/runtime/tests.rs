use std::path::PathBuf;
use std::time::Duration;

use lxpack_core::domain::{
    AppKey, DiskMount, ImageAlias, ImageRef, ImageSelector, JobCommand, JobId, Labels,
    OutputStream, RemoteProtocol, RemoteServer,
};
use lxpack_core::ports::{ImageRegistry, Resource, ResourceKind};
use tokio::time::Instant;

use super::*;
use crate::image::ImageBuilder;
use crate::sinks::RecordingOutput;

const JOB: &str = "5f1e3c2a9b8d7e6f5a4b3c2d";

fn name(text: &str) -> InstanceName {
    InstanceName::parse(text).unwrap()
}

fn alias(text: &str) -> ImageAlias {
    ImageAlias::parse(text).unwrap()
}

fn local(text: &str) -> ImageRef {
    ImageRef::Local(ImageSelector::Alias(alias(text)))
}

fn profile_name(text: &str) -> ProfileName {
    ProfileName::parse(text).unwrap()
}

/// `profiles` as an instance's profiles would read: `default`, then its own, if any.
fn spec(instance: &str, image: ImageRef, profiles: &[&str]) -> LaunchSpec {
    LaunchSpec {
        name: name(instance),
        image,
        profile: profiles
            .iter()
            .find(|profile| **profile != "default")
            .map(|profile| profile_name(profile)),
        ephemeral: false,
        isolation: Default::default(),
        limits: Default::default(),
        network: Default::default(),
        labels: None,
        standby: None,
        map_owner: None,
        from_snapshot: None,
        timeout: Duration::from_secs(30),
    }
}

fn profile(text: &str) -> ProfileSpec {
    ProfileSpec {
        name: profile_name(text),
        description: "test".into(),
        mounts: vec![],
        labels: None,
        standby: None,
    }
}

fn labels() -> Labels {
    Labels {
        job: JobId::parse(JOB).unwrap(),
        command: JobCommand::Deploy,
        app: AppKey::new("web", "prod", "webfront"),
    }
}

fn mount(device: &str, source: &str) -> DiskMount {
    DiskMount {
        device: device.into(),
        source: lxpack_core::domain::MountSource::Host(PathBuf::from(source)),
        target: GuestPath::parse("/srv").unwrap(),
        read_only: true,
        owner: None,
    }
}

fn request(command: &[&str]) -> ExecRequest {
    ExecRequest::new(command.iter().copied(), Duration::from_secs(10))
}

/// A runtime with image `base` and a running instance `lxpack-a`.
async fn running() -> FakeRuntime {
    let runtime = FakeRuntime::new();
    runtime.add_image(ImageBuilder::new("base").alias(alias("base")).build());
    runtime
        .launch_instance(
            &spec("lxpack-a", local("base"), &["default"]),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    runtime
}

async fn exec(
    runtime: &FakeRuntime,
    command: &[&str],
) -> (Result<i32, RuntimeError>, RecordingOutput) {
    let output = RecordingOutput::new();
    let result = runtime
        .exec(
            &name("lxpack-a"),
            &request(command),
            &output,
            &CancellationToken::new(),
        )
        .await;
    (result, output)
}

#[tokio::test]
async fn profiles_exist_once_and_cannot_go_while_used() {
    let runtime = running().await;
    runtime.create_profile(&profile("lxpack-p")).await.unwrap();
    let again = runtime.create_profile(&profile("lxpack-p")).await;
    assert!(
        matches!(
            again,
            Err(RuntimeError::AlreadyExists {
                what: "profile",
                ..
            })
        ),
        "{again:?}"
    );
    let missing = runtime.delete_profile(&profile_name("lxpack-none")).await;
    assert!(
        matches!(
            missing,
            Err(RuntimeError::NotFound {
                what: "profile",
                ..
            })
        ),
        "{missing:?}"
    );

    let cancel = CancellationToken::new();
    runtime
        .launch_instance(
            &spec("lxpack-b", local("base"), &["default", "lxpack-p"]),
            &cancel,
        )
        .await
        .unwrap();
    runtime
        .stop_instance(&name("lxpack-b"), None)
        .await
        .unwrap();
    let in_use = runtime.delete_profile(&profile_name("lxpack-p")).await;
    assert!(
        matches!(in_use, Err(RuntimeError::InUse { .. })),
        "{in_use:?}"
    );
    runtime.delete_instance(&name("lxpack-b")).await.unwrap();
    runtime
        .delete_profile(&profile_name("lxpack-p"))
        .await
        .unwrap();
    assert!(runtime.profiles().is_empty());
}

#[tokio::test]
async fn the_default_profile_always_exists() {
    let runtime = FakeRuntime::new();
    let create = runtime.create_profile(&profile("default")).await;
    assert!(
        matches!(create, Err(RuntimeError::AlreadyExists { .. })),
        "{create:?}"
    );
    let delete = runtime.delete_profile(&profile_name("default")).await;
    assert!(
        matches!(delete, Err(RuntimeError::Rejected { .. })),
        "{delete:?}"
    );
}

#[tokio::test]
async fn bad_mounts_are_rejected_and_nothing_is_created() {
    let runtime = FakeRuntime::new();
    let mut relative = profile("lxpack-p");
    relative.mounts = vec![mount("src", "relative/dir")];
    let error = runtime.create_profile(&relative).await.unwrap_err();
    assert!(
        error.to_string().contains("not an absolute host path"),
        "{error}"
    );
    let mut twice = profile("lxpack-p");
    twice.mounts = vec![mount("src", "/a"), mount("src", "/b")];
    let error = runtime.create_profile(&twice).await.unwrap_err();
    assert!(error.to_string().contains("defined twice"), "{error}");
    assert!(runtime.profile("lxpack-p").is_none());
}

#[tokio::test]
async fn launch_checks_name_profiles_and_image() {
    let runtime = running().await;
    let cancel = CancellationToken::new();
    let twice = runtime
        .launch_instance(&spec("lxpack-a", local("base"), &["default"]), &cancel)
        .await;
    assert!(
        matches!(
            twice,
            Err(RuntimeError::AlreadyExists {
                what: "instance",
                ..
            })
        ),
        "{twice:?}"
    );
    let no_profile = runtime
        .launch_instance(
            &spec("lxpack-b", local("base"), &["default", "lxpack-p"]),
            &cancel,
        )
        .await;
    assert!(
        matches!(
            no_profile,
            Err(RuntimeError::NotFound {
                what: "profile",
                ..
            })
        ),
        "{no_profile:?}"
    );
    let no_image = runtime
        .launch_instance(&spec("lxpack-b", local("missing"), &["default"]), &cancel)
        .await;
    assert!(
        matches!(no_image, Err(RuntimeError::ImageNotFound { .. })),
        "{no_image:?}"
    );
    assert!(runtime.instance(&name("lxpack-b")).is_none());

    let base = ImageBuilder::new("base").build().fingerprint;
    let by_prefix = ImageRef::Local(ImageSelector::Fingerprint(base.short().to_owned()));
    runtime
        .launch_instance(&spec("lxpack-b", by_prefix, &["default"]), &cancel)
        .await
        .unwrap();
    let created = runtime.instance(&name("lxpack-b")).unwrap();
    assert_eq!(created.status, InstanceStatus::Running);
    assert_eq!(created.source.unwrap().fingerprint, base);
}

#[tokio::test]
async fn remote_images_are_pulled_from_their_server_and_cached() {
    let runtime = FakeRuntime::new();
    let url = "https://images.example.invalid";
    runtime.add_remote_image(
        url,
        ImageBuilder::new("remote")
            .alias(alias("debian-12"))
            .build(),
    );
    let remote = |server: &str| ImageRef::Remote {
        server: RemoteServer {
            url: server.to_owned(),
            protocol: RemoteProtocol::Simplestreams,
        },
        image: ImageSelector::Alias(alias("debian-12")),
    };
    let cancel = CancellationToken::new();
    let elsewhere = runtime
        .launch_instance(
            &spec("lxpack-a", remote("https://other.invalid"), &["default"]),
            &cancel,
        )
        .await;
    assert!(
        matches!(elsewhere, Err(RuntimeError::ImageNotFound { .. })),
        "{elsewhere:?}"
    );
    runtime
        .launch_instance(&spec("lxpack-a", remote(url), &["default"]), &cancel)
        .await
        .unwrap();
    let cached = runtime.image_registry().images();
    assert_eq!(cached.len(), 1);
    assert!(cached[0].aliases.is_empty());
    assert_eq!(
        cached[0].fingerprint,
        ImageBuilder::new("remote").build().fingerprint
    );
}

#[tokio::test]
async fn a_cancelled_launch_creates_nothing() {
    let runtime = running().await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let result = runtime
        .launch_instance(&spec("lxpack-b", local("base"), &["default"]), &cancel)
        .await;
    assert!(
        matches!(result, Err(RuntimeError::Cancelled { .. })),
        "{result:?}"
    );
    assert!(runtime.instance(&name("lxpack-b")).is_none());
}

#[tokio::test]
async fn exec_needs_a_running_instance_and_a_command() {
    let runtime = running().await;
    let (result, output) = exec(&runtime, &["true"]).await;
    assert_eq!(result.unwrap(), 0);
    assert!(output.chunks().is_empty());
    let (empty, _) = exec(&runtime, &[]).await;
    assert!(
        matches!(empty, Err(RuntimeError::Rejected { .. })),
        "{empty:?}"
    );
    let missing = runtime
        .exec(
            &name("lxpack-none"),
            &request(&["true"]),
            &RecordingOutput::new(),
            &CancellationToken::new(),
        )
        .await;
    assert!(
        matches!(
            missing,
            Err(RuntimeError::NotFound {
                what: "instance",
                ..
            })
        ),
        "{missing:?}"
    );
    runtime
        .stop_instance(&name("lxpack-a"), None)
        .await
        .unwrap();
    let (stopped, _) = exec(&runtime, &["true"]).await;
    assert!(
        matches!(stopped, Err(RuntimeError::NotFound { .. })),
        "{stopped:?}"
    );
}

#[tokio::test]
async fn exec_arguments_are_recorded() {
    let runtime = running().await;
    let mut req = request(&["sh", "-c", "make"]);
    req.env = vec![("A".into(), "1".into())];
    req.cwd = Some(GuestPath::parse("/srv/app").unwrap());
    req.user = Some(Owner {
        uid: 1000,
        gid: 1000,
    });
    req.stdin = Some(b"input".to_vec());
    runtime
        .exec(
            &name("lxpack-a"),
            &req,
            &RecordingOutput::new(),
            &CancellationToken::new(),
        )
        .await
        .unwrap();
    let recorded = runtime.calls().pop().unwrap();
    assert_eq!(
        recorded,
        RuntimeCall::Exec {
            instance: name("lxpack-a"),
            command: req.command.clone(),
            env: req.env.clone(),
            cwd: req.cwd.clone(),
            user: req.user,
            stdin: req.stdin.clone(),
            timeout: req.timeout,
            kill_grace: req.kill_grace,
        }
    );
}

#[tokio::test]
async fn scripts_beat_handlers_and_the_last_handler_is_asked_first() {
    let runtime = running().await;
    runtime.on_command(
        &["make"],
        ExecScript::new().stdout("built\n").stderr("warn\n").exit(2),
    );
    runtime.on_command(&["make", "test"], ExecScript::exit_code(3));
    runtime.on_exec(|_, request| {
        (request.command[0] == "env").then(|| ExecScript::new().stdout(request.env[0].1.clone()))
    });

    let (result, output) = exec(&runtime, &["make", "all"]).await;
    assert_eq!(result.unwrap(), 2);
    assert_eq!(output.text(OutputStream::Stdout), "built\n");
    assert_eq!(output.text(OutputStream::Stderr), "warn\n");
    assert_eq!(exec(&runtime, &["make", "test"]).await.0.unwrap(), 3);

    // The 4th exec is scripted, whatever its command.
    runtime.script_exec(When::Nth(4), ExecScript::exit_code(9));
    assert_eq!(exec(&runtime, &["true"]).await.0.unwrap(), 0);
    assert_eq!(exec(&runtime, &["make", "test"]).await.0.unwrap(), 9);

    let mut req = request(&["env"]);
    req.env = vec![("K".into(), "v".into())];
    let output = RecordingOutput::new();
    runtime
        .exec(&name("lxpack-a"), &req, &output, &CancellationToken::new())
        .await
        .unwrap();
    assert_eq!(output.text(OutputStream::Stdout), "v");

    runtime.clear_exec_handlers();
    assert_eq!(exec(&runtime, &["make", "test"]).await.0.unwrap(), 0);
}

#[tokio::test]
async fn handlers_may_inspect_the_fake() {
    let runtime = running().await;
    let path = GuestPath::parse("/tmp/script").unwrap();
    let file = FileSpec {
        path: path.clone(),
        contents: b"echo hi".to_vec(),
        mode: 0o700,
    };
    runtime.push_file(&name("lxpack-a"), &file).await.unwrap();
    let inspector = runtime.clone();
    runtime.on_command(&["sh"], ExecScript::new());
    runtime.on_exec(move |instance, request| {
        let path = GuestPath::parse(request.command.get(1)?).ok()?;
        let file = inspector.file(instance, &path)?;
        Some(ExecScript::new().stdout(file.contents))
    });
    let (result, output) = exec(&runtime, &["sh", "/tmp/script"]).await;
    assert_eq!(result.unwrap(), 0);
    assert_eq!(output.text(OutputStream::Stdout), "echo hi");
    assert_eq!(runtime.file(&name("lxpack-a"), &path).unwrap(), file);
}

#[tokio::test(start_paused = true)]
async fn a_hanging_command_times_out_and_is_signalled() {
    let runtime = running().await;
    runtime.inject(RuntimeOp::Exec, When::Nth(1), Fault::Hang);
    let start = Instant::now();
    let (result, _) = exec(&runtime, &["sleep", "1000"]).await;
    assert!(
        matches!(result, Err(RuntimeError::TimedOut { after, .. }) if after == Duration::from_secs(10)),
        "{result:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(
        runtime.signals(),
        vec![Signalled {
            instance: name("lxpack-a"),
            command: vec!["sleep".into(), "1000".into()],
            cause: Interruption::TimedOut,
            signals: vec![Signal::Term, Signal::Kill],
        }]
    );
}

#[tokio::test(start_paused = true)]
async fn a_running_command_is_cancelled_and_signalled_after_its_output() {
    let runtime = running().await;
    runtime.on_command(&["build"], ExecScript::new().stdout("step 1\n").hang());
    let cancel = CancellationToken::new();
    let output = RecordingOutput::new();
    let trigger = cancel.clone();
    let (instance, build) = (name("lxpack-a"), request(&["build"]));
    let (result, ()) = tokio::join!(
        runtime.exec(&instance, &build, &output, &cancel),
        async move {
            tokio::time::sleep(Duration::from_secs(2)).await;
            trigger.cancel();
        }
    );
    assert!(
        matches!(result, Err(RuntimeError::Cancelled { .. })),
        "{result:?}"
    );
    assert_eq!(output.text(OutputStream::Stdout), "step 1\n");
    assert_eq!(runtime.signals()[0].cause, Interruption::Cancelled);
}

#[tokio::test(start_paused = true)]
async fn a_command_cancelled_before_it_starts_is_not_signalled() {
    let runtime = running().await;
    let cancel = CancellationToken::new();
    cancel.cancel();
    let result = runtime
        .exec(
            &name("lxpack-a"),
            &request(&["true"]),
            &RecordingOutput::new(),
            &cancel,
        )
        .await;
    assert!(
        matches!(result, Err(RuntimeError::Cancelled { .. })),
        "{result:?}"
    );
    assert!(runtime.signals().is_empty());
}

#[tokio::test]
async fn files_need_a_running_instance() {
    let runtime = running().await;
    let file = FileSpec {
        path: GuestPath::parse("/tmp/x").unwrap(),
        contents: b"x".to_vec(),
        mode: 0o600,
    };
    let missing = runtime.push_file(&name("lxpack-none"), &file).await;
    assert!(
        matches!(missing, Err(RuntimeError::NotFound { .. })),
        "{missing:?}"
    );
    runtime
        .stop_instance(&name("lxpack-a"), None)
        .await
        .unwrap();
    let stopped = runtime.push_file(&name("lxpack-a"), &file).await;
    assert!(
        matches!(stopped, Err(RuntimeError::Rejected { .. })),
        "{stopped:?}"
    );
}

#[tokio::test]
async fn stop_and_delete_follow_the_daemon() {
    let runtime = running().await;
    runtime
        .stop_instance(&name("lxpack-a"), Some(Duration::from_secs(5)))
        .await
        .unwrap();
    runtime
        .stop_instance(&name("lxpack-a"), None)
        .await
        .unwrap();
    assert_eq!(
        runtime.instance(&name("lxpack-a")).unwrap().status,
        InstanceStatus::Stopped
    );
    runtime.delete_instance(&name("lxpack-a")).await.unwrap();
    let again = runtime.delete_instance(&name("lxpack-a")).await;
    assert!(
        matches!(again, Err(RuntimeError::NotFound { .. })),
        "{again:?}"
    );
    let stop = runtime.stop_instance(&name("lxpack-a"), None).await;
    assert!(
        matches!(stop, Err(RuntimeError::NotFound { .. })),
        "{stop:?}"
    );
    assert!(runtime.calls().contains(&RuntimeCall::StopInstance {
        instance: name("lxpack-a"),
        graceful: Some(Duration::from_secs(5)),
    }));

    // A running instance is forced down and deleted.
    let cancel = CancellationToken::new();
    runtime
        .launch_instance(&spec("lxpack-b", local("base"), &["default"]), &cancel)
        .await
        .unwrap();
    runtime.delete_instance(&name("lxpack-b")).await.unwrap();
    assert!(runtime.instances().is_empty());
}

#[tokio::test]
async fn ephemeral_instances_vanish_when_stopped() {
    let runtime = running().await;
    let mut ephemeral = spec("lxpack-e", local("base"), &["default"]);
    ephemeral.ephemeral = true;
    runtime
        .launch_instance(&ephemeral, &CancellationToken::new())
        .await
        .unwrap();
    runtime
        .stop_instance(&name("lxpack-e"), None)
        .await
        .unwrap();
    assert!(runtime.instance(&name("lxpack-e")).is_none());
}

#[tokio::test]
async fn every_instance_and_profile_is_listed_with_its_labels() {
    let runtime = running().await;
    let cancel = CancellationToken::new();
    let mut labelled = spec("other", local("base"), &["default"]);
    labelled.labels = Some(labels());
    runtime.launch_instance(&labelled, &cancel).await.unwrap();
    let mut mine = profile("mine");
    mine.labels = Some(labels());
    runtime.create_profile(&mine).await.unwrap();
    runtime.create_profile(&profile("plain")).await.unwrap();

    let resources = runtime.list_resources().await.unwrap();
    let resource = |kind, name: &str, labels| Resource {
        kind,
        name: name.to_owned(),
        labels,
        member: None,
        kept_until: None,
        standby: None,
        steps: Vec::new(),
    };
    assert_eq!(
        resources,
        vec![
            resource(ResourceKind::Instance, "lxpack-a", None),
            resource(ResourceKind::Instance, "other", Some(labels())),
            resource(ResourceKind::Profile, "mine", Some(labels())),
            resource(ResourceKind::Profile, "plain", None),
        ]
    );
}

#[tokio::test]
async fn a_failed_launch_leaves_nothing_unless_asked() {
    let runtime = running().await;
    runtime.inject(
        RuntimeOp::LaunchInstance,
        When::Every,
        Fault::fail(FakeFailure::Rejected),
    );
    let cancel = CancellationToken::new();
    let launch = spec("lxpack-b", local("base"), &["default"]);
    let result = runtime.launch_instance(&launch, &cancel).await;
    assert!(
        matches!(result, Err(RuntimeError::Rejected { .. })),
        "{result:?}"
    );
    assert!(runtime.instance(&name("lxpack-b")).is_none());

    runtime.leave_instance_on_failed_launch(true);
    let result = runtime.launch_instance(&launch, &cancel).await;
    assert!(result.is_err());
    assert_eq!(
        runtime.instance(&name("lxpack-b")).unwrap().status,
        InstanceStatus::Stopped
    );
}

#[tokio::test(start_paused = true)]
async fn a_hanging_launch_ends_with_its_timeout_or_token() {
    let runtime = running().await;
    runtime.inject(RuntimeOp::LaunchInstance, When::Every, Fault::Hang);
    let cancel = CancellationToken::new();
    let start = Instant::now();
    let result = runtime
        .launch_instance(&spec("lxpack-b", local("base"), &["default"]), &cancel)
        .await;
    assert!(
        matches!(result, Err(RuntimeError::TimedOut { .. })),
        "{result:?}"
    );
    assert_eq!(start.elapsed(), Duration::from_secs(30));
    cancel.cancel();
    let result = runtime
        .launch_instance(&spec("lxpack-b", local("base"), &["default"]), &cancel)
        .await;
    assert!(
        matches!(result, Err(RuntimeError::Cancelled { .. })),
        "{result:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_hang_without_a_limit_pends() {
    let runtime = running().await;
    runtime.inject(RuntimeOp::DeleteInstance, When::Nth(1), Fault::Hang);
    let pending = tokio::time::timeout(
        Duration::from_secs(3600),
        runtime.delete_instance(&name("lxpack-a")),
    )
    .await;
    assert!(pending.is_err(), "{pending:?}");
    assert!(runtime.instance(&name("lxpack-a")).is_some());
    runtime.delete_instance(&name("lxpack-a")).await.unwrap();
}

#[tokio::test]
async fn failures_name_the_calls_subject() {
    let runtime = running().await;
    runtime.inject(
        RuntimeOp::StopInstance,
        When::Nth(1),
        Fault::fail(FakeFailure::NotFound),
    );
    runtime.inject(
        RuntimeOp::ServerInfo,
        When::Nth(1),
        Fault::fail(FakeFailure::NotFound),
    );
    runtime.inject(
        RuntimeOp::ServerInfo,
        When::Nth(2),
        Fault::fail(FakeFailure::Unreachable),
    );
    runtime.inject(
        RuntimeOp::ListResources,
        When::Every,
        Fault::fail_with(|| RuntimeError::InUse {
            what: "profile",
            name: "custom".into(),
        }),
    );
    match runtime.stop_instance(&name("lxpack-a"), None).await {
        Err(RuntimeError::NotFound { what, name }) => {
            assert_eq!((what, name.as_str()), ("instance", "lxpack-a"))
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        runtime.instance(&name("lxpack-a")).unwrap().status,
        InstanceStatus::Running
    );
    let first = runtime.server_info().await;
    match first {
        Err(RuntimeError::Other { source, .. }) => {
            assert!(source.downcast_ref::<InjectedFault>().is_some())
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        runtime.server_info().await,
        Err(RuntimeError::Unreachable(_))
    ));
    assert!(runtime.server_info().await.is_ok());
    assert!(matches!(
        runtime.list_resources().await,
        Err(RuntimeError::InUse { .. })
    ));
    runtime.clear_faults();
    assert!(runtime.list_resources().await.is_ok());
}

#[tokio::test]
async fn call_points_and_daemon_calls_keep_the_order() {
    let runtime = running().await;
    let registry = runtime.image_registry();
    runtime
        .stop_instance(&name("lxpack-a"), None)
        .await
        .unwrap();
    registry.list_images().await.unwrap();
    runtime
        .stop_instance(&name("lxpack-a"), None)
        .await
        .unwrap();
    assert_eq!(
        runtime.call_points(),
        vec![
            (RuntimeOp::LaunchInstance, 1),
            (RuntimeOp::StopInstance, 1),
            (RuntimeOp::StopInstance, 2)
        ]
    );
    let ops: Vec<&'static str> = runtime
        .daemon_calls()
        .iter()
        .map(|call| match call {
            DaemonCall::Runtime(RuntimeCall::LaunchInstance { .. }) => "launch",
            DaemonCall::Runtime(RuntimeCall::StopInstance { .. }) => "stop",
            DaemonCall::Registry(RegistryCall::ListImages) => "list",
            _ => "other",
        })
        .collect();
    assert_eq!(ops, ["launch", "stop", "list", "stop"]);
    runtime.clear_calls();
    assert!(runtime.calls().is_empty());
}

#[tokio::test]
async fn seeded_state_is_visible_but_not_recorded() {
    let runtime = FakeRuntime::new();
    runtime.add_profile(profile("lxpack-p"));
    runtime.add_instance(
        &spec("lxpack-x", local("gone"), &["default", "lxpack-p"]),
        InstanceStatus::Stopped,
    );
    assert!(runtime.calls().is_empty());
    assert_eq!(runtime.instance(&name("lxpack-x")).unwrap().source, None);
    assert_eq!(runtime.list_resources().await.unwrap().len(), 2);
    let info = ServerInfo {
        product: "Incus".into(),
        version: "6.0.4".into(),
        can_shift_mounts: false,
    };
    runtime.set_server_info(info.clone());
    assert_eq!(runtime.server_info().await.unwrap(), info);
    assert!(format!("{runtime:?}").contains("lxpack-x"));
}
