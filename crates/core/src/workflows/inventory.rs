//! Which images lxpack published, for which app, and whether each one's AMI twin still
//! exists: the view an operator needs before purging, computed here so that every
//! front end tells the same story about the same images.

use std::collections::BTreeMap;

use super::Workflows;
use super::error::{PortError, WorkflowError};
use crate::domain::{Ami, AmiId, AmiState, App, AppKey, Image, ImageAlias, JobId, Provenance};
use crate::events::Step;

/// What is known about an image's AMI twin.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TwinStatus {
    /// The AMI exists and is usable.
    Available,
    /// The AMI is still being built.
    Pending,
    /// The AMI was deregistered or failed, or is no longer among the app's AMIs:
    /// retention deletes this image.
    Gone,
    /// The image was built without an AMI id.
    NoAmi,
    /// No AMI catalog is configured, so nobody can tell.
    NoCatalog,
    /// The app is not in the store (removed), so its AMIs cannot be listed.
    AppUnknown,
    /// The catalog could not be asked.
    LookupFailed(String),
}

impl TwinStatus {
    /// A one-word key for machines (`exists`, `pending`, `gone`, `no_ami`,
    /// `no_catalog`, `app_unknown`, `lookup_failed`).
    #[must_use]
    pub fn key(&self) -> &'static str {
        match self {
            Self::Available => "exists",
            Self::Pending => "pending",
            Self::Gone => "gone",
            Self::NoAmi => "no_ami",
            Self::NoCatalog => "no_catalog",
            Self::AppUnknown => "app_unknown",
            Self::LookupFailed(_) => "lookup_failed",
        }
    }
}

impl std::fmt::Display for TwinStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Available => f.write_str("exists"),
            Self::Pending => f.write_str("pending"),
            Self::Gone => f.write_str("gone"),
            Self::NoAmi => f.write_str("no AMI"),
            Self::NoCatalog => f.write_str("unknown (no AMI catalog)"),
            Self::AppUnknown => f.write_str("unknown (app not in the store)"),
            Self::LookupFailed(reason) => write!(f, "unknown ({reason})"),
        }
    }
}

/// One image lxpack published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageEntry {
    /// The image.
    pub image: Image,
    /// What lxpack recorded on it.
    pub provenance: Provenance,
    /// True when it is its app's current image (deploys start from it).
    pub current: bool,
    /// True when it still has its job id as an alias, which deploys launch it by (an
    /// alias deleted by hand leaves the image, but deploys cannot find it).
    pub aliased: bool,
    /// Its AMI twin.
    pub twin: TwinStatus,
}

/// An app whose recorded image is not in the daemon's image store at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingImage {
    /// The app.
    pub app: AppKey,
    /// The job whose image the app records.
    pub job: JobId,
}

/// What [`Workflows::inventory`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Inventory {
    /// The images lxpack published, newest first.
    pub images: Vec<ImageEntry>,
    /// The apps whose recorded image is gone: deploys of them fail until buildimage
    /// runs again.
    pub missing: Vec<MissingImage>,
}

/// The states of each app's AMIs, listed once per app (or why they could not be).
type AmisByApp = BTreeMap<AppKey, Result<BTreeMap<AmiId, AmiState>, String>>;

impl Workflows {
    /// Lists the images lxpack published, for every app or for `only`, newest first,
    /// each with its AMI twin's status and whether deploys can still find it; and the
    /// apps whose recorded image is gone.
    ///
    /// # Errors
    /// `LoadApp` when `only` is not in the store; `StepFailed` when the apps or the
    /// images cannot be listed. Catalog failures are per image, in [`TwinStatus`].
    pub async fn inventory(&self, only: Option<&AppKey>) -> Result<Inventory, WorkflowError> {
        let apps = self.inventory_apps(only).await?;
        let images = self
            .ports
            .registry
            .list_images()
            .await
            .map_err(|e| list_failed(PortError::Registry(e)))?;
        let mut amis_by_app = AmisByApp::new();
        let mut entries = Vec::new();
        for image in images {
            let Some(provenance) = image.provenance() else {
                continue;
            };
            if only.is_some_and(|key| key != &provenance.app) {
                continue;
            }
            let app = apps
                .iter()
                .find(|app| app.key == provenance.app && app.color == provenance.color);
            let twin = self
                .twin_status(provenance.ami.as_ref(), app, &mut amis_by_app)
                .await;
            entries.push(ImageEntry::of(image, provenance, app, twin));
        }
        entries.sort_by(|a, b| {
            b.image
                .created_at
                .cmp(&a.image.created_at)
                .then_with(|| b.provenance.job.cmp(&a.provenance.job))
        });
        let missing = missing_images(&apps, &entries);
        Ok(Inventory {
            images: entries,
            missing,
        })
    }

    /// The app `only` names, or every app.
    async fn inventory_apps(&self, only: Option<&AppKey>) -> Result<Vec<App>, WorkflowError> {
        match only {
            Some(key) => Ok(vec![self.load_app(key).await?]),
            None => self
                .ports
                .apps
                .list_apps()
                .await
                .map_err(|e| list_failed(PortError::Store(e))),
        }
    }

    /// The status of the AMI twin `ami` of an image of `app`, listing the app's AMIs
    /// the first time one of its images asks.
    async fn twin_status(
        &self,
        ami: Option<&AmiId>,
        app: Option<&App>,
        amis_by_app: &mut AmisByApp,
    ) -> TwinStatus {
        let (ami, app, catalog) = match (ami, app, self.ports.amis.as_deref()) {
            (None, _, _) => return TwinStatus::NoAmi,
            (Some(_), _, None) => return TwinStatus::NoCatalog,
            (Some(_), None, Some(_)) => return TwinStatus::AppUnknown,
            (Some(ami), Some(app), Some(catalog)) => (ami, app, catalog),
        };
        if !amis_by_app.contains_key(&app.key) {
            let listed = catalog
                .list_app_amis(app)
                .await
                .map(|amis| states(&amis))
                .map_err(|e| e.to_string());
            amis_by_app.insert(app.key.clone(), listed);
        }
        match amis_by_app.get(&app.key) {
            Some(Ok(states)) => match states.get(ami) {
                Some(AmiState::Available) => TwinStatus::Available,
                Some(AmiState::Pending) => TwinStatus::Pending,
                Some(AmiState::Gone) | None => TwinStatus::Gone,
            },
            Some(Err(reason)) => TwinStatus::LookupFailed(reason.clone()),
            None => TwinStatus::LookupFailed("not looked up".into()),
        }
    }
}

impl ImageEntry {
    /// The entry of `image`, which `provenance` says a job of `app` (if the store
    /// knows it) published.
    fn of(image: Image, provenance: Provenance, app: Option<&App>, twin: TwinStatus) -> Self {
        let current = app
            .is_some_and(|app| app.build_infos.container_image.as_ref() == Some(&provenance.job));
        let aliased = image.has_alias(&ImageAlias::for_job(&provenance.job));
        Self {
            image,
            provenance,
            current,
            aliased,
            twin,
        }
    }
}

/// Why the inventory could not be taken: a listing failed.
fn list_failed(source: PortError) -> WorkflowError {
    WorkflowError::StepFailed {
        step: Step::ListImages,
        instance: None,
        source: Box::new(source),
    }
}

/// The apps whose recorded image is not among `entries`.
fn missing_images(apps: &[App], entries: &[ImageEntry]) -> Vec<MissingImage> {
    apps.iter()
        .filter_map(|app| {
            let job = app.build_infos.container_image.as_ref()?;
            let found = entries
                .iter()
                .any(|entry| entry.provenance.app == app.key && entry.provenance.job == *job);
            (!found).then(|| MissingImage {
                app: app.key.clone(),
                job: job.clone(),
            })
        })
        .collect()
}

fn states(amis: &[Ami]) -> BTreeMap<AmiId, AmiState> {
    amis.iter().map(|ami| (ami.id.clone(), ami.state)).collect()
}
