//! Files delivery of secrets: a tmpfs mounted at [`SECRETS_DIR`] before a job's
//! commands and unmounted after them, each secret a file in it readable by the build
//! user only. A tmpfs lives in memory: no value reaches the instance's disk, so none
//! can be in a published image, a snapshot or a copy. A daemon offers no tmpfs disk
//! device for containers, so the job mounts it itself, by exec, as root. Values go on
//! the writing command's stdin, never in its argv or environment.

use std::future::Future;

use crate::domain::{AppSecrets, ExecRequest, InstanceName, Owner, SECRETS_DIR};
use crate::events::Step;
use crate::workflows::SecretDelivery;
use crate::workflows::error::WorkflowError;
use crate::workflows::mechanics::job::JobContext;

/// The most the tmpfs may hold: secrets are short.
const TMPFS_SIZE: &str = "1m";

/// Mounts the tmpfs, root's only (mode 0700) until its files are written.
fn mount_command() -> Vec<String> {
    let script = format!(
        "set -e; mkdir -p {SECRETS_DIR}; mount -t tmpfs -o size={TMPFS_SIZE},mode=0700,nosuid,nodev,noexec lxpack-secrets {SECRETS_DIR}"
    );
    vec!["sh".into(), "-c".into(), script]
}

/// Hands the tmpfs over to `owner`, who may read it and nothing more (mode 0500).
fn hand_over_command(owner: Owner) -> Vec<String> {
    let script = format!(
        "set -e; chown {}:{} {SECRETS_DIR}; chmod 0500 {SECRETS_DIR}",
        owner.uid, owner.gid
    );
    vec!["sh".into(), "-c".into(), script]
}

/// Writes stdin to the file of `name`, mode 0400, owned by `owner`.
fn write_command(name: &str, owner: Owner) -> Vec<String> {
    let script = format!(
        "set -e; umask 077; f=\"$1\"; cat > \"$f\"; chown {}:{} \"$f\"; chmod 0400 \"$f\"",
        owner.uid, owner.gid
    );
    vec![
        "sh".into(),
        "-c".into(),
        script,
        "sh".into(),
        AppSecrets::file_of(name),
    ]
}

/// Unmounts the tmpfs (its files go with it) and removes the empty mount point.
fn unmount_command() -> Vec<String> {
    let script = format!(
        "if grep -q ' {SECRETS_DIR} ' /proc/mounts; then umount {SECRETS_DIR} || exit 1; fi; rmdir {SECRETS_DIR} /run/lxpack 2>/dev/null; exit 0"
    );
    vec!["sh".into(), "-c".into(), script]
}

impl JobContext<'_> {
    /// True when the job delivers `secrets` as files.
    pub(crate) fn secret_files(&self, secrets: &AppSecrets) -> bool {
        self.settings().secrets.delivery == SecretDelivery::Files && !secrets.is_empty()
    }

    /// Runs `work` in `name`, with the secrets' files there for `owner` when secrets
    /// are files: delivered before, unmounted after, whether `work` succeeded or
    /// failed (not when it was cancelled: the job stops at once). A failed unmount
    /// fails a job whose work succeeded; after a failure the work's error stands.
    pub(crate) async fn with_secret_files<T>(
        &self,
        name: &InstanceName,
        secrets: &AppSecrets,
        owner: Owner,
        work: impl Future<Output = Result<T, WorkflowError>>,
    ) -> Result<T, WorkflowError> {
        if !self.secret_files(secrets) {
            return work.await;
        }
        self.deliver_secret_files(name, secrets, owner).await?;
        let outcome = work.await;
        if outcome.as_ref().is_err_and(WorkflowError::is_cancelled) {
            return outcome;
        }
        let removed = self.remove_secret_files(name).await;
        match (outcome, removed) {
            (Ok(_), Err(error)) => Err(error),
            (outcome, _) => outcome,
        }
    }

    /// Mounts the tmpfs in `name` and writes each secret's file, readable by `owner`.
    async fn deliver_secret_files(
        &self,
        name: &InstanceName,
        secrets: &AppSecrets,
        owner: Owner,
    ) -> Result<(), WorkflowError> {
        let runner = &self.runner;
        let runtime = self.runtime();
        let timeout = self.settings().timeouts.hook;
        runner
            .run(Step::DeliverSecrets, async {
                // Written as root with the mount's mode 0700, then handed over.
                let mount = ExecRequest::new(mount_command(), timeout);
                runner
                    .exec_in_step(runtime, Step::DeliverSecrets, name, &mount)
                    .await?;
                for (key, value) in secrets.values() {
                    let mut write = ExecRequest::new(write_command(key, owner), timeout);
                    write.stdin = Some(value.clone().into_bytes());
                    runner
                        .exec_in_step(runtime, Step::DeliverSecrets, name, &write)
                        .await?;
                }
                let hand_over = ExecRequest::new(hand_over_command(owner), timeout);
                runner
                    .exec_in_step(runtime, Step::DeliverSecrets, name, &hand_over)
                    .await
            })
            .await
    }

    /// Unmounts the tmpfs in `name`: its files are gone from memory, and the job's
    /// later steps (a publish, a kept container) never see them.
    async fn remove_secret_files(&self, name: &InstanceName) -> Result<(), WorkflowError> {
        let request = ExecRequest::new(unmount_command(), self.settings().timeouts.hook);
        self.runner
            .exec(self.runtime(), Step::RemoveSecrets, name, &request)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_never_enter_a_command_line() {
        let owner = Owner {
            uid: 1000,
            gid: 1001,
        };
        let write = write_command("DB_PASSWORD", owner);
        assert_eq!(write.last().unwrap(), "/run/lxpack/secrets/DB_PASSWORD");
        assert!(write[2].contains("chown 1000:1001") && write[2].contains("chmod 0400"));
        let mount = mount_command();
        assert!(mount[2].contains("mount -t tmpfs") && mount[2].contains("/run/lxpack/secrets"));
        assert!(hand_over_command(owner)[2].contains("chmod 0500"));
        assert!(unmount_command()[2].contains("umount /run/lxpack/secrets"));
    }
}
