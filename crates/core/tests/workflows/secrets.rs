//! Secrets: a value the build prints is masked in every event, tail, error and record,
//! however it is printed; a secret the app lacks is refused before anything is made.

use std::collections::BTreeMap;

use lxpack_core::domain::{OutputStream, SecretPattern, SecretRule};
use lxpack_core::events::Step;
use lxpack_core::workflows::{SecretSettings, Settings, WorkflowError, error_chain};
use lxpack_fake::{ExecScript, RuntimeCall};

use crate::helpers::*;

const SECRET: &str = "hunter22-s3cret";

fn with_secrets(names: &[&str], patterns: &[&str]) -> Settings {
    Settings {
        secrets: SecretSettings {
            patterns: Vec::new(),
            apps: BTreeMap::from([(
                key("web"),
                SecretRule {
                    names: names.iter().map(|n| (*n).to_owned()).collect(),
                    patterns: patterns
                        .iter()
                        .map(|p| SecretPattern::parse(p).unwrap())
                        .collect(),
                },
            )]),
            delivery: lxpack_core::workflows::SecretDelivery::Env,
        },
        ..settings()
    }
}

/// A world whose app has `DB_PASSWORD` and `API_TOKEN`, both secret.
async fn world() -> World {
    let world = World::with(with_secrets(&["DB_PASSWORD"], &["*_TOKEN"]), true);
    let app = world
        .app()
        .with_env_var("DB_PASSWORD", SECRET)
        .with_env_var("API_TOKEN", "tok-0123456789");
    world.store.insert_app(app);
    world.built(&job(1_700_000_100)).await;
    world
}

/// Prints the secret alone, inside a line, to stderr and cut across writes, then
/// fails.
fn leaky() -> ExecScript {
    let (head, rest) = SECRET.split_at(5);
    ExecScript::new()
        .stdout(format!("{SECRET}\n"))
        .stdout(format!(
            "connecting with password={SECRET}; token=tok-0123456789\n"
        ))
        .stderr(format!("error: {SECRET}\n"))
        .stdout(format!("split {head}"))
        .stdout(format!("{rest} end\n"))
        .stderr(format!("tail {head}"))
        .stderr(rest.to_owned())
        .exit(3)
}

fn assert_hidden(text: &str) {
    assert!(!text.contains(SECRET), "the secret shows in {text:?}");
    assert!(
        !text.contains("tok-0123456789"),
        "the token shows in {text:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_secret_printed_any_way_shows_nowhere() {
    let world = world().await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], leaky());
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { .. }),
        "{error}"
    );
    let stdout =
        String::from_utf8(world.events.output(Step::Buildpack, OutputStream::Stdout)).unwrap();
    let stderr =
        String::from_utf8(world.events.output(Step::Buildpack, OutputStream::Stderr)).unwrap();
    assert_eq!(
        stdout,
        "***\nconnecting with password=***; token=***\nsplit *** end\n"
    );
    assert_eq!(stderr, "error: ***\ntail ***");
    assert_hidden(&error_chain(&error));
    assert!(error_chain(&error).contains("tail ***"), "{error}");
    for event in world.events.events() {
        assert_hidden(&format!("{event:?}"));
    }
    let record = world.store.jobs().pop().unwrap();
    assert_hidden(&format!("{record:?}"));
    assert!(record.error.unwrap().contains("password=***"));
}

#[tokio::test(start_paused = true)]
async fn a_hook_reading_a_secret_shows_it_nowhere_and_its_key_holds_no_value() {
    let world = world().await;
    world.runtime.on_command(
        &["sh", "/tmp/lxpack-pre_buildimage"],
        ExecScript::new().stdout(format!("using {SECRET}\n")),
    );
    world.build(&job(1_700_000_400)).await.unwrap();
    let out = world
        .events
        .output(Step::PreBuildImageHook, OutputStream::Stdout);
    assert_eq!(out, b"using ***\n");
    // The hook got the value: masking is of what shows, not of what runs.
    let env = world
        .runtime
        .calls()
        .iter()
        .find_map(|call| match call {
            RuntimeCall::Exec { command, env, .. }
                if command
                    .last()
                    .is_some_and(|c| c.ends_with("pre_buildimage")) =>
            {
                Some(env.clone())
            }
            _ => None,
        })
        .unwrap();
    assert!(env.contains(&("DB_PASSWORD".into(), SECRET.into())));
}

#[tokio::test(start_paused = true)]
async fn a_secret_the_app_lacks_is_refused_before_anything_is_made() {
    let world = World::with(with_secrets(&["NOPE"], &[]), true);
    let app = world.app();
    world
        .store
        .insert_app(app.clone().with_env_var("NOPE", "long enough"));
    world.built(&job(1_700_000_100)).await;
    // The app loses the variable the config names.
    let mut app = world.app();
    app.env_vars.retain(|var| var.key != "NOPE");
    world.store.insert_app(app);
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    let WorkflowError::Secrets { app, .. } = &error else {
        panic!("expected Secrets, got {error}");
    };
    assert_eq!(*app, key("web"));
    let chain = error_chain(&error);
    assert!(
        chain.contains("secret NOPE is not one of the app's env_vars"),
        "{chain}"
    );
    assert!(
        !world.runtime.calls().iter().any(|c| matches!(
            c,
            RuntimeCall::LaunchInstance { .. } | RuntimeCall::CreateProfile { .. }
        )),
        "nothing is created"
    );
    let error = world.build(&job(1_700_000_400)).await.unwrap_err();
    assert!(matches!(error, WorkflowError::Secrets { .. }), "{error}");
}

#[tokio::test(start_paused = true)]
async fn a_secret_too_short_to_mask_is_refused_naming_its_key() {
    let world = World::with(with_secrets(&["DB"], &[]), true);
    world.built(&job(1_700_000_100)).await;
    let mut app = world.app();
    app.env_vars[0].value = "abc".into();
    world.store.insert_app(app);
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    let chain = error_chain(&error);
    assert!(chain.contains("secret DB's value has 3 bytes"), "{chain}");
    assert!(!chain.contains("abc"), "{chain}");
}

/// The commands the deploy ran, with their environment and stdin.
type Ran = Vec<(Vec<String>, Vec<(String, String)>, Option<Vec<u8>>)>;

fn execs(world: &World) -> Ran {
    world
        .runtime
        .calls()
        .into_iter()
        .filter_map(|call| match call {
            RuntimeCall::Exec {
                command,
                env,
                stdin,
                ..
            } => Some((command, env, stdin)),
            _ => None,
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn files_delivery_writes_values_on_stdin_into_a_tmpfs_and_unmounts_it() {
    let mut settings = with_secrets(&["DB_PASSWORD"], &[]);
    settings.secrets.delivery = lxpack_core::workflows::SecretDelivery::Files;
    let world = World::with(settings, true);
    world
        .store
        .insert_app(world.app().with_env_var("DB_PASSWORD", SECRET));
    world.built(&job(1_700_000_100)).await;
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    let ran = execs(&world);
    let position = |needle: &str| {
        ran.iter()
            .position(|(command, _, _)| command.iter().any(|c| c.contains(needle)))
            .unwrap_or_else(|| panic!("no command with {needle}: {ran:?}"))
    };
    let (mount, write, buildpack, unmount) = (
        position("mount -t tmpfs"),
        position("/run/lxpack/secrets/DB_PASSWORD"),
        position("/tmp/lxpack-buildpack"),
        position("umount /run/lxpack/secrets"),
    );
    assert!(
        mount < write && write < buildpack && buildpack < unmount,
        "{ran:?}"
    );
    assert_eq!(ran[write].2.as_deref(), Some(SECRET.as_bytes()));
    for (command, env, _) in &ran {
        assert!(command.iter().all(|c| !c.contains(SECRET)), "{command:?}");
        assert!(env.iter().all(|(_, v)| v != SECRET), "{env:?}");
    }
    assert!(ran[buildpack].1.contains(&(
        "DB_PASSWORD_FILE".into(),
        "/run/lxpack/secrets/DB_PASSWORD".into()
    )));
    let steps = world.events.started_steps();
    assert!(steps.contains(&Step::DeliverSecrets) && steps.contains(&Step::RemoveSecrets));
}

#[tokio::test(start_paused = true)]
async fn files_are_unmounted_after_a_failed_buildpack_too() {
    let mut settings = with_secrets(&["DB_PASSWORD"], &[]);
    settings.secrets.delivery = lxpack_core::workflows::SecretDelivery::Files;
    let world = World::with(settings, true);
    world
        .store
        .insert_app(world.app().with_env_var("DB_PASSWORD", SECRET));
    world.built(&job(1_700_000_100)).await;
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::exit_code(2));
    let error = world.deploy("api", &job(1_700_000_300)).await.unwrap_err();
    assert!(
        matches!(error, WorkflowError::CommandFailed { .. }),
        "{error}"
    );
    let ran = execs(&world);
    assert!(
        ran.iter()
            .any(|(command, _, _)| command.iter().any(|c| c.contains("umount"))),
        "{ran:?}"
    );
}
