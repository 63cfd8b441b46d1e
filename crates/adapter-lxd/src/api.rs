//! Every request the adapter makes, built by pure functions (as kube-core builds
//! kube's): method, path, query, headers and body, scoped to the project (and, for
//! new instances, the cluster member). What the daemon receives can be read and tested
//! here, without one. The bodies built from the ports' types are in `wire`.

use lxpack_core::domain::{ExecRequest, FileSpec, SessionRequest};
use serde::Serialize;
use serde_json::Value;

use crate::transport::{Method, Request};

/// Where an operation lives, from the `operation` field of an async reply:
/// `/1.0/operations/ID`, with the query a cluster (or a project) adds to it, as in
/// `/1.0/operations/ID?project=default`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OperationRef {
    /// `/1.0/operations/ID`.
    pub(crate) path: String,
    /// The URL's own query, decoded.
    pub(crate) query: Vec<(String, String)>,
}

impl OperationRef {
    /// Splits an operation URL into its path and its query; the path of a full URL
    /// (`https://host:8443/1.0/operations/ID`) is kept.
    pub(crate) fn parse(url: &str) -> Self {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        let path = match path.find("/1.0/") {
            Some(start) => &path[start..],
            None => path,
        };
        let query = query
            .split('&')
            .filter(|pair| !pair.is_empty())
            .map(|pair| {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                (decode(key), decode(value))
            })
            .collect();
        Self {
            path: path.trim_end_matches('/').to_owned(),
            query,
        }
    }
}

/// Decodes `%XX` escapes and `+` of a query key or value.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A state change of an instance: `PUT /1.0/instances/NAME/state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) struct StateChange {
    action: &'static str,
    force: bool,
    /// Seconds a clean stop may take; -1 for the daemon's default.
    timeout: i64,
}

impl StateChange {
    /// Start.
    pub(crate) const START: Self = Self {
        action: "start",
        force: true,
        timeout: -1,
    };
    /// Stop at once (the container is killed).
    pub(crate) const FORCED_STOP: Self = Self {
        action: "stop",
        force: true,
        timeout: -1,
    };

    /// Ask the instance to shut down, for at most `seconds`.
    pub(crate) fn clean_stop(seconds: u64) -> Self {
        Self {
            action: "stop",
            force: false,
            timeout: i64::try_from(seconds).unwrap_or(i64::MAX),
        }
    }

    /// Whether it is a stop.
    pub(crate) fn is_stop(self) -> bool {
        self.action == "stop"
    }
}

/// The body of `POST /1.0/instances/NAME/exec`.
#[derive(Debug, Serialize)]
struct ExecBody<'a> {
    command: &'a [String],
    environment: serde_json::Map<String, Value>,
    #[serde(rename = "wait-for-websocket")]
    wait_for_websocket: bool,
    interactive: bool,
    #[serde(rename = "record-output")]
    record_output: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    cwd: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<u32>,
    /// The pseudo-terminal's columns (interactive only).
    #[serde(skip_serializing_if = "Option::is_none")]
    width: Option<u16>,
    /// The pseudo-terminal's rows (interactive only).
    #[serde(skip_serializing_if = "Option::is_none")]
    height: Option<u16>,
}

/// The requests, scoped to a project and a cluster member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Api {
    /// `?project=` on every request, unless the request has its own (an operation's).
    pub(crate) project: Option<String>,
    /// `?target=` on instance creation.
    pub(crate) target: Option<String>,
}

impl Api {
    /// `request` with this client's `?project=`, unless it names its own.
    pub(crate) fn scoped(&self, mut request: Request) -> Request {
        if let Some(project) = &self.project
            && request.query_value("project").is_none()
        {
            request.query.insert(0, ("project".into(), project.clone()));
        }
        request
    }

    /// A request for `path`, scoped to the project.
    pub(crate) fn at(&self, method: Method, path: String) -> Request {
        self.scoped(Request::new(method, path))
    }

    /// `GET /1.0`: version, extensions, environment, and whether we are trusted.
    pub(crate) fn server(&self) -> Request {
        self.at(Method::Get, "/1.0".into())
    }

    /// `GET /1.0/storage-pools`: the pools' URLs.
    pub(crate) fn storage_pools(&self) -> Request {
        self.at(Method::Get, "/1.0/storage-pools".into())
    }

    /// `GET /1.0/storage-pools/POOL/volumes/custom?recursion=1`: every custom volume
    /// of the pool, with its config and users.
    pub(crate) fn volumes(&self, pool: &str) -> Request {
        self.scoped(
            Request::new(
                Method::Get,
                format!("/1.0/storage-pools/{pool}/volumes/custom"),
            )
            .query("recursion", "1"),
        )
    }

    /// `POST /1.0/storage-pools/POOL/volumes/custom`: a new volume, empty or a copy,
    /// on the target cluster member if one is set.
    pub(crate) fn create_volume(&self, pool: &str, body: &Value) -> Request {
        let request = Request::new(
            Method::Post,
            format!("/1.0/storage-pools/{pool}/volumes/custom"),
        )
        .json(body);
        self.scoped(self.on_volume_member(request))
    }

    /// `PATCH /1.0/storage-pools/POOL/volumes/custom/NAME` with `config` keys (merged
    /// into the volume's).
    pub(crate) fn patch_volume_config(
        &self,
        pool: &str,
        name: &str,
        config: &serde_json::Map<String, Value>,
    ) -> Request {
        self.at(
            Method::Patch,
            format!("/1.0/storage-pools/{pool}/volumes/custom/{name}"),
        )
        .json(&serde_json::json!({ "config": config }))
    }

    /// `GET /1.0/storage-pools/POOL/volumes/custom/NAME`.
    pub(crate) fn volume(&self, pool: &str, name: &str) -> Request {
        self.at(
            Method::Get,
            format!("/1.0/storage-pools/{pool}/volumes/custom/{name}"),
        )
    }

    /// `DELETE /1.0/storage-pools/POOL/volumes/custom/NAME`.
    pub(crate) fn delete_volume(&self, pool: &str, name: &str) -> Request {
        self.at(
            Method::Delete,
            format!("/1.0/storage-pools/{pool}/volumes/custom/{name}"),
        )
    }

    /// `GET /1.0/storage-pools/POOL/volumes/custom/NAME/state`: its usage, where the
    /// pool's driver can tell.
    /// LXD answers it only on the member holding the volume (it forwards the other
    /// volume calls): the member new volumes go to, when one is set.
    pub(crate) fn volume_state(&self, pool: &str, name: &str) -> Request {
        let request = Request::new(
            Method::Get,
            format!("/1.0/storage-pools/{pool}/volumes/custom/{name}/state"),
        );
        self.scoped(self.on_volume_member(request))
    }

    /// `?target=` the member new volumes go to, when the target is a member (not a
    /// group: a volume lives on one member).
    fn on_volume_member(&self, request: Request) -> Request {
        match self.target.as_ref().filter(|t| !t.starts_with('@')) {
            Some(target) => request.query("target", target.clone()),
            None => request,
        }
    }

    /// `POST /1.0/profiles`.
    pub(crate) fn create_profile(&self, body: &Value) -> Request {
        self.at(Method::Post, "/1.0/profiles".into()).json(body)
    }

    /// `GET /1.0/profiles/NAME`.
    pub(crate) fn profile(&self, name: &str) -> Request {
        self.at(Method::Get, format!("/1.0/profiles/{name}"))
    }

    /// `DELETE /1.0/profiles/NAME`.
    pub(crate) fn delete_profile(&self, name: &str) -> Request {
        self.at(Method::Delete, format!("/1.0/profiles/{name}"))
    }

    /// `GET /1.0/profiles?recursion=1`: every profile, with its config.
    pub(crate) fn profiles(&self) -> Request {
        self.scoped(Request::new(Method::Get, "/1.0/profiles").query("recursion", "1"))
    }

    /// `POST /1.0/instances`, on the target cluster member if one is set.
    pub(crate) fn create_instance(&self, body: &Value) -> Request {
        let mut request = Request::new(Method::Post, "/1.0/instances").json(body);
        if let Some(target) = &self.target {
            request = request.query("target", target.clone());
        }
        self.scoped(request)
    }

    /// `GET /1.0/instances/NAME`.
    pub(crate) fn instance(&self, name: &str) -> Request {
        self.at(Method::Get, format!("/1.0/instances/{name}"))
    }

    /// `GET /1.0/instances?recursion=1`: every instance, with its config.
    pub(crate) fn instances(&self) -> Request {
        self.scoped(Request::new(Method::Get, "/1.0/instances").query("recursion", "1"))
    }

    /// `DELETE /1.0/instances/NAME`.
    pub(crate) fn delete_instance(&self, name: &str) -> Request {
        self.at(Method::Delete, format!("/1.0/instances/{name}"))
    }

    /// `GET /1.0/instances/NAME/state`: processes, memory use and its peak.
    pub(crate) fn instance_state(&self, name: &str) -> Request {
        self.at(Method::Get, format!("/1.0/instances/{name}/state"))
    }

    /// `PUT /1.0/instances/NAME/state`.
    pub(crate) fn change_state(&self, name: &str, change: StateChange) -> Request {
        self.at(Method::Put, format!("/1.0/instances/{name}/state"))
            .json(&change)
    }

    /// `PATCH /1.0/instances/NAME` with a new list of profiles.
    pub(crate) fn set_profiles(&self, name: &str, profiles: &[&str]) -> Request {
        self.at(Method::Patch, format!("/1.0/instances/{name}"))
            .json(&serde_json::json!({ "profiles": profiles }))
    }

    /// `POST /1.0/instances/NAME/files?path=...`: writes a file owned by root, with
    /// the headers of both daemons.
    pub(crate) fn push_file(&self, name: &str, file: &FileSpec) -> Request {
        let mode = format!("{:04o}", file.mode);
        let mut request = Request::new(Method::Post, format!("/1.0/instances/{name}/files"))
            .query("path", file.path.as_str());
        for daemon in ["LXD", "Incus"] {
            request = request
                .header(&format!("X-{daemon}-type"), "file")
                .header(&format!("X-{daemon}-mode"), mode.clone())
                .header(&format!("X-{daemon}-uid"), "0")
                .header(&format!("X-{daemon}-gid"), "0")
                .header(&format!("X-{daemon}-write"), "overwrite");
        }
        self.scoped(
            request
                .header("Content-Type", "application/octet-stream")
                .bytes(file.contents.clone()),
        )
    }

    /// `POST /1.0/instances/NAME/exec`, waiting for its websockets, not recording.
    pub(crate) fn exec(&self, name: &str, exec: &ExecRequest) -> Request {
        let body = ExecBody {
            command: &exec.command,
            environment: exec
                .env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
            wait_for_websocket: true,
            interactive: false,
            record_output: false,
            cwd: exec.cwd.as_ref().map(|cwd| cwd.as_str()),
            user: exec.user.map(|user| user.uid),
            group: exec.user.map(|user| user.gid),
            width: None,
            height: None,
        };
        self.at(Method::Post, format!("/1.0/instances/{name}/exec"))
            .json(&body)
    }

    /// `POST /1.0/instances/NAME/exec` for a session: `interactive` with the window's
    /// `width` and `height` when it asks for a terminal (one websocket, `0`, for input
    /// and output, and the control socket), plain pipes otherwise.
    pub(crate) fn exec_session(&self, name: &str, session: &SessionRequest) -> Request {
        let body = ExecBody {
            command: &session.command,
            environment: session
                .env
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect(),
            wait_for_websocket: true,
            interactive: session.terminal.is_some(),
            record_output: false,
            cwd: session.cwd.as_ref().map(|cwd| cwd.as_str()),
            user: session.user.map(|user| user.uid),
            group: session.user.map(|user| user.gid),
            width: session.terminal.map(|size| size.width),
            height: session.terminal.map(|size| size.height),
        };
        self.at(Method::Post, format!("/1.0/instances/{name}/exec"))
            .json(&body)
    }

    /// `POST /1.0/instances/NAME/snapshots`: a snapshot of its files (not its memory).
    pub(crate) fn snapshot(&self, name: &str, snapshot: &str) -> Request {
        self.at(Method::Post, format!("/1.0/instances/{name}/snapshots"))
            .json(&serde_json::json!({ "name": snapshot, "stateful": false }))
    }

    /// `PATCH /1.0/instances/NAME` with any body (merged into the instance).
    pub(crate) fn patch_instance(&self, name: &str, body: &Value) -> Request {
        self.at(Method::Patch, format!("/1.0/instances/{name}"))
            .json(body)
    }

    /// `PATCH /1.0/instances/NAME` with `config` keys (merged into the instance's).
    pub(crate) fn patch_instance_config(
        &self,
        name: &str,
        config: &serde_json::Map<String, Value>,
    ) -> Request {
        self.at(Method::Patch, format!("/1.0/instances/{name}"))
            .json(&serde_json::json!({ "config": config }))
    }

    /// `GET /1.0/images?recursion=1`.
    pub(crate) fn images(&self) -> Request {
        self.scoped(Request::new(Method::Get, "/1.0/images").query("recursion", "1"))
    }

    /// `GET /1.0/images/FINGERPRINT`.
    pub(crate) fn image(&self, fingerprint: &str) -> Request {
        self.at(Method::Get, format!("/1.0/images/{fingerprint}"))
    }

    /// `DELETE /1.0/images/FINGERPRINT`.
    pub(crate) fn delete_image(&self, fingerprint: &str) -> Request {
        self.at(Method::Delete, format!("/1.0/images/{fingerprint}"))
    }

    /// `POST /1.0/images`: publishes an instance.
    pub(crate) fn publish(&self, body: &Value) -> Request {
        self.at(Method::Post, "/1.0/images".into()).json(body)
    }

    /// `GET /1.0/images/aliases/ALIAS`.
    pub(crate) fn alias(&self, alias: &str) -> Request {
        self.at(Method::Get, format!("/1.0/images/aliases/{alias}"))
    }

    /// `GET OPERATION/wait?timeout=SECONDS`: the path and query split properly, so that
    /// an operation URL with its own query (`?project=default` on a cluster) gives
    /// `/1.0/operations/ID/wait?project=default&timeout=SECONDS`.
    pub(crate) fn wait(&self, operation: &OperationRef, seconds: u64) -> Request {
        self.on_operation(Method::Get, operation, "/wait")
            .query("timeout", seconds.to_string())
    }

    /// `GET OPERATION`: its state now (on a cluster, asked of the member it runs on).
    pub(crate) fn operation(&self, operation: &OperationRef) -> Request {
        self.on_operation(Method::Get, operation, "")
    }

    /// `GET /1.0/cluster/members?recursion=1`: every member, with its state.
    pub(crate) fn cluster_members(&self) -> Request {
        Request::new(Method::Get, "/1.0/cluster/members").query("recursion", "1")
    }

    /// `GET /1.0/cluster/members/NAME`: one member, with its state.
    pub(crate) fn cluster_member(&self, name: &str) -> Request {
        Request::new(Method::Get, format!("/1.0/cluster/members/{name}"))
    }

    /// `DELETE OPERATION`: asks the daemon to cancel it.
    pub(crate) fn cancel(&self, operation: &OperationRef) -> Request {
        self.on_operation(Method::Delete, operation, "")
    }

    /// `GET OPERATION/websocket?secret=SECRET`: one of an exec's websockets.
    pub(crate) fn websocket(&self, operation: &OperationRef, secret: &str) -> Request {
        self.on_operation(Method::Get, operation, "/websocket")
            .query("secret", secret)
    }

    fn on_operation(&self, method: Method, operation: &OperationRef, suffix: &str) -> Request {
        let mut request = Request::new(method, format!("{}{suffix}", operation.path));
        request.query = operation.query.clone();
        self.scoped(request)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use lxpack_core::domain::{GuestPath, Owner};

    use super::*;

    fn scoped() -> Api {
        Api {
            project: Some("ci".into()),
            target: Some("node2".into()),
        }
    }

    #[test]
    fn operation_urls_split_into_path_and_query() {
        let plain = OperationRef::parse("/1.0/operations/6916c8a6-9b7d");
        assert_eq!(plain.path, "/1.0/operations/6916c8a6-9b7d");
        assert!(plain.query.is_empty());
        let clustered = OperationRef::parse("/1.0/operations/6916c8a6-9b7d?project=default");
        assert_eq!(clustered.path, "/1.0/operations/6916c8a6-9b7d");
        assert_eq!(clustered.query, [("project".into(), "default".into())]);
        let full = OperationRef::parse("https://10.0.0.2:8443/1.0/operations/ab?project=my%20p&x=");
        assert_eq!(full.path, "/1.0/operations/ab");
        assert_eq!(
            full.query,
            [
                ("project".into(), "my p".into()),
                ("x".into(), String::new())
            ]
        );
    }

    #[test]
    fn the_wait_of_a_cluster_operation_keeps_its_query_after_the_path() {
        let api = Api::default();
        let operation = OperationRef::parse("/1.0/operations/6916c8a6?project=default");
        assert_eq!(
            api.wait(&operation, 30).line(),
            "GET /1.0/operations/6916c8a6/wait?project=default&timeout=30"
        );
        // The client's project does not repeat the operation's own.
        assert_eq!(
            scoped().wait(&operation, 1).line(),
            "GET /1.0/operations/6916c8a6/wait?project=default&timeout=1"
        );
        let local = OperationRef::parse("/1.0/operations/6916c8a6");
        assert_eq!(
            scoped().wait(&local, 1).line(),
            "GET /1.0/operations/6916c8a6/wait?project=ci&timeout=1"
        );
        assert_eq!(
            api.cancel(&operation).line(),
            "DELETE /1.0/operations/6916c8a6?project=default"
        );
        assert_eq!(
            api.websocket(&operation, "s3cr3t").line(),
            "GET /1.0/operations/6916c8a6/websocket?project=default&secret=s3cr3t"
        );
    }

    #[test]
    fn every_request_is_scoped_to_the_project() {
        let api = scoped();
        let lines: Vec<String> = [
            api.server(),
            api.storage_pools(),
            api.profile("default"),
            api.delete_profile("lxpack-p"),
            api.profiles(),
            api.instance("lxpack-i"),
            api.instances(),
            api.delete_instance("lxpack-i"),
            api.images(),
            api.image("abc"),
            api.delete_image("abc"),
            api.alias("base"),
        ]
        .iter()
        .map(Request::line)
        .collect();
        assert_eq!(
            lines,
            [
                "GET /1.0?project=ci",
                "GET /1.0/storage-pools?project=ci",
                "GET /1.0/profiles/default?project=ci",
                "DELETE /1.0/profiles/lxpack-p?project=ci",
                "GET /1.0/profiles?project=ci&recursion=1",
                "GET /1.0/instances/lxpack-i?project=ci",
                "GET /1.0/instances?project=ci&recursion=1",
                "DELETE /1.0/instances/lxpack-i?project=ci",
                "GET /1.0/images?project=ci&recursion=1",
                "GET /1.0/images/abc?project=ci",
                "DELETE /1.0/images/abc?project=ci",
                "GET /1.0/images/aliases/base?project=ci",
            ]
        );
        assert_eq!(
            Api::default().instances().line(),
            "GET /1.0/instances?recursion=1"
        );
    }

    #[test]
    fn instances_are_created_on_the_target_member() {
        let request = scoped().create_instance(&serde_json::json!({"name": "lxpack-i"}));
        assert_eq!(
            request.line(),
            "POST /1.0/instances?project=ci&target=node2"
        );
        assert_eq!(
            request.header_value("content-type"),
            Some("application/json")
        );
        assert_eq!(request.body_json().unwrap()["name"], "lxpack-i");
        assert_eq!(
            Api::default().create_instance(&Value::Null).line(),
            "POST /1.0/instances"
        );
    }

    #[test]
    fn state_changes_force_or_give_a_clean_stop_its_time() {
        let api = Api::default();
        let start = api.change_state("lxpack-i", StateChange::START);
        assert_eq!(start.line(), "PUT /1.0/instances/lxpack-i/state");
        assert_eq!(
            start.body_json().unwrap(),
            serde_json::json!({"action": "start", "force": true, "timeout": -1})
        );
        assert_eq!(
            api.change_state("lxpack-i", StateChange::FORCED_STOP)
                .body_json()
                .unwrap(),
            serde_json::json!({"action": "stop", "force": true, "timeout": -1})
        );
        assert_eq!(
            api.change_state("lxpack-i", StateChange::clean_stop(30))
                .body_json()
                .unwrap(),
            serde_json::json!({"action": "stop", "force": false, "timeout": 30})
        );
        assert!(StateChange::clean_stop(1).is_stop() && !StateChange::START.is_stop());
        let detach = api.set_profiles("lxpack-i", &["default"]);
        assert_eq!(detach.line(), "PATCH /1.0/instances/lxpack-i");
        assert_eq!(
            detach.body_json().unwrap(),
            serde_json::json!({"profiles": ["default"]})
        );
    }

    #[test]
    fn files_carry_both_daemons_headers_and_the_raw_contents() {
        let file = FileSpec {
            path: GuestPath::parse("/tmp/my hook.sh").unwrap(),
            contents: b"echo hi\n".to_vec(),
            mode: 0o755,
        };
        let request = Api::default().push_file("lxpack-i", &file);
        assert_eq!(
            request.line(),
            "POST /1.0/instances/lxpack-i/files?path=%2Ftmp%2Fmy+hook.sh"
        );
        for daemon in ["LXD", "Incus"] {
            assert_eq!(
                request.header_value(&format!("X-{daemon}-mode")),
                Some("0755")
            );
            assert_eq!(request.header_value(&format!("X-{daemon}-uid")), Some("0"));
            assert_eq!(
                request.header_value(&format!("X-{daemon}-write")),
                Some("overwrite")
            );
        }
        assert_eq!(
            request.header_value("content-type"),
            Some("application/octet-stream")
        );
        assert_eq!(request.body, b"echo hi\n");
    }

    #[test]
    fn the_exec_body_carries_env_cwd_and_user() {
        let mut exec = ExecRequest::new(["sh", "/tmp/x"], Duration::from_secs(5));
        exec.env = vec![("A".into(), "1".into())];
        exec.cwd = Some(GuestPath::parse("/srv/app").unwrap());
        exec.user = Some(Owner {
            uid: 1000,
            gid: 1001,
        });
        let request = Api::default().exec("lxpack-i", &exec);
        assert_eq!(request.line(), "POST /1.0/instances/lxpack-i/exec");
        assert_eq!(
            request.body_json().unwrap(),
            serde_json::json!({
                "command": ["sh", "/tmp/x"],
                "environment": {"A": "1"},
                "wait-for-websocket": true,
                "interactive": false,
                "record-output": false,
                "cwd": "/srv/app",
                "user": 1000,
                "group": 1001,
            })
        );
        let root = Api::default().exec(
            "lxpack-i",
            &ExecRequest::new(["true"], Duration::from_secs(1)),
        );
        let body = root.body_json().unwrap();
        assert!(
            body.get("cwd").is_none() && body.get("user").is_none(),
            "{body}"
        );
    }

    #[test]
    fn images_are_published_and_resolved_by_alias() {
        let api = Api::default();
        let publish = api.publish(&serde_json::json!({"source": {"type": "instance"}}));
        assert_eq!(publish.line(), "POST /1.0/images");
        assert_eq!(publish.body_json().unwrap()["source"]["type"], "instance");
        assert_eq!(
            api.alias("lxpack-x").line(),
            "GET /1.0/images/aliases/lxpack-x"
        );
    }
}
