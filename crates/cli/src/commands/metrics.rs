//! `lxpack metrics`: the job history, the images lxpack published and the containers
//! jobs kept, in Prometheus' text exposition format (as the `prometheus` crate encodes
//! it), on stdout or into a file written atomically for node_exporter's textfile
//! collector. Every figure is computed afresh from the history and the daemon, so the
//! counters are totals over the history, not over this process's life.

use std::io::Write as _;
use std::path::Path;

use lxpack_core::domain::JobRecord;
use lxpack_core::workflows::{AppImages, KeptContainer};
use prometheus::{
    Encoder as _, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder, exponential_buckets,
};

use crate::args::MetricsArgs;
use crate::exit::{CliError, ExitClass};
use crate::wiring::Wiring;

/// A metric that could not be built or filled: a bug in this file (names, labels).
fn broken(error: prometheus::Error) -> CliError {
    CliError::new(
        ExitClass::Failure,
        format!("cannot build the metrics: {error}"),
    )
}

/// Runs the subcommand.
pub(crate) async fn run(wiring: &Wiring, args: MetricsArgs) -> Result<(), CliError> {
    let stores = wiring.stores().await?;
    let jobs = stores
        .jobs
        .list_jobs(None)
        .await
        .map_err(|e| CliError::new(ExitClass::Store, e))?;
    let registry = Registry::new_custom(Some("lxpack".to_owned()), None).map_err(broken)?;
    register_jobs(&registry, &jobs).map_err(broken)?;

    // The daemon's side is best effort: a daemon that is down must not stop the
    // history's metrics, and says so in its own gauge.
    let reachable = IntGauge::new(
        "daemon_reachable",
        "1 when the container daemon answered for the image and kept-container metrics, 0 when it did not",
    )
    .map_err(broken)?;
    registry
        .register(Box::new(reachable.clone()))
        .map_err(broken)?;
    match wiring.workflows(&stores) {
        Ok(workflows) => {
            let images = workflows.images_by_app().await;
            let kept = workflows.kept_containers().await;
            match (images, kept) {
                (Ok(images), Ok(kept)) => {
                    reachable.set(1);
                    register_daemon(&registry, &images, &kept).map_err(broken)?;
                }
                (Err(error), _) | (_, Err(error)) => warn(&CliError::from(error)),
            }
        }
        Err(error) => warn(&error),
    }

    let mut text = Vec::new();
    TextEncoder::new()
        .encode(&registry.gather(), &mut text)
        .map_err(broken)?;
    match &args.output {
        Some(path) => write_atomically(path, &text),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(&text).and_then(|()| out.flush()) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    Err(CliError::new(ExitClass::Failure, e))
                }
                _ => Ok(()),
            }
        }
    }
}

/// Jobs by command and status, and the durations of ended jobs and of their steps.
fn register_jobs(registry: &Registry, jobs: &[JobRecord]) -> prometheus::Result<()> {
    let totals = IntCounterVec::new(
        Opts::new(
            "jobs_total",
            "Jobs in the job history, by command and status",
        ),
        &["command", "status"],
    )?;
    // Jobs last from seconds to hours: 1 s to about 9 h, doubling.
    let durations = HistogramVec::new(
        HistogramOpts::new(
            "job_duration_seconds",
            "How long ended jobs ran, by command and status",
        )
        .buckets(exponential_buckets(1.0, 2.0, 16)?),
        &["command", "status"],
    )?;
    // Steps last from milliseconds (API calls) to hours: 10 ms to about 11.6 h.
    let steps = HistogramVec::new(
        HistogramOpts::new(
            "step_duration_seconds",
            "How long jobs' steps ran, by command and step",
        )
        .buckets(exponential_buckets(0.01, 4.0, 12)?),
        &["command", "step"],
    )?;
    for job in jobs {
        let labels = [job.command.as_str(), job.status.as_str()];
        totals.get_metric_with_label_values(&labels)?.inc();
        if let Some(duration) = job.duration() {
            durations
                .get_metric_with_label_values(&labels)?
                .observe(duration.as_secs_f64());
        }
        for step in &job.steps {
            steps
                .get_metric_with_label_values(&[job.command.as_str(), step.step.as_str()])?
                .observe(step.duration.as_secs_f64());
        }
    }
    registry.register(Box::new(totals))?;
    registry.register(Box::new(durations))?;
    registry.register(Box::new(steps))
}

/// Images per app, and kept containers.
fn register_daemon(
    registry: &Registry,
    images: &[AppImages],
    kept: &[KeptContainer],
) -> prometheus::Result<()> {
    let counts = IntGaugeVec::new(
        Opts::new("images", "Images lxpack published, per app (name/env/role)"),
        &["app"],
    )?;
    let bytes = IntGaugeVec::new(
        Opts::new(
            "image_bytes",
            "Size of the images lxpack published, per app, in bytes",
        ),
        &["app"],
    )?;
    for app in images {
        let name = app.app.to_string();
        counts
            .get_metric_with_label_values(&[name.as_str()])?
            .set(i64::try_from(app.count).unwrap_or(i64::MAX));
        bytes
            .get_metric_with_label_values(&[name.as_str()])?
            .set(i64::try_from(app.bytes).unwrap_or(i64::MAX));
    }
    let containers = IntGaugeVec::new(
        Opts::new(
            "kept_containers",
            "Containers jobs kept for inspection, by command; expired ones go at the next lxpack gc",
        ),
        &["command", "expired"],
    )?;
    for command in ["buildimage", "deploy"] {
        for expired in [false, true] {
            let count = kept
                .iter()
                .filter(|k| k.command.as_str() == command && k.expired == expired)
                .count();
            containers
                .get_metric_with_label_values(&[command, if expired { "true" } else { "false" }])?
                .set(i64::try_from(count).unwrap_or(i64::MAX));
        }
    }
    registry.register(Box::new(counts))?;
    registry.register(Box::new(bytes))?;
    registry.register(Box::new(containers))
}

fn warn(error: &CliError) {
    let mut stderr = std::io::stderr().lock();
    let _ = writeln!(
        stderr,
        "warning: no image or kept-container metrics (lxpack_daemon_reachable 0): {}",
        error.error
    );
}

/// Writes `bytes` to a temporary file beside `path`, then renames it over `path`, so a
/// reader (node_exporter) sees the old file or the new one, never half of one.
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let fail = |what: &str, e: std::io::Error| {
        CliError::new(
            ExitClass::Failure,
            format!("cannot {what} {}: {e}", path.display()),
        )
        .with_hint("pass --output a file in a directory lxpack can write (node_exporter's --collector.textfile.directory)")
    };
    let name = path
        .file_name()
        .ok_or_else(|| fail("write", std::io::Error::other("not a file name")))?;
    let mut temporary = path.to_path_buf();
    temporary.set_file_name(format!(
        ".{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id()
    ));
    let written = std::fs::File::create(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(fail("write", e));
    }
    std::fs::rename(&temporary, path).map_err(|e| {
        let _ = std::fs::remove_file(&temporary);
        fail("replace", e)
    })
}
