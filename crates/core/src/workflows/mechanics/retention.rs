//! Carrying out the retention plan of [`crate::domain::plan_retention`]: after every
//! buildimage, and on demand (`lxpack images purge`). Retention never fails a job: what
//! it could not do is reported as warnings.

use crate::domain::{AmiKnowledge, App, Doomed, JobId, plan_retention};
use crate::events::{Event, Step};
use crate::workflows::Workflows;
use crate::workflows::mechanics::step::StepRunner;

/// What retention did for one app.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RetentionReport {
    /// Images deleted (or, in a dry run, that would be).
    pub deleted: Vec<Doomed>,
    /// How many of the app's images remain.
    pub kept: usize,
    /// True when no AMI catalog is configured and only the count rule applied.
    pub count_only: bool,
    /// Why nothing was deleted, when retention was skipped.
    pub skipped: Option<String>,
    /// Deletions that failed.
    pub failures: Vec<String>,
}

impl Workflows {
    pub(crate) async fn apply_retention(
        &self,
        runner: &StepRunner<'_>,
        app: &App,
        just_published: Option<&JobId>,
        dry_run: bool,
    ) -> RetentionReport {
        let mut report = RetentionReport::default();
        runner.events.emit(Event::StepStarted {
            step: Step::Retention,
        });
        let started = tokio::time::Instant::now();
        self.retention_into(runner, app, just_published, dry_run, &mut report)
            .await;
        for warning in report.skipped.iter().chain(&report.failures) {
            runner.events.emit(Event::Warning {
                message: format!("retention for {}: {warning}", app.key),
            });
        }
        runner.events.emit(Event::StepFinished {
            step: Step::Retention,
            duration: started.elapsed(),
            succeeded: report.skipped.is_none() && report.failures.is_empty(),
        });
        report
    }

    async fn retention_into(
        &self,
        runner: &StepRunner<'_>,
        app: &App,
        just_published: Option<&JobId>,
        dry_run: bool,
        report: &mut RetentionReport,
    ) {
        let amis = match self.ports.amis.as_deref() {
            Some(catalog) => match catalog.list_app_amis(app).await {
                Ok(amis) => Some(amis),
                Err(error) => {
                    report.skipped = Some(format!(
                        "nothing deleted, because the AMI list could not be read: {error}"
                    ));
                    return;
                }
            },
            None => None,
        };
        let images = match self.ports.registry.list_images().await {
            Ok(images) => images,
            Err(error) => {
                report.skipped = Some(format!(
                    "nothing deleted, because the images could not be listed: {error}"
                ));
                return;
            }
        };
        let knowledge = match &amis {
            Some(list) => AmiKnowledge::Listed(list),
            None => {
                report.count_only = true;
                runner.events.emit(Event::Warning {
                    message: format!(
                        "retention for {}: no AMI catalog is configured, so only the count rule (keep {}) applies",
                        app.key, self.settings.retention.keep_latest
                    ),
                });
                AmiKnowledge::Unknown
            }
        };
        let plan = plan_retention(
            app,
            &images,
            knowledge,
            self.settings.retention,
            just_published,
        );
        report.kept = plan.keep.len();
        for doomed in plan.delete {
            if !dry_run
                && let Err(error) = self.ports.registry.delete_image(&doomed.fingerprint).await
            {
                report.failures.push(format!(
                    "could not delete image {}: {error}",
                    doomed.fingerprint
                ));
                continue;
            }
            report.deleted.push(doomed);
        }
    }
}
