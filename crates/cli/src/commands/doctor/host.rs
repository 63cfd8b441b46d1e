//! Facts about this host that need no daemon: installed binaries, the current user's
//! groups, and /etc/group.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// The daemon binaries found, with their paths.
pub(super) fn installed_daemons() -> Vec<(&'static str, PathBuf)> {
    let dirs = [
        "/usr/sbin",
        "/usr/bin",
        "/usr/local/bin",
        "/usr/local/sbin",
        "/snap/bin",
        "/usr/libexec/incus",
        "/usr/lib/incus",
        "/opt/incus/bin",
    ];
    let mut found = Vec::new();
    for (name, binary) in [("LXD", "lxd"), ("Incus", "incusd")] {
        let path_dirs: Vec<PathBuf> = std::env::var_os("PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        if let Some(path) = path_dirs
            .iter()
            .map(PathBuf::as_path)
            .chain(dirs.iter().map(Path::new))
            .map(|dir| dir.join(binary))
            .find(|candidate| candidate.is_file())
        {
            found.push((name, path));
        }
    }
    found
}

/// The current process's uid and supplementary groups, from /proc/self/status.
pub(super) fn current_user() -> Option<(u32, Vec<u32>)> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(str::trim)
            .map(str::to_owned)
    };
    let uid = field("Uid:")?.split_whitespace().next()?.parse().ok()?;
    let mut groups: Vec<u32> = field("Groups:")
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|g| g.parse().ok())
        .collect();
    if let Some(gid) = field("Gid:").and_then(|g| g.split_whitespace().next()?.parse().ok()) {
        groups.push(gid);
    }
    Some((uid, groups))
}

/// The socket's owner group id and mode bits.
pub(super) fn socket_gid_and_mode(path: &Path) -> Option<(u32, u32)> {
    let metadata = std::fs::metadata(path).ok()?;
    Some((metadata.gid(), metadata.mode() & 0o777))
}

/// True when `dir` (created if needed) accepts a new file.
pub(super) fn writable_dir(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let probe = dir.join(format!(".lxpack-doctor-{}", std::process::id()));
    std::fs::write(&probe, b"").map_err(|e| format!("cannot write in {}: {e}", dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// Whether `/etc/subuid` and `/etc/subgid` give root a range, which unprivileged
/// containers need.
pub(super) fn root_has_subids() -> bool {
    ["/etc/subuid", "/etc/subgid"].iter().all(|file| {
        std::fs::read_to_string(file)
            .map(|text| text.lines().any(|line| line.starts_with("root:")))
            .unwrap_or(false)
    })
}
