//! Errors found before any daemon is asked, and the help text. These need no daemon.

use crate::harness::{Env, example_app};
use std::path::Path;

#[test]
fn a_bad_config_names_the_file_line_and_key() {
    let env = Env::new(None);
    env.write_config("container:\n  timeout: soon\n");
    env.run(&["app", "list"])
        .expect(3)
        .says(&["config.yml:2", "container.timeout", "hint:"]);
    env.write_config("features_provisioners:\n  salt:\n    path: relative/formulas\n");
    env.run(&["app", "list"])
        .expect(3)
        .says(&["features_provisioners.salt.path", "absolute"]);
}

#[test]
fn unknown_config_keys_are_warnings() {
    let env = Env::new(None);
    env.write_config("container:\n  timeout: 5\nbogus_key: 1\n");
    let run = env.run(&["app", "list"]).expect(0);
    let warning = run
        .stderr
        .lines()
        .find(|line| line.contains("bogus_key"))
        .unwrap_or_else(|| panic!("no warning: {}", run.stderr));
    assert!(
        warning.starts_with("warning: "),
        "a plain warning, not a log line: {warning}"
    );
}

#[test]
fn a_missing_config_file_named_by_flag_or_variable_is_an_error() {
    let env = Env::new(None);
    let run = |config_flag: bool| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_lxpack"));
        command.env_clear().env("HOME", env.dir.path());
        if config_flag {
            command.args(["--config", "/nonexistent/lxpack.yml"]);
        } else {
            command.env("LXPACK_CONFIG", "/nonexistent/lxpack.yml");
        }
        crate::harness::Run::from(command.args(["app", "list"]).output().unwrap())
    };
    run(true)
        .expect(3)
        .says(&["/nonexistent/lxpack.yml", "--config"]);
    run(false)
        .expect(3)
        .says(&["/nonexistent/lxpack.yml", "LXPACK_CONFIG"]);
}

#[test]
fn a_bad_app_file_names_the_file_and_field_and_imports_nothing() {
    let env = Env::new(None);
    let bad = env.dir.path().join("bad.yml");
    std::fs::write(&bad, "name: web\nenv: prod\nrole: front\nregion: eu-west-1\nmodules:\n  - name: api\n    path: relative\n").unwrap();
    let good = example_app();
    env.run(&[
        "app",
        "import",
        good.to_str().unwrap(),
        bad.to_str().unwrap(),
    ])
    .expect(4)
    .says(&["bad.yml", "modules[0].path"]);
    let run = env.run(&["app", "list"]).expect(0);
    assert!(
        run.stdout.contains("no apps"),
        "nothing was imported: {}",
        run.stdout
    );
    env.run(&["app", "import", "/nonexistent/app.yml"])
        .expect(4)
        .says(&["/nonexistent/app.yml"]);
}

#[test]
fn unknown_and_ambiguous_apps_are_input_errors() {
    let env = Env::new(None);
    env.run(&["app", "show", "nope"])
        .expect(4)
        .says(&["no app nope", "lxpack app import"]);
    let two = env.dir.path().join("two.yml");
    std::fs::write(&two, "- {name: web, env: a, role: r, region: eu-west-1}\n- {name: web, env: b, role: r, region: eu-west-1}\n").unwrap();
    env.run(&["app", "import", two.to_str().unwrap()]).expect(0);
    env.run(&["app", "show", "web"])
        .expect(4)
        .says(&["several apps", "web/a/r"]);
    env.run(&["app", "show", "web/b/r"]).expect(0);
    env.run(&["app", "export", "web/a/r", "--format", "json"])
        .expect(0);
}

#[test]
fn a_missing_checkout_is_an_input_error() {
    let env = Env::new(None);
    env.run(&["app", "import", example_app().to_str().unwrap()])
        .expect(0);
    env.deploy("hello", "site", Path::new("/nonexistent/checkout"))
        .expect(4)
        .says(&["/nonexistent/checkout", "--checkout"]);
}

#[test]
fn a_daemon_that_is_down_is_a_daemon_error_with_a_hint() {
    let env = Env::new(Some("/nonexistent/lxd/unix.socket"));
    env.run(&["app", "import", example_app().to_str().unwrap()])
        .expect(0);
    env.run(&["buildimage", "hello", "--os", "debian/12"])
        .expect(5)
        .says(&["/nonexistent/lxd/unix.socket", "does not exist", "hint:"]);
    let run = env.run(&["doctor"]).expect(12);
    assert!(run.stdout.contains("FAIL  socket"), "{}", run.stdout);
    assert!(run.stdout.contains("fix:"), "{}", run.stdout);
}

#[test]
fn a_bad_job_id_or_os_is_an_input_error() {
    let env = Env::new(Some("/nonexistent/lxd/unix.socket"));
    env.run(&["app", "import", example_app().to_str().unwrap()])
        .expect(0);
    env.run(&["buildimage", "hello", "--os", "debian"])
        .expect(4)
        .says(&["FAMILY/RELEASE"]);
    env.run(&[
        "buildimage",
        "hello",
        "--ami",
        "ami-XYZ",
        "--os",
        "debian/12",
    ])
    .expect(4)
    .says(&["AMI"]);
    env.run(&["jobs", "log", "123"]).expect(4).says(&["job id"]);
}

#[test]
fn containers_disabled_refuses_jobs() {
    let env = Env::new(None);
    env.write_config("container:\n  enabled: false\n");
    env.run(&["app", "import", example_app().to_str().unwrap()])
        .expect(0);
    env.run(&["buildimage", "hello", "--os", "debian/12"])
        .expect(3)
        .says(&["container.enabled"]);
}

#[test]
fn json_errors_are_one_object_on_stdout() {
    let env = Env::new(None);
    let run = env.run(&["--json", "app", "show", "nope"]).expect(4);
    let error: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(error["event"], "error");
    assert_eq!(error["exit_code"], 4);
    assert!(error["hint"].as_str().unwrap().contains("app import"));
}

#[test]
fn every_help_text_renders() {
    let env = Env::new(None);
    let run = env.run(&["--help"]).expect(0);
    for command in [
        "doctor",
        "app",
        "buildimage",
        "deploy",
        "images",
        "gc",
        "jobs",
    ] {
        assert!(run.stdout.contains(command), "{}", run.stdout);
        env.run(&[command, "--help"]).expect(0);
    }
    env.run(&["bogus"]).expect(2);
}

#[test]
fn a_pool_size_past_the_cap_is_refused_by_flag_as_by_config() {
    let env = Env::new(None);
    let problem = "100 standbys is more than the 64 a pool may hold";
    env.run(&["pool", "fill", "hello", "--size", "100"])
        .expect(3)
        .says(&["--size", problem, "hint:"]);
    env.write_config("lxpack:\n  pool:\n    size: 100\n");
    env.run(&["pool", "list"])
        .expect(3)
        .says(&["lxpack.pool.size", problem]);
}

#[test]
fn gc_help_names_everything_gc_removes() {
    let env = Env::new(None);
    let words = |args: &[&str]| {
        let run = env.run(args).expect(0);
        run.stdout.split_whitespace().collect::<Vec<_>>().join(" ")
    };
    let listing = words(&["--help"]);
    let short = words(&["gc", "-h"]);
    let long = words(&["gc", "--help"]);
    assert!(
        listing.contains(
            "gc Remove what no job needs any more: instances, profiles, standbys, cache volumes and step-snapshot holders"
        ),
        "{listing}"
    );
    for what in [
        "instances",
        "profiles",
        "standbys",
        "cache volumes",
        "step-snapshot holders",
    ] {
        assert!(short.contains(what), "{what} not in: {short}");
        assert!(long.contains(what), "{what} not in: {long}");
    }
    assert!(long.contains("lost at once"), "{long}");
}

/// Jobs of two build hosts in one store: `lxpack jobs` names each job's host, plain
/// and JSON; while one host ran them all, it does not.
#[test]
fn jobs_name_their_host_only_when_several_hosts_ran_them() {
    use lxpack_core::domain::{AppKey, JobCommand, JobId, JobRecord, JobRunner};
    use lxpack_core::ports::JobHistory as _;

    let env = Env::new(None);
    let store = lxpack_sqlite::SqliteAppStore::open(&env.dir.path().join("lxpack.db")).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let record = |seconds: u32, host: &str| {
        JobRecord::running(
            JobId::generate(seconds, *b"hostjob1"),
            JobCommand::Deploy,
            AppKey::new("web", "prod", "front"),
            Some("api".into()),
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(u64::from(seconds)),
        )
        .with_runner(Some(JobRunner {
            host: host.into(),
            pid: 7,
            started: 1,
        }))
    };
    let record_job = |job: JobRecord| runtime.block_on(store.record_job(&job)).unwrap();
    record_job(record(1_700_000_100, "build-1#boot-a"));
    record_job(record(1_700_000_200, "build-1#boot-b"));

    let run = env.run(&["jobs"]).expect(0);
    assert!(!run.stdout.contains("HOST"), "{}", run.stdout);
    let run = env.run(&["--json", "jobs"]).expect(0);
    assert!(!run.stdout.contains("\"host\""), "{}", run.stdout);

    record_job(record(1_700_000_300, "build-2#boot-c"));
    let run = env.run(&["jobs"]).expect(0);
    let header = run.stdout.lines().next().unwrap();
    assert!(header.contains("HOST"), "{}", run.stdout);
    let hosts: Vec<&str> = run
        .stdout
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(5))
        .collect();
    assert_eq!(hosts, ["build-2", "build-1", "build-1"], "{}", run.stdout);
    let run = env.run(&["--json", "jobs"]).expect(0);
    let listing: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    let hosts: Vec<&str> = listing["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| job["host"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["build-2", "build-1", "build-1"], "{listing}");
}
