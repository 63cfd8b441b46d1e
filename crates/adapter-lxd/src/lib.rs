//! # lxpack-lxd
//!
//! lxpack's [`ContainerRuntime`](lxpack_core::ports::ContainerRuntime), every
//! capability port beside it (standbys, step snapshots, cache volumes, cluster
//! membership, sessions) and the
//! [`ImageRegistry`](lxpack_core::ports::ImageRegistry) over the LXD and Incus REST
//! API, with our own client: reqwest over the daemon's unix socket (or HTTPS with a
//! client certificate and a pinned server certificate), operations awaited through
//! `/wait` (never polled after the fact), and exec over websockets with stdout and
//! stderr streamed to the caller as they arrive.
//!
//! ## Layout
//! - `client`: [`LxdClient`], one cheap-to-clone client, with a constructor per
//!   endpoint and one for tests ([`LxdClient::connect_with_mock`]); one deadline on
//!   every call; operations awaited through `/wait`; the cached `GET /1.0`.
//! - [`transport`]: the seam between the client and the wire: pure [`Request`] and
//!   [`Response`] values and the [`Transport`] trait; `transport::http` is the real
//!   one (reqwest over the unix socket, or HTTPS). [`mock`]: a transport that plays
//!   back recorded replies and keeps the requests.
//! - `api`: every request the adapter makes, built by pure functions (path, query,
//!   headers, body), scoped to the project; operation URLs split into path and query.
//! - `wire`: the request bodies built from the ports' types (pure, unit-tested).
//! - `envelope`: decoding sync, async and error replies; `reply`: the typed replies
//!   (`Deserialize` structs) the adapter reads.
//! - `classify`: what a refusal means, from its status, code and message: every rule
//!   that reads the daemon's words, in one place. `errors`: a failed call, and its one
//!   mapping to each port's error (a missed deadline is the port's timeout).
//! - `lifecycle`: creating, starting, stopping and deleting instances with the
//!   retries a loaded host needs; `mapping`: replies read as the ports' types.
//! - `exec`: the exec websockets and signals.
//! - `network`: the network policies port (the egress bridge and its ACL) and the
//!   NIC devices of a launch, with its own `api`, `reply` and `wire`.
//! - `limits`: resource classes: the host's CPUs and memory, and an instance's limit
//!   counters (daemon state, and the instance's cgroup on a local daemon).
//! - `runtime`, `registry`: the two ports; `release`: ending a deploy container
//!   without waiting for its stop; `readiness`: what `lxpack doctor` asks.
//! - `remote`: what only a remote daemon needs: the trust check, and telling a
//!   certificate other than the pinned one from nothing listening.
//! - `socket`: finding the local socket the way `lxc` and `incus` do, and telling why it
//!   cannot be reached (missing, refused, permission and which group to join).
//! - `fuzzing` (hidden): entry points for fuzz targets, not a stable API: the reply
//!   decoders run on raw bytes, for `fuzz/` and its corpus replay tests.
//!
//! ## Tests without a daemon
//! `tests/fixtures/` holds replies recorded from LXD 5.0 and Incus 6.0 (see its
//! README); the unit tests play them through [`mock::MockTransport`] and check the
//! exact requests made and the port errors returned: the start retries, the busy
//! delete, the trust refusal, the deadlines, every class of refusal.
//!
//! ## Mount ownership
//! A writable mount with an owner (the deploy checkout) is mapped so that files written
//! in the container belong to that owner on the host. With an Incus daemon whose kernel
//! supports idmapped mounts, the disk gets `shift=true`. Otherwise the profile gets a
//! `raw.idmap` mapping the owner's uid and gid to themselves (the host's
//! `/etc/subuid` and `/etc/subgid` must allow root to map them). LXD 5.0 reports
//! idmapped mounts but cannot start shifted disks, so it always takes the idmap path.
//! Privileged containers are only made when the launch asks for them.

mod api;
mod classify;
mod client;
mod cluster;
mod envelope;
mod errors;
mod exec;
#[doc(hidden)]
pub mod fuzzing;
mod lifecycle;
mod limits;
mod mapping;
pub mod mock;
mod network;
mod readiness;
mod registry;
mod release;
mod remote;
mod reply;
mod runtime;
mod socket;
mod standby;
mod subids;
#[cfg(test)]
mod testing;
pub mod transport;
mod volumes;
mod wire;

pub use client::{ConnectError, LxdClient, LxdOptions};
pub use readiness::{REQUIRED_EXTENSIONS, Readiness};
pub use socket::{
    SocketKind, access_hint, candidates, discover_socket, not_a_socket, socket_group,
};
pub use transport::{Request, Response, Transport};
