//! [`ContainerRuntime`] for [`LxdClient`]: profiles, instances, files, exec, leftovers.

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;
use lxpack_core::domain::{
    ExecRequest, FileSpec, InstanceName, LaunchSpec, ProfileName, ProfileSpec,
};
use lxpack_core::ports::{
    ContainerRuntime, OutputSink, Resource, ResourceKind, RuntimeError, ServerInfo,
};
use reqwest::Method;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use tracing::instrument;

use crate::client::{CallError, LxdClient};
use crate::envelope::Reply;
use crate::wire::{self, Ownership};

/// Maps a failed call about `what` `name` to the port's error.
pub(crate) fn runtime_error(
    operation: &str,
    what: &'static str,
    name: &str,
    error: CallError,
) -> RuntimeError {
    match error {
        CallError::Transport(unreachable) => RuntimeError::Unreachable(unreachable),
        CallError::Deadline(after) => RuntimeError::TimedOut {
            operation: operation.to_owned(),
            after,
        },
        CallError::Daemon { code, message } => {
            let lower = message.to_ascii_lowercase();
            if code == 404 || is_missing(&message) || lower.contains("is not running") {
                RuntimeError::NotFound {
                    what,
                    name: name.to_owned(),
                }
            } else if code == 409
                || lower.contains("already exists")
                || lower.contains("unique constraint failed")
            {
                RuntimeError::AlreadyExists {
                    what,
                    name: name.to_owned(),
                }
            } else if lower.contains("in use") || lower.contains("currently used") {
                RuntimeError::InUse {
                    name: name.to_owned(),
                }
            } else {
                RuntimeError::Rejected {
                    operation: operation.to_owned(),
                    message,
                }
            }
        }
    }
}

/// A start that failed inside LXC (`forkstart`), as opposed to a refused request.
fn is_failed_start(error: &CallError) -> bool {
    matches!(error, CallError::Daemon { message, .. } if message.contains("forkstart"))
}

fn is_missing(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("not found")
        || lower.contains("doesn't exist")
        || lower.contains("does not exist")
}

/// LXD says "not found"; Incus says "Image not provided" when an alias resolves to nothing.
fn is_missing_image(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("image") && (is_missing(message) || lower.contains("not provided"))
}

impl LxdClient {
    async fn info(&self) -> Result<ServerDescription, RuntimeError> {
        self.server()
            .await
            .map(parse_server_info)
            .map_err(|e| runtime_error("read server info", "server", self.endpoint(), e))
    }

    async fn ownership(&self) -> Result<Ownership, RuntimeError> {
        Ok(if self.info().await?.info.can_shift_mounts {
            Ownership::Shift
        } else {
            Ownership::Idmap
        })
    }

    /// Starts an instance whose start just failed in `forkstart`: the daemon first
    /// finishes its own stop of the half-started instance ("busy running a stop
    /// operation"), so wait for that, then try again; at most 3 more starts.
    async fn restart_after_failed_start(
        &self,
        instance: &InstanceName,
        limit: Duration,
    ) -> Result<(), CallError> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut starts = 0;
        loop {
            let result = self.instance_state(instance, "start", limit).await;
            match result {
                Ok(()) => return Ok(()),
                Err(CallError::Daemon { ref message, .. })
                    if message.contains("busy") && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                }
                Err(ref error) if is_failed_start(error) && starts < 2 => starts += 1,
                Err(error) => return Err(error),
            }
        }
    }

    /// Waits until the daemon has removed `instance` (an ephemeral instance after a
    /// failed start), at most `limit`.
    async fn wait_until_gone(
        &self,
        instance: &InstanceName,
        limit: Duration,
    ) -> Result<(), CallError> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let request = self.request(Method::GET, &format!("/1.0/instances/{instance}"));
            match self.send(request).await? {
                Reply::Error { code: 404, .. } => return Ok(()),
                _ if tokio::time::Instant::now() >= deadline => {
                    return Err(CallError::Deadline(limit));
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }

    /// Deletes an instance, stopping it first (forced) when it runs; an ephemeral
    /// instance is gone once stopped.
    async fn delete_once(&self, instance: &InstanceName, limit: Duration) -> Result<(), CallError> {
        let delete = || self.request(Method::DELETE, &format!("/1.0/instances/{instance}"));
        match self.operation(delete(), limit).await {
            Ok(_) => Ok(()),
            Err(CallError::Daemon { code, message })
                if code != 404 && message.to_ascii_lowercase().contains("running") =>
            {
                match self.instance_state(instance, "stop", limit).await {
                    Ok(()) => {}
                    Err(CallError::Daemon { code: 404, .. }) => return Ok(()),
                    Err(error) => return Err(error),
                }
                match self.operation(delete(), limit).await {
                    Ok(_) | Err(CallError::Daemon { code: 404, .. }) => Ok(()),
                    Err(error) => Err(error),
                }
            }
            Err(error) => Err(error),
        }
    }

    /// Forces a state change. A forced stop that LXD reports as timed out (it happens
    /// on a loaded host) is tried once more; "already stopped" counts as stopped.
    async fn instance_state(
        &self,
        instance: &InstanceName,
        action: &str,
        limit: Duration,
    ) -> Result<(), CallError> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            let request = self
                .request(Method::PUT, &format!("/1.0/instances/{instance}/state"))
                .json(&json!({ "action": action, "force": true, "timeout": -1 }));
            match self.operation(request, limit).await {
                Ok(_) => return Ok(()),
                Err(CallError::Daemon { message, .. })
                    if action == "stop"
                        && message.to_ascii_lowercase().contains("already stopped") =>
                {
                    return Ok(());
                }
                Err(CallError::Daemon { message, .. })
                    if attempts < 2 && message.to_ascii_lowercase().contains("timed out") => {}
                Err(error) => return Err(error),
            }
        }
    }
}

/// What the adapter knows of the daemon: the port's view, and the API extensions it
/// picks its requests by.
pub(crate) struct ServerDescription {
    pub(crate) info: ServerInfo,
    pub(crate) extensions: BTreeSet<String>,
}

/// Reads `GET /1.0`.
pub(crate) fn parse_server_info(metadata: &Value) -> ServerDescription {
    let text = |pointer: &str| {
        metadata
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let server = text("/environment/server");
    let product = match server.as_str() {
        "lxd" => "LXD".to_owned(),
        "incus" => "Incus".to_owned(),
        other => other.to_owned(),
    };
    let extensions: BTreeSet<String> = metadata
        .get("api_extensions")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    // LXD 5.0 reports idmapped mounts yet cannot start shifted disks: only trust Incus.
    let idmapped = text("/environment/kernel_features/idmapped_mounts") == "true";
    ServerDescription {
        info: ServerInfo {
            product,
            version: text("/environment/server_version"),
            can_shift_mounts: server == "incus" && idmapped,
        },
        extensions,
    }
}

#[async_trait]
impl ContainerRuntime for LxdClient {
    #[instrument(skip(self))]
    async fn server_info(&self) -> Result<ServerInfo, RuntimeError> {
        self.info().await.map(|server| server.info)
    }

    #[instrument(skip_all, fields(profile = %profile.name))]
    async fn create_profile(&self, profile: &ProfileSpec) -> Result<(), RuntimeError> {
        let ownership = self.ownership().await?;
        if ownership == Ownership::Idmap
            && let Some(mount) = profile
                .mounts
                .iter()
                .find(|m| !m.read_only && m.owner.is_some_and(|o| o.uid == 0))
        {
            return Err(RuntimeError::Unsupported {
                what: format!(
                    "{} is owned by root, and this daemon has no idmapped mounts: the container's root cannot write to it without mapping the host's root into the container, which lxpack does not do",
                    mount.source.display()
                ),
                hint: format!(
                    "give the checkout to an unprivileged build user (e.g. `chown -R 1000:1000 {}`, with `root:1000:1` in /etc/subuid and /etc/subgid), or use Incus, whose idmapped mounts keep root's ownership",
                    mount.source.display()
                ),
            });
        }
        let request = self
            .request(Method::POST, "/1.0/profiles")
            .json(&wire::profile(profile, ownership));
        self.sync(request).await.map(drop).map_err(|e| {
            runtime_error(
                &format!("create profile {}", profile.name),
                "profile",
                profile.name.as_str(),
                e,
            )
        })
    }

    #[instrument(skip(self))]
    async fn delete_profile(&self, name: &ProfileName) -> Result<(), RuntimeError> {
        let request = self.request(Method::DELETE, &format!("/1.0/profiles/{name}"));
        self.sync(request).await.map(drop).map_err(|e| {
            runtime_error(
                &format!("delete profile {name}"),
                "profile",
                name.as_str(),
                e,
            )
        })
    }

    #[instrument(skip_all, fields(instance = %spec.name))]
    async fn launch_instance(
        &self,
        spec: &LaunchSpec,
        cancel: &CancellationToken,
    ) -> Result<(), RuntimeError> {
        let operation = format!("launch {}", spec.name);
        let info = self.info().await?;
        let start_in_create = info.extensions.contains("instance_create_start");
        let mut request = self
            .request(Method::POST, "/1.0/instances")
            .json(&wire::instance(
                spec,
                &self.options().base_profiles,
                start_in_create,
            ));
        if let Some(target) = &self.options().target {
            request = request.query(&[("target", target)]);
        }
        let launch = async {
            let map = |e: CallError| match e {
                CallError::Daemon { message, .. } if is_missing_image(&message) => {
                    RuntimeError::ImageNotFound {
                        image: spec.image.to_string(),
                    }
                }
                CallError::Daemon { message, .. }
                    if message.to_ascii_lowercase().contains("profile") && is_missing(&message) =>
                {
                    RuntimeError::NotFound {
                        what: "profile",
                        name: spec.profile.as_ref().map_or_else(
                            || self.options().base_profiles.join(", "),
                            ToString::to_string,
                        ),
                    }
                }
                CallError::Deadline(_) => RuntimeError::TimedOut {
                    operation: operation.clone(),
                    after: spec.timeout,
                },
                other => runtime_error(&operation, "instance", spec.name.as_str(), other),
            };
            // A start that fails in `forkstart` (the start hook stalls on a loaded
            // host, seen on LXD 5.0 and Incus 6.0 here) is tried again. An ephemeral
            // instance is deleted by the daemon when its start fails, so it is created
            // anew once the daemon has removed it.
            let mut creations = 0;
            loop {
                creations += 1;
                let Some(request) = request.try_clone() else {
                    return Err(RuntimeError::Rejected {
                        operation: operation.clone(),
                        message: "the create request cannot be repeated".into(),
                    });
                };
                let started = match self.operation(request, spec.timeout).await {
                    Ok(_) if start_in_create => Ok(()),
                    Ok(_) => self.instance_state(&spec.name, "start", spec.timeout).await,
                    Err(error) if start_in_create && is_failed_start(&error) => Err(error),
                    Err(error) => return Err(map(error)),
                };
                match started {
                    Ok(()) => return Ok(()),
                    Err(error) if is_failed_start(&error) && spec.ephemeral && creations < 3 => {
                        tracing::warn!(instance = %spec.name, "start failed in forkstart; creating the ephemeral instance again");
                        self.wait_until_gone(&spec.name, spec.timeout)
                            .await
                            .map_err(map)?;
                    }
                    Err(error) if is_failed_start(&error) && !spec.ephemeral => {
                        tracing::warn!(instance = %spec.name, "start failed in forkstart; trying again");
                        return self
                            .restart_after_failed_start(&spec.name, spec.timeout)
                            .await
                            .map_err(map);
                    }
                    Err(error) => return Err(map(error)),
                }
            }
        };
        tokio::select! {
            result = tokio::time::timeout(spec.timeout, launch) => match result {
                Ok(result) => result,
                Err(_) => Err(RuntimeError::TimedOut { operation, after: spec.timeout }),
            },
            () = cancel.cancelled() => Err(RuntimeError::Cancelled { operation }),
        }
    }

    #[instrument(skip_all, fields(instance = %instance, path = %file.path))]
    async fn push_file(
        &self,
        instance: &InstanceName,
        file: &FileSpec,
    ) -> Result<(), RuntimeError> {
        let mode = format!("{:04o}", file.mode);
        let request = self
            .request(Method::POST, &format!("/1.0/instances/{instance}/files"))
            .query(&[("path", file.path.as_str())])
            .header("X-LXD-type", "file")
            .header("X-LXD-mode", &mode)
            .header("X-LXD-uid", "0")
            .header("X-LXD-gid", "0")
            .header("X-LXD-write", "overwrite")
            .header("X-Incus-type", "file")
            .header("X-Incus-mode", &mode)
            .header("X-Incus-uid", "0")
            .header("X-Incus-gid", "0")
            .header("X-Incus-write", "overwrite")
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(file.contents.clone());
        self.sync(request).await.map(drop).map_err(|e| {
            runtime_error(
                &format!("push {} to {instance}", file.path),
                "instance",
                instance.as_str(),
                e,
            )
        })
    }

    #[instrument(skip_all, fields(instance = %instance, command = ?request.command.first()))]
    async fn exec(
        &self,
        instance: &InstanceName,
        request: &ExecRequest,
        output: &dyn OutputSink,
        cancel: &CancellationToken,
    ) -> Result<i32, RuntimeError> {
        crate::exec::exec(self, instance, request, output, cancel).await
    }

    #[instrument(skip(self))]
    async fn stop_instance(
        &self,
        instance: &InstanceName,
        graceful: Option<Duration>,
    ) -> Result<(), RuntimeError> {
        let operation = format!("stop {instance}");
        let Some(limit) = graceful else {
            return self
                .instance_state(instance, "stop", Duration::from_secs(60))
                .await
                .map_err(|e| runtime_error(&operation, "instance", instance.as_str(), e));
        };
        let body = json!({ "action": "stop", "force": false, "timeout": limit.as_secs() });
        let limit = limit + Duration::from_secs(60);
        let request = self
            .request(Method::PUT, &format!("/1.0/instances/{instance}/state"))
            .json(&body);
        match self.operation(request, limit).await {
            Ok(_) => Ok(()),
            Err(CallError::Daemon { message, .. })
                if message.to_ascii_lowercase().contains("already stopped") =>
            {
                Ok(())
            }
            Err(CallError::Daemon { .. }) => self
                .instance_state(instance, "stop", Duration::from_secs(60))
                .await
                .map_err(|e| runtime_error(&operation, "instance", instance.as_str(), e)),
            Err(error) => Err(runtime_error(
                &operation,
                "instance",
                instance.as_str(),
                error,
            )),
        }
    }

    #[instrument(skip(self))]
    async fn delete_instance(&self, instance: &InstanceName) -> Result<(), RuntimeError> {
        let operation = format!("delete {instance}");
        let map = |e| runtime_error(&operation, "instance", instance.as_str(), e);
        let limit = Duration::from_secs(120);
        let deadline = tokio::time::Instant::now() + limit;
        // On a loaded host a stop can outlive its own timeout; the daemon then refuses
        // other operations on the instance ("busy running a stop operation") until it
        // ends, so wait for it rather than leave the instance behind.
        loop {
            match self.delete_once(instance, limit).await {
                Err(CallError::Daemon { message, .. })
                    if message.contains("busy") && tokio::time::Instant::now() < deadline =>
                {
                    tracing::debug!(%instance, %message, "instance busy; deleting again shortly");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                result => return result.map_err(map),
            }
        }
    }

    #[instrument(skip(self))]
    async fn release_ephemeral(
        &self,
        instance: &InstanceName,
        profile: &ProfileName,
    ) -> Result<(), RuntimeError> {
        self.release_in_background(instance, profile).await
    }

    #[instrument(skip(self))]
    async fn list_resources(&self) -> Result<Vec<Resource>, RuntimeError> {
        let map = |e| runtime_error("list resources", "server", "", e);
        let mut resources = Vec::new();
        for (kind, path) in [
            (ResourceKind::Instance, "/1.0/instances"),
            (ResourceKind::Profile, "/1.0/profiles"),
        ] {
            let list = self
                .sync(self.request(Method::GET, path).query(&[("recursion", "1")]))
                .await
                .map_err(map)?;
            for item in list.as_array().into_iter().flatten() {
                let Some(name) = item.get("name").and_then(Value::as_str) else {
                    continue;
                };
                resources.push(Resource {
                    kind,
                    name: name.to_owned(),
                    labels: wire::labels_of(item.get("config")),
                });
            }
        }
        Ok(resources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_info_trusts_shift_only_on_incus() {
        let lxd = parse_server_info(&json!({
            "api_extensions": ["instances", "container_exec_user_group_cwd"],
            "environment": {"server": "lxd", "server_version": "5.0.2", "kernel_features": {"idmapped_mounts": "true"}}
        }));
        assert_eq!(lxd.info.product, "LXD");
        assert!(!lxd.info.can_shift_mounts);
        assert!(lxd.extensions.contains("container_exec_user_group_cwd"));
        let incus = parse_server_info(&json!({
            "environment": {"server": "incus", "server_version": "6.0.4", "kernel_features": {"idmapped_mounts": "true"}}
        }));
        assert!(incus.info.can_shift_mounts);
        assert_eq!(incus.info.version, "6.0.4");
    }

    #[test]
    fn daemon_errors_map_to_contract_variants() {
        let daemon = |code, message: &str| CallError::Daemon {
            code,
            message: message.into(),
        };
        assert!(matches!(
            runtime_error("x", "instance", "a", daemon(404, "Instance not found")),
            RuntimeError::NotFound { .. }
        ));
        assert!(matches!(
            runtime_error(
                "x",
                "profile",
                "a",
                daemon(409, "Profile \"a\" already exists")
            ),
            RuntimeError::AlreadyExists { .. }
        ));
        assert!(matches!(
            runtime_error(
                "x",
                "profile",
                "a",
                daemon(400, "Profile is currently in use")
            ),
            RuntimeError::InUse { .. }
        ));
        let RuntimeError::Rejected { message, .. } =
            runtime_error("x", "instance", "a", daemon(400, "Invalid devices"))
        else {
            panic!()
        };
        assert_eq!(message, "Invalid devices");
    }
}
