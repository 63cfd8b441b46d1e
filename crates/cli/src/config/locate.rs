//! Which config file applies: `--config`, then `LXPACK_CONFIG`, then
//! `$XDG_CONFIG_HOME/lxpack/config.yml` (or `~/.config/lxpack/config.yml`), else the
//! embedded defaults. A file named explicitly must exist; the XDG one may be absent.

use std::path::PathBuf;

/// The config to load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigChoice {
    /// A file, and the flag or variable that named it (`None` for the XDG default).
    File {
        /// The path.
        path: PathBuf,
        /// `--config` or `LXPACK_CONFIG`.
        from: Option<&'static str>,
    },
    /// No file: the embedded defaults.
    Defaults,
}

/// Chooses the config from the flag and the environment.
#[must_use]
pub fn locate(
    flag: Option<PathBuf>,
    env: impl Fn(&str) -> Option<String>,
    exists: impl Fn(&std::path::Path) -> bool,
) -> ConfigChoice {
    if let Some(path) = flag {
        return ConfigChoice::File {
            path,
            from: Some("--config"),
        };
    }
    if let Some(path) = env("LXPACK_CONFIG").filter(|p| !p.is_empty()) {
        return ConfigChoice::File {
            path: path.into(),
            from: Some("LXPACK_CONFIG"),
        };
    }
    let base = env("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| env("HOME").map(|home| PathBuf::from(home).join(".config")));
    match base.map(|b| b.join("lxpack").join("config.yml")) {
        Some(path) if exists(&path) => ConfigChoice::File { path, from: None },
        _ => ConfigChoice::Defaults,
    }
}
