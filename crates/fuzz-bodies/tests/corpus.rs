//! Replays the committed fuzz corpora on stable: every file of `fuzz/corpus/<target>/`
//! through the body its fuzz target runs. A missing or empty corpus fails (it would
//! make the replay prove nothing); so does a target without its corpus or a corpus
//! without its target.
// Each replay says how many inputs it ran (shown with --no-capture).
#![allow(clippy::print_stdout)]

use std::path::{Path, PathBuf};

use lxpack_fuzz_bodies::{TARGETS, body};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz")
}

fn names_in(dir: &Path, strip: &str) -> Vec<String> {
    let entries =
        std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    let mut names: Vec<String> = entries
        .map(|entry| {
            let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
            entry.file_name().to_string_lossy().into_owned()
        })
        .filter_map(|name| name.strip_suffix(strip).map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Runs every file of the corpus of `target` through its body.
fn replay(target: &str) {
    let run = body(target).unwrap_or_else(|| panic!("no body for target {target}"));
    let dir = fuzz_dir().join("corpus").join(target);
    let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| {
        panic!(
            "the corpus {} cannot be read ({e}); it is committed with fuzz/ (see scripts/fuzz)",
            dir.display()
        )
    });
    let mut files: Vec<PathBuf> = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()));
    files.retain(|path| path.is_file());
    files.sort();
    assert!(
        !files.is_empty(),
        "the corpus {} is empty: nothing would be replayed",
        dir.display()
    );
    let mut failed = Vec::new();
    for path in &files {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            failed.push(path.display().to_string());
        }
    }
    assert!(
        failed.is_empty(),
        "{target}: {} of {} corpus inputs fail (reproduce one with `cargo +nightly fuzz run {target} FILE` in fuzz/): {failed:#?}",
        failed.len(),
        files.len()
    );
    println!("{target}: replayed {} corpus inputs", files.len());
}

#[test]
fn every_target_has_its_fuzz_target_and_corpus_and_nothing_else() {
    let targets: Vec<String> = {
        let mut names: Vec<String> = TARGETS.iter().map(|(name, _)| (*name).to_owned()).collect();
        names.sort();
        names
    };
    assert_eq!(names_in(&fuzz_dir().join("fuzz_targets"), ".rs"), targets);
    assert_eq!(names_in(&fuzz_dir().join("corpus"), ""), targets);
}

#[test]
fn config_corpus_replays() {
    replay("config");
}

#[test]
fn app_document_corpus_replays() {
    replay("app_document");
}

#[test]
fn daemon_reply_corpus_replays() {
    replay("daemon_reply");
}

#[test]
fn os_spec_corpus_replays() {
    replay("os_spec");
}

#[test]
fn ami_id_corpus_replays() {
    replay("ami_id");
}

#[test]
fn job_id_corpus_replays() {
    replay("job_id");
}

#[test]
fn event_json_corpus_replays() {
    replay("event_json");
}
