//! The requests of the network module, built by pure functions like every other
//! request (`crate::api`): networks, their state, and network ACLs, scoped to the
//! project.

use serde_json::Value;

use crate::api::Api;
use crate::transport::{Method, Request};

impl Api {
    /// `GET /1.0/networks?recursion=1`: every network the daemon sees, managed or
    /// not (the host's own interfaces are unmanaged networks).
    pub(crate) fn networks(&self) -> Request {
        self.scoped(Request::new(Method::Get, "/1.0/networks").query("recursion", "1"))
    }

    /// `GET /1.0/networks` without recursion: the networks' URLs only. The recursive
    /// list costs the daemon about 0.2 s with a few dozen interfaces (it works out
    /// what uses each), the names alone a few milliseconds.
    pub(crate) fn network_names(&self) -> Request {
        self.scoped(Request::new(Method::Get, "/1.0/networks"))
    }

    /// `GET /1.0/networks/NAME`.
    pub(crate) fn network(&self, name: &str) -> Request {
        self.at(Method::Get, format!("/1.0/networks/{name}"))
    }

    /// `GET /1.0/networks/NAME/state`: its addresses on the member we talk to.
    pub(crate) fn network_state(&self, name: &str) -> Request {
        self.at(Method::Get, format!("/1.0/networks/{name}/state"))
    }

    /// `POST /1.0/networks`, on cluster member `member` when given: a cluster
    /// network is first made pending on every member (`?target=`), then created
    /// once without one.
    pub(crate) fn create_network(&self, body: &Value, member: Option<&str>) -> Request {
        let request = Request::new(Method::Post, "/1.0/networks").json(body);
        self.scoped(match member {
            Some(member) => request.query("target", member),
            None => request,
        })
    }

    /// `PATCH /1.0/networks/NAME` with `config` keys (merged into the network's).
    pub(crate) fn patch_network_config(
        &self,
        name: &str,
        config: &serde_json::Map<String, Value>,
    ) -> Request {
        self.at(Method::Patch, format!("/1.0/networks/{name}"))
            .json(&serde_json::json!({ "config": config }))
    }

    /// `GET /1.0/network-acls/NAME` (with its `ETag`).
    pub(crate) fn network_acl(&self, name: &str) -> Request {
        self.at(Method::Get, format!("/1.0/network-acls/{name}"))
    }

    /// `POST /1.0/network-acls`.
    pub(crate) fn create_network_acl(&self, body: &Value) -> Request {
        self.at(Method::Post, "/1.0/network-acls".into()).json(body)
    }

    /// `PUT /1.0/network-acls/NAME` replacing its rules, only if it is still the
    /// version `etag` (`If-Match`).
    pub(crate) fn replace_network_acl(&self, name: &str, body: &Value, etag: &str) -> Request {
        self.at(Method::Put, format!("/1.0/network-acls/{name}"))
            .header("If-Match", etag)
            .json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_requests_are_scoped_and_targeted() {
        let api = Api {
            project: Some("builds".into()),
            target: Some("m2".into()),
        };
        assert_eq!(
            api.networks().line(),
            "GET /1.0/networks?project=builds&recursion=1"
        );
        let body = serde_json::json!({ "name": "lxpackbr0" });
        assert_eq!(
            api.create_network(&body, Some("m1")).line(),
            "POST /1.0/networks?project=builds&target=m1"
        );
        // The global create names no member, whatever the client's launch target.
        assert_eq!(
            api.create_network(&body, None).line(),
            "POST /1.0/networks?project=builds"
        );
        let put = api.replace_network_acl("lxpack-egress", &body, "\"abc\"");
        assert_eq!(put.header_value("If-Match"), Some("\"abc\""));
        assert_eq!(
            put.line(),
            "PUT /1.0/network-acls/lxpack-egress?project=builds"
        );
    }
}
