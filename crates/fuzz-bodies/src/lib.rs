//! # lxpack-fuzz-bodies
//!
//! The body of each of lxpack's fuzz targets, one function per target taking the
//! fuzzer's bytes, so that the target and its replay run the same code:
//!
//! - `fuzz/fuzz_targets/<target>.rs` calls it under libFuzzer (nightly; see
//!   `scripts/fuzz`);
//! - `tests/corpus.rs` calls it on every file of `fuzz/corpus/<target>/` on stable, so
//!   `scripts/test` replays the committed corpora.
//!
//! A body panics (an assertion) when a parser panics or breaks a property it promises:
//! a round trip, a determinism, a validated shape. Bytes that are not UTF-8 are
//! skipped by the bodies whose parser only ever receives text.
//!
//! Not a library for anything else: it is not published.

use std::path::PathBuf;
use std::time::Duration;

use lxpack_cli::config::{Config, ConfigOrigin, PasswordSource, RuntimeEndpoint, StoreLocation};
use lxpack_cli::render;
use lxpack_core::document::{DocumentFormat, app_to_document, parse_app_documents};
use lxpack_core::domain::{
    AmiId, App, AppKey, InstanceName, JobCommand, JobId, OsIdentity, OsType, OutputStream,
    ProfileName, Provisioner,
};
use lxpack_core::events::{Event, Step};
use serde_json::Value;

/// The body of a target: it takes the fuzzer's bytes and panics when a property fails.
pub type Body = fn(&[u8]);

/// Every target: its name (the file `fuzz/fuzz_targets/<name>.rs` and the corpus
/// `fuzz/corpus/<name>/`) and its body.
pub const TARGETS: &[(&str, Body)] = &[
    ("config", config),
    ("app_document", app_document),
    ("daemon_reply", daemon_reply),
    ("os_spec", os_spec),
    ("ami_id", ami_id),
    ("job_id", job_id),
    ("event_json", event_json),
];

/// The body of target `name`.
#[must_use]
pub fn body(name: &str) -> Option<Body> {
    TARGETS
        .iter()
        .find(|(target, _)| *target == name)
        .map(|(_, body)| *body)
}

/// `config`: the config file's text, as [`Config::parse`] reads it (it touches
/// neither the file system nor the environment).
///
/// Asserts: parsing is deterministic; every error names the file; an accepted config
/// holds only what validation promises (positive time limits that can be used as
/// deadlines without overflow, absolute formula paths, `https://` URLs with a host and
/// no trailing `/`, a 12-digit account id, no control character in any path), and
/// every warning names the file.
///
/// # Panics
/// When a property fails.
pub fn config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let origin = ConfigOrigin::File(PathBuf::from("/fuzz/config.yml"));
    match (
        Config::parse(text, origin.clone()),
        Config::parse(text, origin.clone()),
    ) {
        (Ok(config), Ok(again)) => {
            assert_eq!(config, again, "parsing is not deterministic");
            check_config(&config, &origin);
        }
        (Err(error), Err(again)) => {
            let message = error.to_string();
            assert_eq!(message, again.to_string(), "parsing is not deterministic");
            assert!(message.starts_with("/fuzz/config.yml"), "{message}");
        }
        (first, second) => panic!("parsing is not deterministic: {first:?}, then {second:?}"),
    }
}

fn check_config(config: &Config, origin: &ConfigOrigin) {
    assert_eq!(&config.origin, origin);
    let t = &config.settings.timeouts;
    let limits = [
        ("launch", Some(t.launch)),
        ("ready", Some(t.ready)),
        ("hook", Some(t.hook)),
        ("features", Some(t.features)),
        ("buildpack", Some(t.buildpack)),
        ("publish", Some(t.publish)),
        ("graceful_stop", t.graceful_stop),
        ("container.timeout", Some(config.runtime.request_timeout)),
    ];
    for (key, limit) in limits {
        let Some(limit) = limit else { continue };
        assert!(!limit.is_zero(), "{key} is zero");
        // Each is a deadline with margins added, and seconds in the daemon's API (an
        // i64): it must leave room for both.
        assert!(
            limit.checked_add(Duration::from_secs(86_400)).is_some()
                && i64::try_from(limit.as_secs()).is_ok(),
            "{key} of {limit:?} overflows as a deadline"
        );
    }
    for provisioner in &config.settings.provisioners {
        assert!(provisioner.formulas.is_absolute(), "{provisioner:?}");
    }
    if let Some(server) = &config.settings.source_server {
        check_url(&server.url);
    }
    if let RuntimeEndpoint::Https { url, .. } = &config.runtime.endpoint {
        check_url(url);
    }
    if let Some((account, role)) = config.aws.as_ref().and_then(|a| a.assume_role.as_ref()) {
        assert!(
            account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()),
            "{account:?}"
        );
        assert!(!role.is_empty());
    }
    for warning in &config.warnings {
        assert!(warning.starts_with("/fuzz/config.yml"), "{warning}");
    }
    let cache = &config.settings.cache;
    for size in [cache.quota, cache.budget].into_iter().flatten() {
        assert!(size >= 1 << 20, "a cache size under 1 MiB: {size}");
    }
    check_config_paths(config);
    for paths in cache.paths.values() {
        for (index, path) in paths.iter().enumerate() {
            assert_ne!(path.as_str(), "/", "/ as a cache");
            for other in &paths[index + 1..] {
                let nested = |outer: &str, inner: &str| {
                    inner == outer
                        || inner
                            .strip_prefix(outer)
                            .is_some_and(|rest| rest.starts_with('/'))
                };
                assert!(
                    !nested(path.as_str(), other.as_str())
                        && !nested(other.as_str(), path.as_str()),
                    "overlapping caches {path} and {other}"
                );
            }
        }
    }
}

/// Every path an accepted config holds is free of control characters: the host's
/// (formulas, store, socket, certificates) and the containers' (caches).
fn check_config_paths(config: &Config) {
    let mut host: Vec<&std::path::Path> = config
        .settings
        .provisioners
        .iter()
        .map(|p| p.formulas.as_path())
        .collect();
    if let Some(StoreLocation::File(path)) = &config.store {
        host.push(path);
    }
    host.extend(config.store_access.ca_file.as_deref());
    if let Some(PasswordSource::File(path)) = &config.store_access.password {
        host.push(path);
    }
    match &config.runtime.endpoint {
        RuntimeEndpoint::Socket(socket) => host.push(socket),
        RuntimeEndpoint::Https {
            client_cert,
            client_key,
            server_cert,
            ..
        } => host.extend([client_cert.as_path(), client_key, server_cert]),
        _ => {}
    }
    for path in host {
        assert!(
            !path.to_string_lossy().chars().any(char::is_control),
            "a control character in {path:?}"
        );
    }
    for path in config.settings.cache.paths.values().flatten() {
        assert!(
            !path.as_str().chars().any(char::is_control),
            "a control character in cache path {path:?}"
        );
    }
}

fn check_url(url: &str) {
    let authority = url
        .strip_prefix("https://")
        .and_then(|rest| rest.split(['/', '?', '#']).next());
    assert!(
        authority.is_some_and(|authority| !authority.is_empty()) && !url.ends_with('/'),
        "{url:?} is not an https:// URL with a host"
    );
}

/// `app_document`: a Cloud Deploy app document, read both as JSON and as YAML.
///
/// Asserts, for every document that reads: each app exported with
/// [`app_to_document`] and written as JSON (pretty and compact) or YAML (as
/// `lxpack app export` writes them) reads back to the same app, and the format
/// detection used for files without an extension picks the format written.
///
/// # Panics
/// When a property fails.
pub fn app_document(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for format in [DocumentFormat::Json, DocumentFormat::Yaml] {
        match parse_app_documents(text, format) {
            Ok(apps) => {
                assert!(!apps.is_empty(), "a document that reads holds an app");
                round_trip(&apps);
            }
            Err(error) => drop(error.to_string()),
        }
    }
}

fn round_trip(apps: &[App]) {
    let documents: Vec<Value> = apps.iter().map(app_to_document).collect();
    for (app, document) in apps.iter().zip(&documents) {
        let expected = Ok(vec![app.clone()]);
        let json = json_text(document, true);
        assert_eq!(DocumentFormat::detect(&json), DocumentFormat::Json);
        assert_eq!(
            parse_app_documents(&json, DocumentFormat::Json),
            expected,
            "the JSON export does not read back:\n{json}"
        );
        let yaml = match serde_yaml_ng::to_string(document) {
            Ok(yaml) => yaml,
            Err(error) => panic!("an exported app cannot be written as YAML: {error}"),
        };
        assert_eq!(DocumentFormat::detect(&yaml), DocumentFormat::Yaml);
        assert_eq!(
            parse_app_documents(&yaml, DocumentFormat::Yaml),
            expected,
            "the YAML export does not read back:\n{yaml}"
        );
    }
    let all = json_text(&Value::Array(documents), false);
    assert_eq!(
        parse_app_documents(&all, DocumentFormat::Json),
        Ok(apps.to_vec()),
        "the list of exported apps does not read back:\n{all}"
    );
}

fn json_text(value: &Value, pretty: bool) -> String {
    let text = if pretty {
        serde_json::to_string_pretty(value)
    } else {
        serde_json::to_string(value)
    };
    match text {
        Ok(text) => text,
        Err(error) => panic!("a JSON value cannot be written: {error}"),
    }
}

/// `daemon_reply`: a daemon's reply, the first two bytes being the HTTP status (big
/// endian) and the rest the body; shorter input is a body received with 200.
///
/// Runs `lxpack_lxd::fuzzing::daemon_reply` (the envelope, the classification of
/// refusals, every typed reply and its mapping) on it, and
/// `lxpack_lxd::fuzzing::operation_url` (an operation's URL) and
/// `lxpack_lxd::fuzzing::timestamp` (an image's `created_at`) on the body as text.
///
/// # Panics
/// When a decoder panics or breaks a property it promises.
pub fn daemon_reply(data: &[u8]) {
    let (status, body) = match data {
        [high, low, body @ ..] => (u16::from_be_bytes([*high, *low]), body),
        _ => (200, data),
    };
    lxpack_lxd::fuzzing::daemon_reply(status, body);
    if let Ok(text) = std::str::from_utf8(body) {
        lxpack_lxd::fuzzing::operation_url(text);
        lxpack_lxd::fuzzing::timestamp(text);
    }
}

/// `os_spec`: `FAMILY/RELEASE[/ARCH]` as `--os` takes it; after a last newline, the
/// host's architecture (the default), else `x86_64`.
///
/// Asserts: an accepted spec is Linux, with a lower-case family and a release that
/// are non-empty and hold no `/`, and an architecture in LXD's spelling; writing it
/// back as `FAMILY/RELEASE/ARCH` reads the same identity; a spec without an
/// architecture reads as if the default were written.
///
/// # Panics
/// When a property fails.
pub fn os_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (spec, default) = text.rsplit_once('\n').unwrap_or((text, "x86_64"));
    let Ok(os) = OsIdentity::parse_spec(spec, default) else {
        return;
    };
    assert_eq!(os.os_type, OsType::Linux);
    for part in [&os.family, &os.release] {
        assert!(
            !part.is_empty() && !part.contains('/') && part.trim() == part,
            "{os:?}"
        );
    }
    assert_eq!(os.family, os.family.to_ascii_lowercase(), "{os:?}");
    assert!(
        !["amd64", "x64", "arm64", "arm64_mac"].contains(&os.architecture.as_str()),
        "{os:?}"
    );
    let arch_given = spec.trim().split('/').count() == 3;
    if arch_given || (!default.trim().is_empty() && !default.contains('/')) {
        let written = format!("{}/{}/{}", os.family, os.release, os.architecture);
        assert_eq!(
            OsIdentity::parse_spec(&written, "ignored"),
            Ok(os.clone()),
            "{written:?}"
        );
    }
    if !arch_given {
        assert_eq!(
            os,
            OsIdentity::new(OsType::Linux, &os.family, &os.release, default)
        );
    }
}

/// `ami_id`: an AMI id's text.
///
/// Asserts: an accepted id is `ami-` and 8 or 17 lower-case hex digits, and writes
/// back as the text it was read from.
///
/// # Panics
/// When a property fails.
pub fn ami_id(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(id) = AmiId::parse(text) else {
        return;
    };
    assert_eq!(id.to_string(), text);
    assert_eq!(id.as_str(), text);
    let hex = text.strip_prefix("ami-").unwrap_or_default();
    assert!(
        matches!(hex.len(), 8 | 17) && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')),
        "{text:?}"
    );
}

/// `job_id`: a job id's text.
///
/// Asserts: an accepted id writes back as the text it was read from (through
/// `Display` and `FromStr` too); it is what [`JobId::generate`] makes of its time and
/// entropy; the job of a resource named for it is read back from the name.
///
/// # Panics
/// When a property fails.
pub fn job_id(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(id) = JobId::parse(text) else {
        return;
    };
    assert_eq!(id.to_string(), text);
    assert_eq!(text.parse::<JobId>().as_ref(), Ok(&id));
    let mut entropy = [0_u8; 8];
    for (index, byte) in entropy.iter_mut().enumerate() {
        let digits = &text[8 + 2 * index..10 + 2 * index];
        *byte = u8::from_str_radix(digits, 16).unwrap_or_else(|e| panic!("{text:?}: {e}"));
    }
    assert_eq!(JobId::generate(id.unix_seconds(), entropy), id);
    let app = AppKey::new("web", "prod", "webfront");
    for command in JobCommand::ALL {
        let name = InstanceName::for_job(*command, &app, None, Some("api"), &id);
        assert_eq!(name.job(), Some(id.clone()), "{name}");
        assert_eq!(InstanceName::parse(name.as_str()), Ok(name));
    }
}

/// `event_json`: an event built from the bytes (the first picks the kind, the
/// second the step, the third the stream or the outcome, eight more the duration;
/// the rest is the output, the message, or two texts split at the first NUL), as
/// `--json` writes it.
///
/// Asserts: the JSON names the event; it is written as text and reads back the same;
/// output bytes come out as their lossy UTF-8 decoding, unchanged when they are
/// UTF-8; messages, steps and resource names come out unchanged.
///
/// # Panics
/// When a property fails.
pub fn event_json(data: &[u8]) {
    let (event, payload) = event_of(data);
    let value = render::event_json(&event);
    let kind = value["event"].as_str().map(str::to_owned);
    assert!(kind.is_some(), "{value}");
    let text = json_text(&value, false);
    let back: Value = match serde_json::from_str(&text) {
        Ok(back) => back,
        Err(error) => panic!("the event's JSON does not read back ({error}): {text}"),
    };
    match &event {
        Event::StepStarted { step } => {
            assert_eq!(back["step"], step.to_string());
        }
        Event::StepFinished {
            step,
            duration,
            succeeded,
        } => {
            assert_eq!(back["step"], step.to_string());
            assert_eq!(back["succeeded"], *succeeded);
            let seconds = back["seconds"].as_f64().unwrap_or(f64::NAN);
            let expected = duration.as_secs_f64();
            // serde_json reads floats back to within an ulp or so, not always exactly.
            assert!(
                (seconds - expected).abs() <= expected * 1e-12,
                "{seconds} for {duration:?}"
            );
        }
        Event::Output {
            step,
            stream,
            bytes,
        } => {
            assert_eq!(back["step"], step.to_string());
            assert_eq!(back["stream"], stream.as_str());
            let text = back["text"].as_str().unwrap_or_else(|| panic!("{back}"));
            assert_eq!(text, String::from_utf8_lossy(bytes));
            if let Ok(utf8) = std::str::from_utf8(bytes) {
                assert_eq!(text, utf8);
            }
        }
        Event::Warning { message } => assert_eq!(back["message"], *message),
        Event::ModuleSkipped { module, reason } => {
            assert_eq!(back["module"], *module);
            assert_eq!(back["reason"], *reason);
        }
        Event::ResourcesKept {
            instance, profile, ..
        } => {
            assert_eq!(back["instance"], instance.as_str());
            assert_eq!(back["profile"], profile.as_str());
            let how = back["how_to_remove"].as_str().unwrap_or_default();
            assert!(how.contains(instance.as_str()), "{how}");
        }
        other => panic!("not an event this body makes: {other:?} ({payload} bytes)"),
    }
    if !matches!(event, Event::StepFinished { .. }) {
        assert_eq!(back, value, "the event's JSON does not read back the same");
    }
}

/// Every step, in declaration order (`Step` is `#[non_exhaustive]` and lists none).
fn steps() -> Vec<Step> {
    let mut steps = vec![
        Step::DescribeAmi,
        Step::ChooseSourceImage,
        Step::CreateProfile,
        Step::Launch,
        Step::WaitReady,
        Step::DeliverScripts,
        Step::PreBuildImageHook,
        Step::PostBuildImageHook,
        Step::RemoveScripts,
        Step::Stop,
        Step::Publish,
        Step::RecordImage,
        Step::Retention,
        Step::ListImages,
        Step::Buildpack,
        Step::Cleanup,
    ];
    for provisioner in Provisioner::ALL {
        steps.push(Step::Bootstrap(*provisioner));
        steps.push(Step::Features(*provisioner));
    }
    steps
}

/// The event the bytes describe, and the length of its payload.
fn event_of(data: &[u8]) -> (Event, usize) {
    let byte = |index: usize| data.get(index).copied().unwrap_or(0);
    let steps = steps();
    let step = steps[usize::from(byte(1)) % steps.len()];
    let flag = byte(2) % 2 == 1;
    let mut nanos = [0_u8; 8];
    for (index, value) in nanos.iter_mut().enumerate() {
        *value = byte(3 + index);
    }
    let payload = data.get(11..).unwrap_or_default();
    let text = String::from_utf8_lossy(payload).into_owned();
    let (first, second) = match payload.iter().position(|b| *b == 0) {
        Some(at) => (
            String::from_utf8_lossy(&payload[..at]).into_owned(),
            String::from_utf8_lossy(&payload[at + 1..]).into_owned(),
        ),
        None => (text.clone(), String::new()),
    };
    let event = match byte(0) % 6 {
        0 => Event::StepStarted { step },
        1 => Event::StepFinished {
            step,
            duration: Duration::from_nanos(u64::from_le_bytes(nanos)),
            succeeded: flag,
        },
        2 => Event::Output {
            step,
            stream: if flag {
                OutputStream::Stderr
            } else {
                OutputStream::Stdout
            },
            bytes: payload.to_vec(),
        },
        3 => Event::Warning { message: text },
        4 => Event::ModuleSkipped {
            module: first,
            reason: second,
        },
        _ => {
            let instance = InstanceName::parse(&first).unwrap_or_else(|_| {
                InstanceName::for_job(
                    JobCommand::Deploy,
                    &AppKey::new(first.as_str(), "prod", "webfront"),
                    None,
                    Some(second.as_str()),
                    &JobId::generate(
                        u32::from_le_bytes([byte(3), byte(4), byte(5), byte(6)]),
                        [7; 8],
                    ),
                )
            });
            Event::ResourcesKept {
                profile: ProfileName::of(&instance),
                instance,
                until: std::time::UNIX_EPOCH,
            }
        }
    };
    (event, payload.len())
}
