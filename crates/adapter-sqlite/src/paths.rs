//! Where the database lives by default: the XDG data directory.

use std::path::PathBuf;

/// `$XDG_DATA_HOME/lxpack/lxpack.db`, or `~/.local/share/lxpack/lxpack.db`; `None`
/// when neither variable is set.
#[must_use]
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".local").join("share"))
        })?;
    Some(base.join("lxpack").join("lxpack.db"))
}
