//! The sweep removes what crashed jobs left, and nothing a running job uses.

use std::time::SystemTime;

use lxpack_core::domain::JobCommand;
use lxpack_core::ports::{AppStore, JobRecord, JobStatus, LeftoverKind};
use lxpack_fake::ExecScript;

use crate::helpers::*;

#[tokio::test(start_paused = true)]
async fn removes_leftovers_of_jobs_that_are_not_running() {
    let world = World::new();
    world.built(&job(1_700_000_100)).await;
    // Two deploys keep their containers, as a crash would leave them.
    world
        .runtime
        .on_command(&["/tmp/lxpack-buildpack"], ExecScript::new());
    let crashed = job(1_700_000_200);
    let running = job(1_700_000_300);
    for deploy_job in [&crashed, &running] {
        let mut request = world.deploy_request("api", deploy_job);
        request.keep = true;
        world
            .workflows
            .deploy(&request, &world.events, &world.cancel)
            .await
            .unwrap();
    }
    world
        .store
        .record_job(&JobRecord {
            id: running.clone(),
            command: JobCommand::Deploy,
            app: key("web"),
            module: Some("api".into()),
            status: JobStatus::Running,
            started_at: SystemTime::UNIX_EPOCH,
            ended_at: None,
            error: None,
            log_path: None,
        })
        .await
        .unwrap();

    let dry = world.workflows.sweep(true, &world.events).await.unwrap();
    assert_eq!(dry.removed.len(), 2);
    assert_eq!(
        world.runtime.instances().len(),
        2,
        "a dry run removes nothing"
    );

    let report = world.workflows.sweep(false, &world.events).await.unwrap();
    let removed: Vec<(LeftoverKind, Option<_>)> = report
        .removed
        .iter()
        .map(|l| (l.kind, l.job.clone()))
        .collect();
    assert_eq!(
        removed,
        [
            (LeftoverKind::Instance, Some(crashed.clone())),
            (LeftoverKind::Profile, Some(crashed.clone()))
        ]
    );
    assert_eq!(report.active.len(), 2);
    let left: Vec<_> = world
        .runtime
        .instances()
        .into_iter()
        .map(|i| i.name.job())
        .collect();
    assert_eq!(left, [Some(running)]);
}
