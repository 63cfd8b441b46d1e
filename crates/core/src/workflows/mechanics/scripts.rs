//! Hook and buildpack scripts are copied into the container as files and run as they
//! are: never edited (Cloud Deploy inserted a `cd` line with sed), never fed on stdin
//! (a command in the script that reads stdin would swallow the rest of it).

use crate::domain::{FileSpec, GuestPath, Script};

/// A script placed in the container, and how to run it.
pub(crate) struct DeliveredScript {
    pub(crate) file: FileSpec,
    pub(crate) command: Vec<String>,
}

/// Places `script` at `/tmp/lxpack-<name>`: run directly when it has a `#!` line,
/// with `sh` otherwise (as Cloud Deploy ran them).
pub(crate) fn deliver(name: &'static str, script: &Script) -> DeliveredScript {
    let path = GuestPath::trusted(&format!("/tmp/lxpack-{name}"));
    let command = if script.has_shebang() {
        vec![path.as_str().to_owned()]
    } else {
        vec!["sh".to_owned(), path.as_str().to_owned()]
    };
    DeliveredScript {
        file: FileSpec {
            path,
            contents: script.as_bytes().to_vec(),
            mode: 0o755,
        },
        command,
    }
}
