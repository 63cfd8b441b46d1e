//! The mechanics the entry points are built of: how a job is recorded and run
//! (`job`, `step`) and keeps its lease (`lease`), what it creates and how that goes again (`launch`, `readiness`,
//! `cleanup`, `release`), a failed step explained by its resource class (`limits`),
//! the standbys a deploy claims and the caches it copies
//! (`standbys`, `caches`), and the parts of a build (`build_steps`, `provisioning`,
//! `scripts`, `source_image`, `retention`), and the secrets delivered as files
//! (`secret_files`). A mechanic never calls an entry point:
//! what two entry points share lives here.

pub(crate) mod build_steps;
pub(crate) mod caches;
pub(crate) mod cleanup;
pub(crate) mod job;
pub(crate) mod launch;
pub(crate) mod lease;
pub(crate) mod limits;
pub(crate) mod network;
pub(crate) mod output_tail;
pub(crate) mod provisioning;
pub(crate) mod readiness;
pub(crate) mod release;
pub(crate) mod retention;
pub(crate) mod scripts;
pub(crate) mod secret_files;
pub(crate) mod source_image;
pub(crate) mod standbys;
pub(crate) mod step;
