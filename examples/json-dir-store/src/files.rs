//! Where each file lives, the directory lock, and writes that readers never see half
//! done.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use lxpack_core::domain::{AppKey, JobId};

use crate::{JsonStoreError, Result};

/// The store's directory.
#[derive(Debug)]
pub(crate) struct Layout {
    root: PathBuf,
}

impl Layout {
    /// Creates the directories when missing.
    pub(crate) fn create(root: &Path) -> Result<Self> {
        let layout = Self {
            root: root.to_path_buf(),
        };
        for dir in [layout.apps_dir(), layout.jobs_dir()] {
            fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        }
        Ok(layout)
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn apps_dir(&self) -> PathBuf {
        self.root.join("apps")
    }

    pub(crate) fn jobs_dir(&self) -> PathBuf {
        self.root.join("jobs")
    }

    /// `apps/<name>,<env>,<role>.json`, each part escaped.
    pub(crate) fn app_file(&self, key: &AppKey) -> PathBuf {
        let stem = [&key.name, &key.env, &key.role]
            .map(|part| escape(part))
            .join(",");
        self.apps_dir().join(format!("{stem}.json"))
    }

    /// `jobs/<id>.json`: job ids are hex, so always a valid name.
    pub(crate) fn job_file(&self, id: &JobId) -> PathBuf {
        self.jobs_dir().join(format!("{id}.json"))
    }

    /// Takes the directory's exclusive lock, waiting for it; dropping the file
    /// releases it. `flock` locks conflict between open files, so this excludes other
    /// threads of this process as well as other processes.
    pub(crate) fn lock(&self) -> Result<File> {
        let path = self.root.join("lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io_error("open", &path))?;
        file.lock().map_err(io_error("lock", &path))?;
        Ok(file)
    }
}

/// Reads a file; `None` when it does not exist.
pub(crate) fn read_if_exists(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(text) => Ok(Some(text)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(io_error("read", path)(error)),
    }
}

/// The `.json` files of a directory, sorted by name (temporary files are skipped).
pub(crate) fn json_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_error("list", dir))? {
        let path = entry.map_err(io_error("list", dir))?.path();
        if path.extension().is_some_and(|ext| ext == "json") {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

/// Writes `bytes` to a temporary file, syncs it, renames it over `path` and syncs the
/// directory. Callers hold the lock, so one temporary name per file is enough.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let temporary = path.with_extension("json.tmp");
    let mut file = File::create(&temporary).map_err(io_error("create", &temporary))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(io_error("write", &temporary))?;
    drop(file);
    fs::rename(&temporary, path).map_err(io_error("replace", path))?;
    if let Some(dir) = path.parent() {
        File::open(dir)
            .and_then(|dir| dir.sync_all())
            .map_err(io_error("sync", dir))?;
    }
    Ok(())
}

pub(crate) fn io_error(
    action: &'static str,
    path: &Path,
) -> impl FnOnce(io::Error) -> JsonStoreError {
    let path = path.to_path_buf();
    move |source| JsonStoreError::Io {
        action,
        path,
        source,
    }
}

/// Keeps ASCII letters, digits, `-`, `_` and `.`; writes any other byte as `%XX`. The
/// `,` between parts is always escaped inside them, so names cannot collide.
fn escape(part: &str) -> String {
    use std::fmt::Write as _;
    let mut escaped = String::with_capacity(part.len());
    for byte in part.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            escaped.push(char::from(byte));
        } else {
            // Writing into a String cannot fail.
            let _ = write!(escaped, "%{byte:02X}");
        }
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_make_distinct_safe_file_names() {
        let layout = Layout {
            root: PathBuf::from("/store"),
        };
        let key = |name: &str, env: &str| AppKey {
            name: name.into(),
            env: env.into(),
            role: "front".into(),
        };
        assert_eq!(
            layout.app_file(&key("web", "prod")),
            Path::new("/store/apps/web,prod,front.json")
        );
        assert_eq!(
            layout.app_file(&key("a/b c", "..")),
            Path::new("/store/apps/a%2Fb%20c,..,front.json")
        );
        assert_ne!(
            layout.app_file(&key("a,b", "c")),
            layout.app_file(&key("a", "b,c"))
        );
    }
}
