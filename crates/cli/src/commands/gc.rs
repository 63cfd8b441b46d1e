//! `lxpack gc`: the sweep of what crashed or killed jobs left behind.

use lxpack_core::ports::Resource;
use lxpack_core::workflows::{SpareReason, Spared};
use serde_json::json;

use super::output::{print_json, print_line, utc};
use crate::args::GcArgs;
use crate::exit::{CliError, ExitClass};
use crate::render::{Renderer, View};
use crate::wiring::Wiring;

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: GcArgs) -> Result<(), CliError> {
    let workflows = wiring.workflows(&wiring.stores()?)?;
    let renderer = Renderer::new(View::choose(wiring.json), None);
    let report = workflows
        .sweep(args.dry_run, std::time::SystemTime::now(), &renderer)
        .await;
    renderer.finish();
    let report = report.map_err(CliError::from)?;
    if wiring.json {
        let list = |items: &mut dyn Iterator<Item = (&Resource, Option<&Spared>)>| {
            items
                .map(|(resource, spared)| {
                    json!({
                        "kind": resource.kind.as_str(),
                        "name": resource.name,
                        "job": resource.labels.as_ref().map(|labels| labels.job.to_string()),
                        "member": resource.member.as_ref().map(ToString::to_string),
                        "reason": spared.map(|s| s.reason.as_str()),
                        "kept_until": spared.and_then(|s| s.kept_until).map(utc),
                    })
                })
                .collect::<Vec<_>>()
        };
        print_json(&json!({
            "event": "result",
            "dry_run": args.dry_run,
            "removed": list(&mut report.removed.iter().map(|r| (r, None))),
            "spared": list(&mut report.spared.iter().map(|s| (&s.resource, Some(s)))),
            "foreign": list(&mut report.foreign.iter().map(|r| (r, None))),
            "lost_jobs": report.lost_jobs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "cache_volumes_removed": report.caches.removed.iter().map(|c| json!({
                "volume": c.volume.as_str(),
                "app": c.key.app.to_string(),
                "module": c.key.module,
                "path": c.key.path.as_str(),
                "job": c.job.as_str(),
                "why": c.why,
            })).collect::<Vec<_>>(),
            "failures": report.failures,
            "unreachable_members": report.unreachable_members.iter().map(|member| json!({
                "name": member.name.as_str(),
                "url": member.url,
                "status": member.status,
                "message": member.message,
            })).collect::<Vec<_>>(),
        }));
    } else {
        let verb = if args.dry_run {
            "would remove"
        } else {
            "removed"
        };
        for job in &report.lost_jobs {
            print_line(&format!(
                "job {job} was recorded as running, but its process is gone: {}",
                if args.dry_run {
                    "would record it as lost"
                } else {
                    "recorded it as lost"
                }
            ));
        }
        for member in &report.unreachable_members {
            print_line(&format!(
                "skipped cluster member {} ({}): it is {} ({})",
                member.name,
                member.url,
                member.status.to_lowercase(),
                member.message
            ));
        }
        for resource in &report.removed {
            print_line(&format!(
                "{verb} {} {}{}",
                resource.kind,
                resource.name,
                on_member(resource)
            ));
        }
        for cache in &report.caches.removed {
            print_line(&format!(
                "{verb} cache volume {} ({} module {} {}): {}",
                cache.volume, cache.key.app, cache.key.module, cache.key.path, cache.why
            ));
        }
        for spared in &report.spared {
            print_line(&format!(
                "left {} {}{} alone: {}",
                spared.resource.kind,
                spared.resource.name,
                on_member(&spared.resource),
                spare_reason(spared)
            ));
        }
        for resource in &report.foreign {
            print_line(&format!(
                "left {} {} alone: not lxpack's (it has no lxpack labels)",
                resource.kind, resource.name
            ));
        }
        for failure in &report.failures {
            print_line(&format!("could not remove: {failure}"));
        }
        if report.removed.is_empty()
            && report.caches.removed.is_empty()
            && report.failures.is_empty()
        {
            print_line("nothing to remove");
        }
    }
    if report.failures.is_empty() {
        Ok(())
    } else {
        Err(CliError::new(
            ExitClass::Cleanup,
            format!("{} leftover(s) could not be removed", report.failures.len()),
        )
        .with_hint(
            "see the failures above; remove them with `lxc delete --force NAME` and `lxc profile delete NAME` (`incus` on Incus)",
        ))
    }
}

/// ` on member M` for an instance on a cluster member.
fn on_member(resource: &Resource) -> String {
    resource
        .member
        .as_ref()
        .map_or_else(String::new, |member| format!(" on member {member}"))
}

fn spare_reason(spared: &Spared) -> String {
    match spared.reason {
        SpareReason::MemberUnreachable => {
            "its cluster member cannot be reached; a gc once the member is back removes it".into()
        }
        SpareReason::Running => "its job is running".into(),
        SpareReason::UnknownJob => {
            "its job is not in this store and may be running from another host; it goes once older than any job can be".into()
        }
        SpareReason::Kept => format!(
            "kept for inspection until {} UTC (lxpack.keep.expiry); it goes after that",
            spared.kept_until.map_or_else(|| "its expiry".to_owned(), utc)
        ),
        SpareReason::Releasing => {
            "its job released it a moment ago and it is stopping; the next look confirms it went".into()
        }
        SpareReason::Standby => {
            "a standby of a pool, waiting for a deploy (`lxpack pool list`; `lxpack pool drain` retires it)".into()
        }
        SpareReason::StepSnapshots => {
            "it holds the step snapshots of an image that still exists; it goes with the image (retention, `lxpack images purge`)".into()
        }
        _ => "its job may be running".into(),
    }
}
