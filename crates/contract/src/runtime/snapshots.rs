//! The step snapshots part of the runtime contract: snapshots of a running instance
//! (and their `AlreadyExists` and `NotFound`), an instance launched from one that holds
//! the files of the moment it was taken, and the stopped source kept as the step
//! holder of their keys, with only the base profiles left. It runs when the runtime
//! offers step snapshots.

use std::time::Duration;

use lxpack_core::domain::{
    ExecRequest, FileSpec, GuestPath, InstanceName, OutputStream, ProfileName, ProfileSpec,
    SnapshotSource, StepInputs, StepKey, step_keys,
};
use lxpack_core::ports::{ResourceKind, RuntimeError, StepSnapshots};
use tokio_util::sync::CancellationToken;

use super::{Collected, Suite, commands, contract_labels};
use crate::report::Checker;

/// The file the source holds when its first snapshot is taken, and after.
const STEP_FILE: &str = "/tmp/lxpack-contract-step";
const BEFORE: &[u8] = b"before the snapshot\n";
const AFTER: &[u8] = b"after the snapshot\n";

/// The names of the step snapshots part, under the fixture's prefix.
pub(super) struct SnapshotNames {
    /// The instance snapshotted, then kept as the step holder, and its own profile.
    source: InstanceName,
    profile: ProfileName,
    /// The instance launched from a snapshot.
    copy: InstanceName,
    /// An instance that never exists.
    missing: InstanceName,
}

impl SnapshotNames {
    pub(super) fn new(prefix: &str) -> Result<Self, String> {
        let instance =
            |s: &str| InstanceName::parse(&format!("{prefix}-{s}")).map_err(|e| e.to_string());
        Ok(Self {
            source: instance("steps")?,
            profile: ProfileName::parse(&format!("{prefix}-steps")).map_err(|e| e.to_string())?,
            copy: instance("steps-copy")?,
            missing: instance("no-steps")?,
        })
    }

    /// The copy before its source.
    pub(super) fn instances(&self) -> [&InstanceName; 2] {
        [&self.copy, &self.source]
    }

    pub(super) fn profiles(&self) -> [&ProfileName; 1] {
        [&self.profile]
    }
}

/// The keys of two steps, under the fixture's prefix.
fn contract_keys(prefix: &str) -> Vec<StepKey> {
    let steps = [
        StepInputs::new("contract").with("first"),
        StepInputs::new("contract").with("second"),
    ];
    step_keys(prefix, &steps)
}

impl Suite<'_> {
    pub(super) async fn snapshots(&self, checker: &mut Checker, port: &dyn StepSnapshots) {
        let names = &self.names.snapshots;
        let keys = contract_keys(&self.fixture.prefix);
        let Ok(path) = GuestPath::parse(STEP_FILE) else {
            return;
        };
        if !self.snapshot_source(checker, &path).await {
            return;
        }
        let first = keys[0].snapshot_name();
        if checker
            .ok(
                "snapshot_instance of a running instance",
                port.snapshot_instance(&names.source, &first),
            )
            .await
            .is_none()
        {
            return;
        }
        checker
            .err(
                "snapshot_instance with a taken name",
                "AlreadyExists",
                port.snapshot_instance(&names.source, &first),
                |e| matches!(e, RuntimeError::AlreadyExists { .. }),
            )
            .await;
        checker
            .err(
                "snapshot_instance of a missing instance",
                "NotFound",
                port.snapshot_instance(&names.missing, &first),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
        let after = FileSpec {
            path: path.clone(),
            contents: AFTER.to_vec(),
            mode: 0o644,
        };
        checker
            .ok(
                "push_file after the snapshot",
                self.runtime.push_file(&names.source, &after),
            )
            .await;
        checker
            .ok(
                "snapshot_instance again, under another name",
                port.snapshot_instance(&names.source, &keys[1].snapshot_name()),
            )
            .await;
        self.launched_from_snapshot(checker, &first, &path).await;
        self.step_holder(checker, port, &keys).await;
        for instance in self.names.snapshots.instances() {
            checker
                .ok(
                    "delete_instance of a snapshot's copy, then of its holder",
                    self.runtime.delete_instance(instance),
                )
                .await;
        }
    }

    /// Launches the source with its own profile and writes the step file into it;
    /// false (the check failed) when it cannot.
    async fn snapshot_source(&self, checker: &mut Checker, path: &GuestPath) -> bool {
        let names = &self.names.snapshots;
        let profile = ProfileSpec {
            name: names.profile.clone(),
            description: "lxpack contract suite: step holder".to_owned(),
            mounts: vec![],
            labels: Some(contract_labels()),
            standby: None,
        };
        if checker
            .ok(
                "create_profile for a step holder",
                self.runtime.create_profile(&profile),
            )
            .await
            .is_none()
        {
            return false;
        }
        let mut spec = self.launch_spec(&names.source);
        spec.profile = Some(names.profile.clone());
        spec.labels = Some(contract_labels());
        if checker
            .ok(
                "launch_instance to snapshot",
                self.runtime
                    .launch_instance(&spec, &CancellationToken::new()),
            )
            .await
            .is_none()
        {
            return false;
        }
        let before = FileSpec {
            path: path.clone(),
            contents: BEFORE.to_vec(),
            mode: 0o644,
        };
        checker
            .ok(
                "push_file before the snapshot",
                self.runtime.push_file(&names.source, &before),
            )
            .await
            .is_some()
    }

    /// An instance launched from `snapshot` holds the file as it was when the
    /// snapshot was taken.
    async fn launched_from_snapshot(
        &self,
        checker: &mut Checker,
        snapshot: &str,
        path: &GuestPath,
    ) {
        let names = &self.names.snapshots;
        let mut spec = self.launch_spec(&names.copy);
        spec.from_snapshot = Some(SnapshotSource {
            instance: names.source.clone(),
            snapshot: snapshot.to_owned(),
        });
        let cancel = CancellationToken::new();
        if checker
            .ok(
                "launch_instance from a snapshot",
                self.runtime.launch_instance(&spec, &cancel),
            )
            .await
            .is_none()
        {
            return;
        }
        let output = Collected::default();
        let read = ExecRequest::new([commands::CAT, path.as_str()], Duration::from_secs(60));
        let code = checker
            .ok(
                "exec in the instance launched from a snapshot",
                self.runtime.exec(&names.copy, &read, &output, &cancel),
            )
            .await;
        checker.that(
            "an instance launched from a snapshot holds the files of the snapshot's moment",
            code == Some(0) && output.text(OutputStream::Stdout).as_bytes() == BEFORE,
            format!("exit 0 and {:?}", String::from_utf8_lossy(BEFORE)),
            (code, output.text(OutputStream::Stdout)),
        );
    }

    /// The stopped source kept as the holder of `keys`: listed with them, left only the
    /// base profiles (so its own can be deleted).
    async fn step_holder(&self, checker: &mut Checker, port: &dyn StepSnapshots, keys: &[StepKey]) {
        let names = &self.names.snapshots;
        checker
            .ok(
                "stop_instance of the step holder",
                self.runtime.stop_instance(&names.source, None),
            )
            .await;
        checker
            .ok(
                "keep_as_step_holder",
                port.keep_as_step_holder(&names.source, keys),
            )
            .await;
        if let Some(resources) = checker
            .ok(
                "list_resources after keep_as_step_holder",
                self.runtime.list_resources(),
            )
            .await
        {
            let steps = resources
                .iter()
                .find(|r| r.kind == ResourceKind::Instance && r.name == names.source.as_str())
                .map(|r| r.steps.clone());
            checker.that(
                "list_resources gives the step holder its keys",
                steps.as_deref() == Some(keys),
                format!("{keys:?}"),
                steps,
            );
        }
        checker
            .ok(
                "the step holder keeps only the base profiles: its own is deleted",
                self.runtime.delete_profile(&names.profile),
            )
            .await;
        checker
            .err(
                "keep_as_step_holder of a missing instance",
                "NotFound",
                port.keep_as_step_holder(&names.missing, keys),
                |e| matches!(e, RuntimeError::NotFound { .. }),
            )
            .await;
    }
}
