//! # lxpack-lxd
//!
//! lxpack's [`ContainerRuntime`](lxpack_core::ports::ContainerRuntime) and
//! [`ImageRegistry`](lxpack_core::ports::ImageRegistry) over the LXD and Incus REST
//! API, with our own client: reqwest over the daemon's unix socket (or HTTPS with a
//! client certificate and a pinned server certificate), operations awaited through
//! `/wait` (never polled after the fact), and exec over websockets with stdout and
//! stderr streamed to the caller as they arrive.
//!
//! ## Layout
//! - `client`: [`LxdClient`], one cheap-to-clone client, with a constructor per
//!   endpoint; per-call deadlines; project and cluster target.
//! - `remote`: what only a remote daemon needs: the trust check, and telling a
//!   certificate other than the pinned one from nothing listening.
//! - `socket`: finding the local socket the way `lxc` and `incus` do, and telling why it
//!   cannot be reached (missing, refused, permission and which group to join).
//! - `envelope`: decoding sync, async and error replies (pure, unit-tested).
//! - `wire`: the request bodies (pure, unit-tested).
//! - `exec`: the exec websockets.
//! - `runtime`, `registry`: the two ports; `release`: ending a deploy container
//!   without waiting for its stop.
//!
//! ## Mount ownership
//! A writable mount with an owner (the deploy checkout) is mapped so that files written
//! in the container belong to that owner on the host. With an Incus daemon whose kernel
//! supports idmapped mounts, the disk gets `shift=true`. Otherwise the profile gets a
//! `raw.idmap` mapping the owner's uid and gid to themselves (the host's
//! `/etc/subuid` and `/etc/subgid` must allow root to map them). LXD 5.0 reports
//! idmapped mounts but cannot start shifted disks, so it always takes the idmap path.
//! Privileged containers are only made when the launch asks for them.

mod client;
mod envelope;
mod exec;
mod readiness;
mod registry;
mod release;
mod remote;
mod runtime;
mod socket;
mod wire;

pub use client::{ConnectError, LxdClient, LxdOptions};
pub use readiness::{REQUIRED_EXTENSIONS, Readiness};
pub use socket::{SocketKind, candidates, discover_socket, socket_group};
