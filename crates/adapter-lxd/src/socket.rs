//! The local daemon is reached through its unix socket, found the way `lxc` and `incus`
//! find theirs; when it cannot be reached, the error says which paths were tried and
//! what to do, because "connection failed" is the most common first-run problem.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use lxpack_core::ports::Unreachable;

/// Which daemon's conventions to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SocketKind {
    /// LXD: `$LXD_SOCKET`, `$LXD_DIR/unix.socket`, the snap path, `/var/lib/lxd`.
    Lxd,
    /// Incus: `$INCUS_SOCKET`, `$INCUS_DIR/unix.socket`, `/run/incus`, `/var/lib/incus`.
    Incus,
}

/// The candidate socket paths, in the order the daemon's own client tries them.
#[must_use]
pub fn candidates(kind: SocketKind, env: &dyn Fn(&str) -> Option<String>) -> Vec<PathBuf> {
    let (socket_var, dir_var, fixed): (&str, &str, &[&str]) = match kind {
        SocketKind::Lxd => (
            "LXD_SOCKET",
            "LXD_DIR",
            &[
                "/var/snap/lxd/common/lxd/unix.socket",
                "/var/lib/lxd/unix.socket",
            ],
        ),
        SocketKind::Incus => (
            "INCUS_SOCKET",
            "INCUS_DIR",
            &["/run/incus/unix.socket", "/var/lib/incus/unix.socket"],
        ),
    };
    let mut paths = Vec::new();
    if let Some(socket) = env(socket_var).filter(|v| !v.is_empty()) {
        paths.push(PathBuf::from(socket));
    }
    if let Some(dir) = env(dir_var).filter(|v| !v.is_empty()) {
        paths.push(PathBuf::from(dir).join("unix.socket"));
    }
    paths.extend(fixed.iter().map(PathBuf::from));
    paths
}

/// The first existing socket: LXD's candidates, then Incus's.
///
/// # Errors
/// [`Unreachable`] listing every path tried, with how to start a daemon.
pub fn discover_socket(
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(PathBuf, SocketKind), Unreachable> {
    discover_among(env, &|path| path.exists())
}

fn discover_among(
    env: &dyn Fn(&str) -> Option<String>,
    exists: &dyn Fn(&Path) -> bool,
) -> Result<(PathBuf, SocketKind), Unreachable> {
    let mut tried = Vec::new();
    for kind in [SocketKind::Lxd, SocketKind::Incus] {
        for path in candidates(kind, env) {
            if exists(&path) {
                return Ok((path, kind));
            }
            tried.push(path.display().to_string());
        }
    }
    Err(Unreachable {
        endpoint: "the local LXD or Incus daemon".into(),
        reason: format!("no socket found (tried {})", tried.join(", ")),
        hint: "start LXD or Incus (e.g. `lxd --group lxd &` or `incusd --group incus-admin &`; scripts/daemons-up does it for tests), or set lxpack.runtime.socket in the config".into(),
    })
}

/// Why connecting to `path` fails, if it does: checked with a plain connect so that the
/// error can say "permission denied: join group X" rather than an HTTP error.
pub(crate) fn probe(path: &Path) -> Result<(), Unreachable> {
    let endpoint = path.display().to_string();
    if let Some(kind) = not_a_socket(path) {
        return Err(Unreachable {
            endpoint,
            reason: format!("it is {kind}, not a socket"),
            hint: "point lxpack.runtime.socket (or LXD_SOCKET, INCUS_SOCKET) at the daemon's unix socket, e.g. /var/lib/lxd/unix.socket or /var/lib/incus/unix.socket".into(),
        });
    }
    match std::os::unix::net::UnixStream::connect(path) {
        Ok(_) => Ok(()),
        Err(error) => Err(match error.kind() {
            std::io::ErrorKind::NotFound => Unreachable {
                endpoint,
                reason: "the socket does not exist".into(),
                hint: "start the daemon, or fix lxpack.runtime.socket in the config".into(),
            },
            std::io::ErrorKind::ConnectionRefused => Unreachable {
                endpoint,
                reason: "connection refused: the daemon is not running".into(),
                hint: "start the daemon (`lxd --group lxd &`, `incusd --group incus-admin &`, or your service manager)".into(),
            },
            std::io::ErrorKind::PermissionDenied => {
                let group = socket_group(path).unwrap_or_else(|| "the socket's group".into());
                Unreachable {
                    endpoint,
                    reason: format!("permission denied: the socket belongs to group {group}"),
                    hint: access_hint(&group),
                }
            }
            _ => Unreachable {
                endpoint,
                reason: error.to_string(),
                hint: "check that the daemon is running and the socket is reachable".into(),
            },
        }),
    }
}

/// What a file that exists but is no socket is (`a regular file`, `a directory`…);
/// `None` for a socket, or a path that does not exist.
#[must_use]
pub fn not_a_socket(path: &Path) -> Option<&'static str> {
    use std::os::unix::fs::FileTypeExt as _;
    let kind = std::fs::metadata(path).ok()?.file_type();
    if kind.is_socket() {
        None
    } else if kind.is_file() {
        Some("a regular file")
    } else if kind.is_dir() {
        Some("a directory")
    } else {
        Some("neither a file nor a socket")
    }
}

/// How a user gets access to a socket owned by `group`. Never the root group: that
/// gives the user root's files, not just the daemon.
#[must_use]
pub fn access_hint(group: &str) -> String {
    if group == "root" {
        "the socket belongs to group root, and joining root would give away far more than the daemon: run lxpack as root, or restart the daemon with a group of its own (`lxd --group lxd`, `incusd --group incus-admin`, or the service's socket group) and add your user to that group".into()
    } else {
        format!(
            "add your user to group {group} (`sudo usermod -aG {group} $USER`), then log in again (or `newgrp {group}`)"
        )
    }
}

/// The name of the group owning `path` (e.g. a daemon's socket), from /etc/group.
#[must_use]
pub fn socket_group(path: &Path) -> Option<String> {
    let gid = std::fs::metadata(path).ok()?.gid();
    let groups = std::fs::read_to_string("/etc/group").ok()?;
    groups
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let id: u32 = fields.nth(1)?.parse().ok()?;
            (id == gid).then(|| name.to_owned())
        })
        .or_else(|| Some(gid.to_string()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_regular_file_is_not_a_socket_and_says_so() {
        let dir = std::env::temp_dir().join(format!("lxpack-socket-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("unix.socket");
        std::fs::write(&file, b"").unwrap();
        let error = super::probe(&file).unwrap_err();
        assert_eq!(error.reason, "it is a regular file, not a socket");
        assert!(error.hint.contains("lxpack.runtime.socket"));
        assert_eq!(super::not_a_socket(&dir), Some("a directory"));
        assert_eq!(super::not_a_socket(&dir.join("missing")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_root_group_is_never_advised() {
        let hint = super::access_hint("root");
        assert!(!hint.contains("usermod -aG root"), "{hint}");
        assert!(hint.contains("--group"), "{hint}");
        assert!(super::access_hint("lxd").contains("usermod -aG lxd"));
    }

    use super::*;

    #[test]
    fn environment_comes_first() {
        let env = |key: &str| match key {
            "LXD_SOCKET" => Some("/custom/lxd.sock".to_owned()),
            "INCUS_DIR" => Some("/srv/incus".to_owned()),
            _ => None,
        };
        assert_eq!(
            candidates(SocketKind::Lxd, &env),
            [
                "/custom/lxd.sock",
                "/var/snap/lxd/common/lxd/unix.socket",
                "/var/lib/lxd/unix.socket"
            ]
            .map(PathBuf::from)
        );
        assert_eq!(
            candidates(SocketKind::Incus, &env)[0],
            PathBuf::from("/srv/incus/unix.socket")
        );
    }

    #[test]
    fn a_missing_socket_lists_the_paths_tried() {
        let env =
            |key: &str| (key == "LXD_SOCKET").then(|| "/nonexistent/lxpack-test.sock".to_owned());
        let error = discover_among(&env, &|_| false).unwrap_err();
        assert!(
            error.reason.contains("/nonexistent/lxpack-test.sock"),
            "{}",
            error.reason
        );
        assert!(
            error.reason.contains("/var/lib/incus/unix.socket"),
            "{}",
            error.reason
        );
        assert!(error.hint.contains("start LXD or Incus"));
        let found = discover_among(&env, &|p| p.ends_with("incus/unix.socket")).unwrap();
        assert_eq!(
            found,
            (PathBuf::from("/run/incus/unix.socket"), SocketKind::Incus)
        );
        let refused = probe(Path::new("/nonexistent/lxpack-test.sock")).unwrap_err();
        assert!(
            refused.reason.contains("does not exist"),
            "{}",
            refused.reason
        );
    }
}
