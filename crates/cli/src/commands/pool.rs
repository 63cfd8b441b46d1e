//! `lxpack pool`: what the standby pools hold, and filling or draining them by hand.
//! The rules (what a pool is, what is stale, what a fill starts) are the core's.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;

use lxpack_core::domain::{AppKey, Owner, StandbyState};
use lxpack_core::workflows::{
    FillReport, FillRequest, PoolSize, PoolStatus, RetireReport, Workflows,
};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::app_ref::{resolve_app, resolve_filter};
use super::output::{print_json, print_line, print_table, utc};
use crate::args::PoolCommand;
use crate::exit::{CliError, ExitClass};
use crate::render::{Renderer, View};
use crate::wiring::{Stores, Wiring, take_fill_turn};

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, command: PoolCommand) -> Result<(), CliError> {
    // Checked before the store or the daemon is opened.
    let checked_size = match &command {
        PoolCommand::Fill {
            size: Some(size), ..
        } => Some(fill_size(*size)?),
        _ => None,
    };
    let stores = wiring.stores().await?;
    let workflows = wiring.workflows(&stores)?;
    let apps = stores.apps.as_ref();
    match command {
        PoolCommand::List { app } => {
            let app = resolve_filter(apps, app.as_deref()).await?;
            let status = workflows.pool_status(app.as_ref()).await?;
            show_status(wiring, &status);
            Ok(())
        }
        PoolCommand::Fill {
            app,
            size: _,
            owner,
            checkout,
        } => {
            let owner = match (owner, checkout) {
                (Some(text), _) => Some(parse_owner(&text)?),
                (None, Some(dir)) => Some(owner_of(&dir)?),
                (None, None) => None,
            };
            let request = FillRequest {
                app: resolve_app(apps, &app).await?,
                owner,
                size: checked_size,
            };
            workflows.check_resource_classes().await?;
            fill(wiring, &stores, &workflows, &request).await
        }
        PoolCommand::Drain {
            app,
            all: _,
            dry_run,
        } => {
            let app = resolve_filter(apps, app.as_deref()).await?;
            drain(wiring, &workflows, app.as_ref(), dry_run).await
        }
    }
}

/// `lxpack pool fill`: one fill, in its turn.
async fn fill(
    wiring: &Wiring,
    stores: &Stores,
    workflows: &Workflows,
    request: &FillRequest,
) -> Result<(), CliError> {
    // Fills take turns (on this host, or on every host sharing the store), so that
    // deploys that all ask for a refill at once start the missing standbys once, not
    // once each.
    let _turn = take_fill_turn(stores, &wiring.host_dir).await?;
    let renderer = Renderer::new(View::choose(wiring.json), None);
    let report = workflows
        .fill_pool(request, &renderer, &CancellationToken::new())
        .await;
    renderer.finish();
    let report = report?;
    show_fill(wiring, &report);
    if report.is_complete() {
        Ok(())
    } else {
        Err(CliError::new(
            ExitClass::Infrastructure,
            "some standbys could not be started (see above)",
        )
        .with_hint("check the daemon (`lxpack doctor`) and the app's image (`lxpack images`)"))
    }
}

/// `lxpack pool drain`: retires the standbys of one app, or of all.
async fn drain(
    wiring: &Wiring,
    workflows: &Workflows,
    app: Option<&AppKey>,
    dry_run: bool,
) -> Result<(), CliError> {
    let renderer = Renderer::new(View::choose(wiring.json), None);
    let report = workflows.drain_pool(app, dry_run, &renderer).await;
    renderer.finish();
    let report = report?;
    show_retired(wiring, &report, dry_run);
    if report.failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            ExitClass::Cleanup,
            format!("{} standby(s) could not be retired", report.failures.len()),
        )
        .with_hint("see the failures above; `lxpack gc` retires them later"))
    }
}

/// `UID:GID`.
fn parse_owner(text: &str) -> Result<Owner, CliError> {
    let parsed = text
        .split_once(':')
        .and_then(|(uid, gid)| Some((uid.parse().ok()?, gid.parse().ok()?)));
    let Some((uid, gid)) = parsed else {
        return Err(CliError::new(
            ExitClass::Usage,
            format!("--owner {text}: expected UID:GID, two numbers (e.g. 1000:1000)"),
        )
        .with_hint("give the numeric owner of the checkouts: `stat -c %u:%g DIR`"));
    };
    Ok(Owner { uid, gid })
}

fn owner_of(dir: &Path) -> Result<Owner, CliError> {
    let metadata = std::fs::metadata(dir).map_err(|error| {
        CliError::new(
            ExitClass::Input,
            format!("checkout {}: {error}", dir.display()),
        )
        .with_hint("pass --checkout with a checkout directory on this host, or --owner UID:GID")
    })?;
    Ok(Owner {
        uid: metadata.uid(),
        gid: metadata.gid(),
    })
}

fn owner_text(owner: Option<Owner>) -> String {
    owner.map_or_else(|| "-".to_owned(), |o| format!("{}:{}", o.uid, o.gid))
}

fn state_text(state: StandbyState) -> &'static str {
    match state {
        StandbyState::Starting => "starting",
        StandbyState::Ready => "ready",
        StandbyState::Claimed => "claimed",
        StandbyState::Retiring => "retiring",
        _ => "unknown",
    }
}

fn show_status(wiring: &Wiring, status: &PoolStatus) {
    let now = wiring.now();
    if wiring.json {
        print_json(&json!({
            "event": "result",
            "pools": status.pools.iter().map(|pool| json!({
                "pool": pool.pool.as_str(),
                "app": pool.app.to_string(),
                "image": pool.image.to_string(),
                "owner": pool.owner.map(|o| format!("{}:{}", o.uid, o.gid)),
                "size": pool.size,
                "max_age_seconds": pool.max_age.as_secs(),
                "current": pool.current,
                "standbys": pool.standbys.iter().map(|s| json!({
                    "instance": s.instance.as_str(),
                    "state": state_text(s.state),
                    "since": utc(s.since),
                    "job": s.job.as_ref().map(ToString::to_string),
                    "member": s.member.as_ref().map(ToString::to_string),
                })).collect::<Vec<_>>(),
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    if status.pools.is_empty() {
        print_line(
            "no standbys (lxpack.pool.size sets a pool's size; `lxpack pool fill APP` fills one)",
        );
        return;
    }
    let rows: Vec<Vec<String>> = status
        .pools
        .iter()
        .map(|pool| {
            let oldest = pool
                .standbys
                .first()
                .map(|s| {
                    format!(
                        "{}s",
                        now.duration_since(s.since).unwrap_or_default().as_secs()
                    )
                })
                .unwrap_or_default();
            vec![
                pool.app.to_string(),
                pool.pool.to_string(),
                owner_text(pool.owner),
                format!("{}/{}", pool.count(StandbyState::Ready), pool.size),
                pool.count(StandbyState::Starting).to_string(),
                pool.count(StandbyState::Claimed).to_string(),
                oldest,
                if pool.current { "current" } else { "stale" }.to_owned(),
            ]
        })
        .collect();
    print_table(
        &[
            "APP", "POOL", "OWNER", "READY", "STARTING", "CLAIMED", "OLDEST", "IMAGE",
        ],
        &rows,
    );
}

fn show_fill(wiring: &Wiring, report: &FillReport) {
    if wiring.json {
        print_json(&json!({
            "event": "result",
            "app": report.app.to_string(),
            "pools": report.pools.iter().map(|pool| json!({
                "pool": pool.pool.as_str(),
                "owner": pool.owner.map(|o| format!("{}:{}", o.uid, o.gid)),
                "size": pool.size,
                "had": pool.had,
                "started": pool.started.iter().map(ToString::to_string).collect::<Vec<_>>(),
                "failures": pool.failures,
            })).collect::<Vec<_>>(),
            "retired": report.retired.iter().map(|r| json!({
                "instance": r.instance.as_str(),
                "reason": r.reason.to_string(),
            })).collect::<Vec<_>>(),
        }));
        return;
    }
    for retired in &report.retired {
        print_line(&format!(
            "retired standby {}: {}",
            retired.instance, retired.reason
        ));
    }
    for pool in &report.pools {
        print_line(&format!(
            "pool {} of {} (owner {}): had {}, started {}, size {}",
            pool.pool,
            report.app,
            owner_text(pool.owner),
            pool.had,
            pool.started.len(),
            pool.size
        ));
        for failure in &pool.failures {
            print_line(&format!("could not start: {failure}"));
        }
    }
}

fn show_retired(wiring: &Wiring, report: &RetireReport, dry_run: bool) {
    if wiring.json {
        print_json(&json!({
            "event": "result",
            "dry_run": dry_run,
            "retired": report.retired.iter().map(|r| json!({
                "instance": r.instance.as_str(),
                "app": r.app.to_string(),
                "reason": r.reason.to_string(),
                "member": r.member.as_ref().map(ToString::to_string),
            })).collect::<Vec<_>>(),
            "claimed_meanwhile": report.claimed_meanwhile.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "failures": report.failures,
        }));
        return;
    }
    let verb = if dry_run { "would retire" } else { "retired" };
    for retired in &report.retired {
        print_line(&format!(
            "{verb} standby {} of {}",
            retired.instance, retired.app
        ));
    }
    for name in &report.claimed_meanwhile {
        print_line(&format!(
            "left standby {name}: a deploy claimed it meanwhile"
        ));
    }
    for failure in &report.failures {
        print_line(&format!("could not retire: {failure}"));
    }
    if report.retired.is_empty() && report.failures.is_empty() {
        print_line("no waiting standbys");
    }
}

/// `--size`, checked by the rule of `lxpack.pool.size`.
fn fill_size(size: u64) -> Result<usize, CliError> {
    PoolSize::parse_size(size).map_err(|problem| {
        CliError::new(ExitClass::Config, format!("--size: {problem}")).with_hint(format!(
            "pass --size {} or less (lxpack.pool.size has the same limit)",
            PoolSize::MAX_SIZE
        ))
    })
}
