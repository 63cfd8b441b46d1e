//! The exact events a user sees for a successful buildimage and deploy.

use std::time::Duration;

use lxpack_core::domain::OutputStream;
use lxpack_core::events::{Event, Step};
use lxpack_fake::ExecScript;

use crate::helpers::*;

fn started(step: Step) -> Event {
    Event::StepStarted { step }
}

fn finished(step: Step, millis: u64) -> Event {
    Event::StepFinished {
        step,
        duration: Duration::from_millis(millis),
        succeeded: true,
    }
}

/// The job's resource class: the built-in default.
fn default_class() -> Event {
    Event::ResourceClass {
        class: lxpack_core::domain::ResourceClass::builtin_default(),
    }
}

/// The job's network: the default egress network.
fn egress() -> Event {
    Event::Network {
        mode: lxpack_core::domain::NetworkMode::Egress,
        scope: lxpack_core::domain::PolicyScope::Default,
        egress: Some((
            lxpack_core::domain::NetworkName::parse("lxpackbr0").unwrap(),
            lxpack_core::domain::AclName::parse("lxpack-egress").unwrap(),
        )),
    }
}

#[tokio::test(start_paused = true)]
async fn buildimage_events_in_order() {
    let world = World::new();
    world.runtime.on_command(
        &["sh", "/tmp/lxpack-pre_buildimage"],
        ExecScript::new()
            .stdout("pre\n")
            .sleep(Duration::from_millis(250)),
    );
    world.build(&job(1_700_000_100)).await.unwrap();
    let mut expected = Vec::new();
    for step in [Step::DescribeAmi, Step::ChooseSourceImage, Step::Network] {
        expected.extend([started(step), finished(step, 0)]);
    }
    expected.extend([egress(), default_class()]);
    for step in [
        Step::CreateProfile,
        Step::Launch,
        Step::WaitReady,
        Step::DeliverScripts,
    ] {
        expected.extend([started(step), finished(step, 0)]);
    }
    expected.push(started(Step::PreBuildImageHook));
    expected.push(Event::Output {
        step: Step::PreBuildImageHook,
        stream: OutputStream::Stdout,
        bytes: b"pre\n".to_vec(),
    });
    expected.push(finished(Step::PreBuildImageHook, 250));
    for step in [
        Step::Features(lxpack_core::domain::Provisioner::Salt),
        Step::PostBuildImageHook,
        Step::RemoveScripts,
        Step::Stop,
        Step::Publish,
        Step::RecordImage,
        Step::Retention,
        Step::Cleanup,
    ] {
        expected.extend([started(step), finished(step, 0)]);
    }
    assert_eq!(world.events.events(), expected);
}

#[tokio::test(start_paused = true)]
async fn deploy_events_in_order() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    world.runtime.on_command(
        &["/tmp/lxpack-buildpack"],
        ExecScript::new()
            .stdout("building\n")
            .sleep(Duration::from_millis(40))
            .stderr("warning: x\n")
            .stdout("done\n"),
    );
    world.deploy("api", &job(1_700_000_300)).await.unwrap();
    // The build made the egress network: the deploy only says it uses it.
    let mut expected = vec![egress(), default_class()];
    for step in [
        Step::CreateProfile,
        Step::Launch,
        Step::WaitReady,
        Step::DeliverScripts,
    ] {
        expected.extend([started(step), finished(step, 0)]);
    }
    expected.extend([
        started(Step::Buildpack),
        Event::Output {
            step: Step::Buildpack,
            stream: OutputStream::Stdout,
            bytes: b"building\n".to_vec(),
        },
        Event::Output {
            step: Step::Buildpack,
            stream: OutputStream::Stderr,
            bytes: b"warning: x\n".to_vec(),
        },
        Event::Output {
            step: Step::Buildpack,
            stream: OutputStream::Stdout,
            bytes: b"done\n".to_vec(),
        },
        finished(Step::Buildpack, 40),
        started(Step::Cleanup),
        finished(Step::Cleanup, 0),
    ]);
    assert_eq!(world.events.events(), expected);
}
