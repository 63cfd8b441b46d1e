//! `lxpack images purge`: the retention buildimage applies after every build, on
//! demand, with a dry run to see what would go.

use tokio_util::sync::CancellationToken;

use crate::domain::AppKey;
use crate::events::EventSink;
use crate::workflows::Workflows;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::retention::RetentionReport;
use crate::workflows::mechanics::step::StepRunner;

impl Workflows {
    /// Applies retention to `app` now. With `dry_run`, reports what would go and
    /// deletes nothing.
    ///
    /// # Errors
    /// `LoadApp` when the app cannot be loaded; listing and deletion problems are in
    /// the report, not errors.
    pub async fn purge_images(
        &self,
        app: &AppKey,
        dry_run: bool,
        events: &dyn EventSink,
    ) -> Result<RetentionReport, WorkflowError> {
        let app = self.load_app(app).await?;
        let never = CancellationToken::new();
        let runner = StepRunner {
            events,
            cancel: &never,
            instance: None,
            kill_grace: self.settings.timeouts.kill_grace,
            secrets: &crate::workflows::mechanics::step::NO_SECRETS,
        };
        Ok(self.apply_retention(&runner, &app, None, dry_run).await)
    }
}
