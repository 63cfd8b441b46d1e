//! Fakes set up for the contract suites, and deliberately broken implementations that
//! prove the suites can fail.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub(crate) mod standbys;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use lxpack_contract::commands;
use lxpack_core::domain::{
    Ami, AmiId, App, AppKey, Color, GuestPath, ImageAlias, ImageRef, ImageSelector, JobId,
    JobRecord, OsIdentity, OsType,
};
use lxpack_core::ports::{
    AmiCatalog, AmiCatalogError, AppStore, AppStoreError, ImportOutcome, JobHistory,
    JobHistoryError,
};
pub(crate) use lxpack_fake::fixtures::{ami_id, app_key as key};
use lxpack_fake::{ExecScript, FakeAmiCatalog, FakeAppStore, FakeRuntime, ImageBuilder};

/// The alias of the image the runtime suite launches from.
pub(crate) const BASE: &str = "lxpack-test-busybox";

/// The image reference of [`BASE`].
pub(crate) fn base_image() -> ImageRef {
    ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(BASE).unwrap()))
}

/// A fake daemon with the base image, whose commands behave like busybox for the
/// commands the suite runs.
pub(crate) fn busybox_runtime() -> FakeRuntime {
    let runtime = FakeRuntime::new();
    runtime.add_image(
        ImageBuilder::new(BASE)
            .alias(ImageAlias::parse(BASE).unwrap())
            .os("busybox", "1.36")
            .build(),
    );
    let files = runtime.clone();
    runtime.on_exec(move |instance, request| {
        let argv: Vec<&str> = request.command.iter().map(String::as_str).collect();
        let script = match argv.as_slice() {
            argv if *argv == commands::EXIT_3 => ExecScript::exit_code(3),
            argv if *argv == commands::TRUE => ExecScript::new(),
            argv if *argv == commands::INTERLEAVED => ExecScript::new()
                .stdout("out1\n")
                .stderr("err1\n")
                .stdout("out2\n")
                .stderr("err2\n")
                .stdout("out3\n"),
            argv if *argv == commands::IDENTITY => {
                let var = request
                    .env
                    .iter()
                    .rev()
                    .find(|(key, _)| key == commands::IDENTITY_VAR)
                    .map_or("", |(_, value)| value.as_str());
                let cwd = request.cwd.as_ref().map_or("/root", GuestPath::as_str);
                let (uid, gid) = request.user.map_or((0, 0), |user| (user.uid, user.gid));
                ExecScript::new().stdout(format!("{var}\n{cwd}\n{uid}\n{gid}\n"))
            }
            [cat] if *cat == commands::CAT => {
                ExecScript::new().stdout(request.stdin.clone().unwrap_or_default())
            }
            [cat, path] if *cat == commands::CAT => {
                match GuestPath::parse(path)
                    .ok()
                    .and_then(|path| files.file(instance, &path))
                {
                    Some(file) => ExecScript::new().stdout(file.contents),
                    None => ExecScript::new()
                        .stderr(format!(
                            "cat: can't open '{path}': No such file or directory\n"
                        ))
                        .exit(1),
                }
            }
            argv if *argv == commands::WRITE_VOLUME => {
                let mount = GuestPath::parse(commands::VOLUME_MOUNT).ok()?;
                let volume = files.volume_mounted_at(instance, &mount)?;
                files.write_volume(&volume, "file", b"kept\n");
                ExecScript::new()
            }
            argv if *argv == commands::READ_VOLUME => {
                let mount = GuestPath::parse(commands::VOLUME_MOUNT).ok()?;
                let volume = files.volume_mounted_at(instance, &mount)?;
                let kept = files
                    .volumes()
                    .into_iter()
                    .find(|v| v.name == volume)?
                    .files
                    .get("file")
                    .cloned()?;
                ExecScript::new().stdout(kept)
            }
            ["sleep", seconds] => {
                ExecScript::new().sleep(Duration::from_secs(seconds.parse().ok()?))
            }
            _ => return None,
        };
        Some(script)
    });
    runtime
}

pub(crate) fn app(name: &str, color: Option<Color>) -> App {
    let app = lxpack_fake::fixtures::bare_app(name);
    match color {
        Some(color) => app.with_color(color),
        None => app,
    }
}

pub(crate) fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

pub(crate) fn debian() -> OsIdentity {
    OsIdentity::new(OsType::Linux, "debian", "12", "amd64")
}

/// A catalog with three AMIs of `web` and foreign ones around them.
/// Returns (catalog, owned, foreign).
pub(crate) fn seeded_catalog() -> (FakeAmiCatalog, Vec<AmiId>, Vec<AmiId>) {
    let catalog = FakeAmiCatalog::new();
    let web = app("web", None);
    let owned = vec![ami_id(1), ami_id(2), ami_id(3)];
    for (index, id) in owned.iter().enumerate() {
        let seconds = [1_700_000_300, 1_700_000_100, 1_700_000_200][index];
        catalog.insert_ami(
            "eu-west-1",
            FakeAmiCatalog::app_ami(&web, id.clone(), at(seconds), debian()),
        );
    }
    let foreign = vec![ami_id(10), ami_id(11), ami_id(12)];
    let others = [
        app("web2", None),
        app("web", Some(Color::Blue)),
        app("api", None),
    ];
    for (id, other) in foreign.iter().zip(others.iter()) {
        catalog.insert_ami(
            "eu-west-1",
            FakeAmiCatalog::app_ami(other, id.clone(), at(1_700_000_400), debian()),
        );
    }
    catalog.insert_ami(
        "us-east-1",
        FakeAmiCatalog::app_ami(&web, ami_id(20), at(1_700_000_500), debian()),
    );
    (catalog, owned, foreign)
}

/// A store without the newer-job rule: the last writer wins.
pub(crate) struct LastWriterWins(pub(crate) FakeAppStore);

#[async_trait]
impl AppStore for LastWriterWins {
    async fn get_app(&self, key: &AppKey) -> Result<App, AppStoreError> {
        self.0.get_app(key).await
    }

    async fn list_apps(&self) -> Result<Vec<App>, AppStoreError> {
        self.0.list_apps().await
    }

    async fn record_container_image(
        &self,
        app: &AppKey,
        job: &JobId,
    ) -> Result<Option<JobId>, AppStoreError> {
        let mut found = self.0.get_app(app).await?;
        let previous = found.build_infos.container_image.replace(job.clone());
        self.0.insert_app(found);
        Ok(previous)
    }

    async fn import_app(&self, app: App) -> Result<ImportOutcome, AppStoreError> {
        let created = self.0.app(&app.key).is_none();
        self.0.insert_app(app);
        Ok(if created {
            ImportOutcome::Created
        } else {
            ImportOutcome::Updated
        })
    }

    async fn remove_app(&self, key: &AppKey) -> Result<bool, AppStoreError> {
        self.0.remove_app(key).await
    }
}

/// A history that keeps the first record of each job: a job never ends.
pub(crate) struct FirstRecordWins(pub(crate) FakeAppStore);

#[async_trait]
impl JobHistory for FirstRecordWins {
    async fn record_job(&self, record: &JobRecord) -> Result<(), JobHistoryError> {
        if self.0.job(&record.id).is_none() {
            self.0.record_job(record).await?;
        }
        Ok(())
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, JobHistoryError> {
        self.0.get_job(id).await
    }

    async fn list_jobs(&self, app: Option<&AppKey>) -> Result<Vec<JobRecord>, JobHistoryError> {
        self.0.list_jobs(app).await
    }

    async fn running_jobs(&self) -> Result<Vec<JobRecord>, JobHistoryError> {
        self.0.running_jobs().await
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        at: std::time::SystemTime,
    ) -> Result<bool, JobHistoryError> {
        self.0.renew_lease(id, at).await
    }

    async fn record_lost(
        &self,
        id: &JobId,
        seen: Option<std::time::SystemTime>,
        at: std::time::SystemTime,
        error: &str,
    ) -> Result<bool, JobHistoryError> {
        self.0.record_lost(id, seen, at, error).await
    }
}

/// A history whose lease renewal reads, then writes the job back running: an ended
/// job comes back to life.
pub(crate) struct RenewalResurrects(pub(crate) FakeAppStore);

#[async_trait]
impl JobHistory for RenewalResurrects {
    async fn record_job(&self, record: &JobRecord) -> Result<(), JobHistoryError> {
        self.0.record_job(record).await
    }

    async fn get_job(&self, id: &JobId) -> Result<Option<JobRecord>, JobHistoryError> {
        self.0.get_job(id).await
    }

    async fn list_jobs(&self, app: Option<&AppKey>) -> Result<Vec<JobRecord>, JobHistoryError> {
        self.0.list_jobs(app).await
    }

    async fn running_jobs(&self) -> Result<Vec<JobRecord>, JobHistoryError> {
        self.0.running_jobs().await
    }

    async fn renew_lease(
        &self,
        id: &JobId,
        at: std::time::SystemTime,
    ) -> Result<bool, JobHistoryError> {
        let Some(mut record) = self.0.get_job(id).await? else {
            return Ok(false);
        };
        record.status = lxpack_core::domain::JobStatus::Running;
        record.renewed_at = Some(at);
        self.0.record_job(&record).await?;
        Ok(true)
    }

    async fn record_lost(
        &self,
        id: &JobId,
        seen: Option<std::time::SystemTime>,
        at: std::time::SystemTime,
        error: &str,
    ) -> Result<bool, JobHistoryError> {
        self.0.record_lost(id, seen, at, error).await
    }
}

/// A catalog that lists oldest first.
pub(crate) struct OldestFirst(pub(crate) FakeAmiCatalog);

#[async_trait]
impl AmiCatalog for OldestFirst {
    async fn describe_ami(&self, region: &str, ami: &AmiId) -> Result<Ami, AmiCatalogError> {
        self.0.describe_ami(region, ami).await
    }

    async fn list_app_amis(&self, app: &App) -> Result<Vec<Ami>, AmiCatalogError> {
        let mut amis = self.0.list_app_amis(app).await?;
        amis.reverse();
        Ok(amis)
    }
}
