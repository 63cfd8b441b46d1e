//! The machine-wide turn of the test binaries that stop, kill or fill daemons others
//! share (the fault daemons, the test clusters): two test runs at once, from two
//! worktrees say, would be each other's faults. The scripts that stop those daemons
//! take the same lock, so they never stop them under a test.

use std::path::Path;

/// Waits until no other test on this machine holds `dir/tests.lock`, and returns the
/// lock (held until the file is dropped).
pub(crate) fn wait_for_turn(dir: &Path) -> std::fs::File {
    let path = dir.join("tests.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("locking {}: {e}", path.display()));
    file
}
