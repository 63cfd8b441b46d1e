//! The cache volumes part of the runtime contract: create (empty, and as a copy that
//! holds the source's files with their owners), mark, list with marks and users,
//! refusal while mounted, usage, delete; and each `NotFound` or `AlreadyExists`.
//! It runs when the runtime offers the cache volumes capability.

use lxpack_core::domain::{
    AppKey, CacheKey, CacheMark, CacheState, DiskMount, ExecRequest, GuestPath, InstanceName,
    MountSource, ProfileName, ProfileSpec, VolumeName,
};
use lxpack_core::ports::{CacheVolumes, RuntimeError, VolumeSpec};
use tokio_util::sync::CancellationToken;

use super::{Collected, Suite, contract_job, contract_labels};
use crate::report::Checker;

use super::commands::{READ_VOLUME, VOLUME_MOUNT as MOUNT, WRITE_VOLUME};

/// The names of the volume part, under the fixture's prefix.
pub(super) struct VolumeNames {
    first: VolumeName,
    copy: VolumeName,
    missing: VolumeName,
    instance: InstanceName,
    profile: ProfileName,
    mount: GuestPath,
}

impl VolumeNames {
    pub(super) fn new(prefix: &str) -> Result<Self, String> {
        Ok(Self {
            first: VolumeName::new(format!("{prefix}-va")),
            copy: VolumeName::new(format!("{prefix}-vb")),
            missing: VolumeName::new(format!("{prefix}-vmissing")),
            instance: InstanceName::parse(&format!("{prefix}-vi")).map_err(|e| e.to_string())?,
            profile: ProfileName::parse(&format!("{prefix}-vi")).map_err(|e| e.to_string())?,
            mount: GuestPath::parse(MOUNT).map_err(|e| e.to_string())?,
        })
    }
}

fn mark(prefix: &str, mount: &GuestPath) -> CacheMark {
    let key = CacheKey {
        app: AppKey::new(prefix, "contract", "volumes"),
        module: "m".to_owned(),
        path: mount.clone(),
    };
    CacheMark::copy(&key, &contract_job())
}

fn spec(name: &VolumeName, copy_of: Option<&VolumeName>, mark: &CacheMark) -> VolumeSpec {
    VolumeSpec {
        name: name.clone(),
        copy_of: copy_of.cloned(),
        mark: mark.clone(),
        quota: Some(64 << 20),
    }
}

impl Suite<'_> {
    pub(super) async fn volumes(&self, checker: &mut Checker, volumes: &dyn CacheVolumes) {
        let names = &self.volume_names;
        let mark = mark(&self.fixture.prefix, &names.mount);
        if checker
            .ok(
                "create_volume empty, with a quota",
                volumes.create_volume(&spec(&names.first, None, &mark)),
            )
            .await
            .is_none()
        {
            return;
        }
        checker
            .err(
                "create_volume of a taken name",
                "AlreadyExists",
                volumes.create_volume(&spec(&names.first, None, &mark)),
                |e| matches!(e, RuntimeError::AlreadyExists { .. }),
            )
            .await;
        if let Some(volumes) = checker.ok("list_volumes", volumes.list_volumes()).await {
            let listed = volumes.iter().find(|v| v.name == names.first);
            checker.that(
                "list_volumes reads the mark back",
                listed.and_then(|v| v.mark.as_ref()) == Some(&mark),
                format!("{} with {mark:?}", names.first),
                format!("{listed:?}"),
            );
        }
        // Mounted, a non-root user writes to it once the root hands it over.
        let cancel = CancellationToken::new();
        if !self
            .mounted(checker, &names.first, "a volume", &cancel)
            .await
        {
            return;
        }
        let user = self.fixture.exec_user;
        let chown = ExecRequest::new(
            vec![
                "chown".into(),
                format!("{}:{}", user.uid, user.gid),
                MOUNT.into(),
            ],
            self.fixture.launch_timeout,
        );
        let mut write = ExecRequest::new(WRITE_VOLUME, self.fixture.launch_timeout);
        write.user = Some(user);
        for (check, request) in [
            ("the root hands the volume over", chown),
            ("a user writes to the volume", write),
        ] {
            let code = checker
                .ok(
                    check,
                    self.runtime
                        .exec(&names.instance, &request, &Collected::default(), &cancel),
                )
                .await;
            checker.that(
                &format!("{check}: exit 0"),
                code == Some(0),
                0,
                format!("{code:?}"),
            );
        }
        if let Some(volumes) = checker
            .ok("list_volumes while mounted", volumes.list_volumes())
            .await
        {
            let users = volumes
                .iter()
                .find(|v| v.name == names.first)
                .map(|v| v.used_by.clone());
            checker.that(
                "list_volumes names the instance that mounts it",
                users
                    .as_ref()
                    .is_some_and(|u| u.iter().any(|user| user.contains(names.instance.as_str()))),
                names.instance.as_str(),
                format!("{users:?}"),
            );
        }
        checker
            .err(
                "delete_volume while mounted",
                "InUse { what: \"volume\" }",
                volumes.delete_volume(&names.first),
                |e| matches!(e, RuntimeError::InUse { what: "volume", .. }),
            )
            .await;
        self.unmounted(checker).await;

        // A copy holds the source's files, with their owner.
        if checker
            .ok(
                "create_volume as a copy",
                volumes.create_volume(&spec(&names.copy, Some(&names.first), &mark)),
            )
            .await
            .is_some()
        {
            self.copied_files(checker).await;
        }
        checker
            .err(
                "create_volume as a copy of a missing volume",
                "NotFound",
                volumes.create_volume(&spec(&names.missing, Some(&names.missing), &mark)),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
        checker
            .ok("volume_usage", volumes.volume_usage(&names.copy))
            .await;
        let promoted = mark.promoted(Some(1));
        checker
            .ok("mark_volume", volumes.mark_volume(&names.copy, &promoted))
            .await;
        if let Some(volumes) = checker
            .ok("list_volumes after mark_volume", volumes.list_volumes())
            .await
        {
            let state = volumes
                .iter()
                .find(|v| v.name == names.copy)
                .and_then(|v| v.mark.as_ref())
                .map(|m| m.state);
            checker.that(
                "mark_volume replaces the mark",
                state == Some(CacheState::Current),
                "current",
                format!("{state:?}"),
            );
        }
        checker
            .err(
                "mark_volume of a missing volume",
                "NotFound",
                volumes.mark_volume(&names.missing, &promoted),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
        for volume in [&names.first, &names.copy] {
            checker
                .ok("delete_volume", volumes.delete_volume(volume))
                .await;
        }
        checker
            .err(
                "delete_volume of a missing volume",
                "NotFound",
                volumes.delete_volume(&names.missing),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }

    /// Mounts the copy and reads the file the user wrote to its source, as that user.
    async fn copied_files(&self, checker: &mut Checker) {
        let names = &self.volume_names;
        let cancel = CancellationToken::new();
        if self
            .mounted(checker, &names.copy, "the copy", &cancel)
            .await
        {
            let mut read = ExecRequest::new(READ_VOLUME, self.fixture.launch_timeout);
            read.user = Some(self.fixture.exec_user);
            let output = Collected::default();
            let code = checker
                .ok(
                    "read the copy as the user",
                    self.runtime.exec(&names.instance, &read, &output, &cancel),
                )
                .await;
            let text = output.text(lxpack_core::domain::OutputStream::Stdout);
            checker.that(
                "the copy holds the source's file, writable by its owner",
                code == Some(0) && text == "kept\n",
                "exit 0 and kept",
                format!("{code:?} {text:?}"),
            );
        }
        self.unmounted(checker).await;
    }

    /// Launches the suite's instance with `volume` mounted, through a profile of its
    /// own; false (the check failed) when either cannot be made.
    async fn mounted(
        &self,
        checker: &mut Checker,
        volume: &VolumeName,
        what: &str,
        cancel: &CancellationToken,
    ) -> bool {
        let names = &self.volume_names;
        let profile = ProfileSpec {
            name: names.profile.clone(),
            description: format!("lxpack contract suite: {what}"),
            mounts: vec![DiskMount {
                device: "cache".to_owned(),
                source: MountSource::Volume(volume.clone()),
                target: names.mount.clone(),
                read_only: false,
                owner: None,
            }],
            labels: Some(contract_labels()),
            standby: None,
        };
        if checker
            .ok(
                &format!("create_profile with {what}"),
                self.runtime.create_profile(&profile),
            )
            .await
            .is_none()
        {
            return false;
        }
        let mut launch = self.launch_spec(&names.instance);
        launch.profile = Some(names.profile.clone());
        checker
            .ok(
                &format!("launch_instance with {what}"),
                self.runtime.launch_instance(&launch, cancel),
            )
            .await
            .is_some()
    }

    /// Deletes the instance [`mounted`](Self::mounted) launched, and its profile.
    async fn unmounted(&self, checker: &mut Checker) {
        let names = &self.volume_names;
        checker
            .ok(
                "delete the instance",
                self.runtime.delete_instance(&names.instance),
            )
            .await;
        checker
            .ok(
                "delete its profile",
                self.runtime.delete_profile(&names.profile),
            )
            .await;
    }

    /// Removes what the volume part made; problems are returned.
    pub(super) async fn remove_volumes(&self, checker: &Checker) -> Vec<String> {
        let Some(volumes) = self.capabilities.cache_volumes.as_deref() else {
            return Vec::new();
        };
        let names = &self.volume_names;
        let mut problems = Vec::new();
        match checker
            .bounded(self.runtime.delete_instance(&names.instance))
            .await
        {
            Ok(Ok(()) | Err(RuntimeError::NotFound { .. })) => {}
            other => problems.push(format!("delete instance {}: {other:?}", names.instance)),
        }
        match checker
            .bounded(self.runtime.delete_profile(&names.profile))
            .await
        {
            Ok(Ok(()) | Err(RuntimeError::NotFound { .. })) => {}
            other => problems.push(format!("delete profile {}: {other:?}", names.profile)),
        }
        for volume in [&names.first, &names.copy, &names.missing] {
            match checker.bounded(volumes.delete_volume(volume)).await {
                Ok(Ok(()) | Err(RuntimeError::NotFound { .. })) => {}
                other => problems.push(format!("delete volume {volume}: {other:?}")),
            }
        }
        problems
    }
}
