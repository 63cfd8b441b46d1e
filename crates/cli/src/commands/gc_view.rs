//! How `lxpack gc`'s report reads: one JSON document for machines, lines for people.

use lxpack_core::ports::Resource;
use lxpack_core::workflows::{SpareReason, Spared, SweepReport};
use serde_json::{Value, json};

use super::output::utc;

/// The report as one JSON document.
pub(crate) fn report_json(report: &SweepReport, dry_run: bool) -> Value {
    json!({
        "event": "result",
        "dry_run": dry_run,
        "removed": resources_json(report.removed.iter().map(|r| (r, None))),
        "spared": resources_json(report.spared.iter().map(|s| (&s.resource, Some(s)))),
        "foreign": resources_json(report.foreign.iter().map(|r| (r, None))),
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
    })
}

/// Resources, with why each was spared when it was.
fn resources_json<'a>(items: impl Iterator<Item = (&'a Resource, Option<&'a Spared>)>) -> Value {
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
        .collect()
}

/// The report as lines for people: what was found, what went, what stayed and why,
/// what failed.
pub(crate) fn report_lines(report: &SweepReport, dry_run: bool) -> Vec<String> {
    let mut lines = found_lines(report, dry_run);
    lines.extend(removed_lines(report, dry_run));
    lines.extend(left_lines(report));
    lines.extend(
        report
            .failures
            .iter()
            .map(|failure| format!("could not remove: {failure}")),
    );
    if report.removed.is_empty() && report.caches.removed.is_empty() && report.failures.is_empty() {
        lines.push("nothing to remove".to_owned());
    }
    lines
}

/// The lost jobs and the cluster members the sweep could not judge.
fn found_lines(report: &SweepReport, dry_run: bool) -> Vec<String> {
    let lost = report.lost_jobs.iter().map(|job| {
        format!(
            "job {job} was recorded as running, but its process is gone: {}",
            if dry_run {
                "would record it as lost"
            } else {
                "recorded it as lost"
            }
        )
    });
    let members = report.unreachable_members.iter().map(|member| {
        format!(
            "skipped cluster member {} ({}): it is {} ({})",
            member.name,
            member.url,
            member.status.to_lowercase(),
            member.message
        )
    });
    lost.chain(members).collect()
}

/// The instances, profiles and cache volumes removed (or that would be).
fn removed_lines(report: &SweepReport, dry_run: bool) -> Vec<String> {
    let verb = if dry_run { "would remove" } else { "removed" };
    let resources = report.removed.iter().map(|resource| {
        format!(
            "{verb} {} {}{}",
            resource.kind,
            resource.name,
            on_member(resource)
        )
    });
    let caches = report.caches.removed.iter().map(|cache| {
        format!(
            "{verb} cache volume {} ({} module {} {}): {}",
            cache.volume, cache.key.app, cache.key.module, cache.key.path, cache.why
        )
    });
    resources.chain(caches).collect()
}

/// What was left alone, and why.
fn left_lines(report: &SweepReport) -> Vec<String> {
    let spared = report.spared.iter().map(|spared| {
        format!(
            "left {} {}{} alone: {}",
            spared.resource.kind,
            spared.resource.name,
            on_member(&spared.resource),
            spare_reason(spared)
        )
    });
    let foreign = report.foreign.iter().map(|resource| {
        format!(
            "left {} {} alone: not lxpack's (it has no lxpack labels)",
            resource.kind, resource.name
        )
    });
    spared.chain(foreign).collect()
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
