//! One test per defect of Cloud Deploy's implementation (original-behaviour.md), proving
//! lxpack does not have it. Retention's defect is in retention.rs; missing timeouts in
//! timeouts.rs; useless errors in cleanup_and_faults.rs.

use std::time::Duration;

use lxpack_core::domain::{AppKey, InstanceName, JobCommand};
use lxpack_core::events::{Event, Step};
use lxpack_core::ports::Compression;
use lxpack_fake::{ExecScript, RegistryCall, RuntimeCall};

use crate::helpers::*;

/// "Deploy leaks on failure": a failing buildpack left the container and profile, and
/// the next run with the same name collided.
#[tokio::test(start_paused = true)]
async fn a_failed_deploy_leaves_nothing_and_can_be_run_again() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::exit_code(1));
    let deploy_job = job(1_700_000_300);
    world.deploy("api", &deploy_job).await.unwrap_err();
    world.assert_nothing_left();
    world.runtime.clear_exec_handlers();
    world.deploy("api", &deploy_job).await.unwrap();
    world.assert_nothing_left();
}

/// "Fixed sleeps instead of readiness checks": 10 s after every start.
#[tokio::test(start_paused = true)]
async fn readiness_is_probed_not_slept() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    let started = tokio::time::Instant::now();
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(1),
        "took {:?} of (paused) time",
        started.elapsed()
    );

    // A container that needs a moment is probed again, with a short backoff.
    let world = World::new();
    world
        .runtime
        .script_exec(lxpack_fake::When::Nth(1), ExecScript::exit_code(1));
    world
        .runtime
        .script_exec(lxpack_fake::When::Nth(2), ExecScript::exit_code(1));
    let started = tokio::time::Instant::now();
    world.build(&job(1_700_000_100)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
}

/// A container that never answers fails the job with the probe's last problem.
#[tokio::test(start_paused = true)]
async fn a_container_that_never_answers_is_not_ready() {
    let mut settings = settings();
    settings.timeouts.ready = Duration::from_secs(3);
    let world = World::with(settings, true);
    world
        .runtime
        .on_command(&["true"], ExecScript::exit_code(127));
    let error = world.build(&job(1_700_000_100)).await.unwrap_err();
    assert!(
        error
            .to_string()
            .contains("was not ready after 3s: the probe `true` exited 127"),
        "{error}"
    );
    world.assert_nothing_left();
}

/// "Privileged containers always, plus a hard-coded chown to 1001:1002".
#[tokio::test(start_paused = true)]
async fn containers_are_unprivileged_and_nothing_is_chowned() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    for call in world.runtime.calls() {
        match call {
            RuntimeCall::LaunchInstance { spec } => {
                assert_eq!(spec.isolation, lxpack_core::domain::Isolation::Unprivileged);
            }
            RuntimeCall::Exec { command, .. } => {
                assert!(
                    !command
                        .iter()
                        .any(|arg| arg.contains("chown") || arg.contains("1001")),
                    "{command:?}"
                );
            }
            _ => {}
        }
    }
    // Privileged only on request, and then with a warning.
    let mut settings = settings();
    settings.isolation = lxpack_core::domain::Isolation::Privileged;
    let world = World::with(settings, true);
    world.build(&job(1_700_000_100)).await.unwrap();
    assert!(
        world
            .events
            .warnings()
            .iter()
            .any(|w| w.contains("privileged"))
    );
}

/// "Names were neither validated nor unique": long names passed 63 characters, and two
/// jobs in the same second collided.
#[tokio::test(start_paused = true)]
async fn names_are_valid_and_unique_per_job() {
    let long = AppKey {
        name: "a-very-long-application-name-that-goes-on-and-on-é-ü".repeat(3),
        env: "production".into(),
        role: "webfront".into(),
    };
    let first = InstanceName::for_job(
        JobCommand::BuildImage,
        &long,
        None,
        None,
        &lxpack_core::domain::JobId::generate(100, [1; 8]),
    );
    let second = InstanceName::for_job(
        JobCommand::BuildImage,
        &long,
        None,
        None,
        &lxpack_core::domain::JobId::generate(100, [2; 8]),
    );
    assert!(first.as_str().len() <= 63 && second.as_str().len() <= 63);
    assert_ne!(first, second, "two jobs in the same second");
    assert!(InstanceName::parse(first.as_str()).is_ok());
}

/// "Output was buffered, not streamed": each chunk reaches the sink as it comes.
#[tokio::test(start_paused = true)]
async fn output_is_streamed_chunk_by_chunk() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new()
            .stdout("one\n")
            .sleep(Duration::from_secs(1))
            .stdout("two\n")
            .sleep(Duration::from_secs(1)),
    );
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let chunks: Vec<Vec<u8>> = world
        .events
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Output {
                step: Step::Buildpack,
                bytes,
                ..
            } => Some(bytes),
            _ => None,
        })
        .collect();
    assert_eq!(chunks, [b"one\n".to_vec(), b"two\n".to_vec()]);
}

/// "Publish was slow": the server's default gzip.
#[tokio::test(start_paused = true)]
async fn images_are_published_with_zstd_by_default() {
    let world = World::new();
    world.build(&job(1_700_000_100)).await.unwrap();
    let compression = world.registry.calls().into_iter().find_map(|c| match c {
        RegistryCall::PublishImage { request } => Some(request.compression),
        _ => None,
    });
    assert_eq!(compression, Some(Compression::Zstd));
}

/// "It edited the script with sed to insert a cd": the script is delivered as it is
/// and the working directory is set instead.
#[tokio::test(start_paused = true)]
async fn the_buildpack_is_not_edited() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let instance = world
        .runtime
        .calls()
        .into_iter()
        .find_map(|c| match c {
            RuntimeCall::PushFile { file, .. } => Some(file),
            _ => None,
        })
        .unwrap();
    assert_eq!(instance.contents, BUILDPACK);
    assert!(!String::from_utf8_lossy(&instance.contents).contains("cd /var/www/api"));
}

/// Environment values are the app's secrets: they reach the command's environment and
/// nothing of lxpack's own (events, errors, job records).
#[tokio::test(start_paused = true)]
async fn environment_values_stay_out_of_lxpack_s_own_words() {
    const SECRET: &str = "s3cr3t-value-do-not-print";
    let world = World::new();
    let app = web_app().with_env_var("TOKEN", SECRET);
    world.store.insert_app(app);
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        lxpack_fake::ExecScript::new()
            .stderr("build failed\n")
            .exit(2),
    );
    let deploy_job = job(1_700_000_300);
    let error = world.deploy("api", &deploy_job).await.unwrap_err();
    let mut words = vec![format!("{error}"), format!("{error:?}")];
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        words.push(cause.to_string());
        source = cause.source();
    }
    words.extend(
        world
            .events
            .events()
            .into_iter()
            .filter(|event| !matches!(event, lxpack_core::events::Event::Output { .. }))
            .map(|event| format!("{event:?}")),
    );
    words.push(format!("{:?}", world.store.job(&deploy_job).unwrap()));
    for word in &words {
        assert!(!word.contains(SECRET), "leaked: {word}");
    }
    // It did reach the buildpack.
    assert!(world.runtime.calls().iter().any(|call| matches!(
        call,
        lxpack_fake::RuntimeCall::Exec { env, .. } if env.iter().any(|(_, value)| value == SECRET)
    )));
}
