//! The SQLite store against real files: the port's contract, the CLI's calls, the
//! schema's versions, and the newer-job rule with 8 processes racing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use lxpack_core::document::{DocumentFormat, parse_app_documents};
use lxpack_core::domain::{App, AppKey, JobCommand, JobId, JobRecord, JobStatus};
use lxpack_core::ports::{AppStore, AppStoreError, ImportOutcome, JobHistory};
use lxpack_sqlite::{SqliteAppStore, SqliteStoreError};

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("lxpack-sqlite-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn db(&self) -> PathBuf {
        self.0.join("nested").join("lxpack.db")
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn app(name: &str) -> App {
    let text = format!(
        r#"{{"name": "{name}", "env": "prod", "role": "front", "region": "eu-west-1",
            "modules": [{{"name": "api", "path": "/srv/api", "build_pack": "bWFrZQo="}}]}}"#
    );
    parse_app_documents(&text, DocumentFormat::Json)
        .unwrap()
        .pop()
        .unwrap()
}

fn key(name: &str) -> AppKey {
    app(name).key
}

fn job(seconds: u32) -> JobId {
    JobId::generate(seconds, [3; 8])
}

#[tokio::test]
async fn passes_the_app_store_contract() {
    let dir = TempDir::new("contract");
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    store.import_app(app("web")).await.unwrap();
    lxpack_contract::app_store_contract(&store, &key("web"))
        .await
        .assert_passed();
}

#[tokio::test]
async fn passes_the_job_history_contract_twice() {
    let dir = TempDir::new("history-contract");
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    for _ in 0..2 {
        lxpack_contract::job_history_contract(&store, &key("web"))
            .await
            .assert_passed();
    }
}

#[tokio::test]
async fn apps_round_trip_and_import_is_idempotent_by_key() {
    let dir = TempDir::new("import");
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    assert_eq!(
        store.import_app(app("web")).await.unwrap(),
        ImportOutcome::Created
    );
    assert_eq!(
        store.import_app(app("web")).await.unwrap(),
        ImportOutcome::Updated
    );
    store.import_app(app("api")).await.unwrap();
    let apps = store.list_apps().await.unwrap();
    assert_eq!(
        apps.iter().map(|a| a.key.name.as_str()).collect::<Vec<_>>(),
        ["api", "web"]
    );
    assert_eq!(store.get_app(&key("web")).await.unwrap(), app("web"));
    assert!(matches!(
        store.get_app(&key("nope")).await,
        Err(AppStoreError::AppNotFound { .. })
    ));
    assert!(store.remove_app(&key("api")).await.unwrap());
    assert!(!store.remove_app(&key("api")).await.unwrap());
    // Survives reopening.
    drop(store);
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    assert_eq!(store.list_apps().await.unwrap().len(), 1);
}

#[tokio::test]
async fn import_never_moves_the_container_image_backwards() {
    let dir = TempDir::new("backwards");
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    store.import_app(app("web")).await.unwrap();
    store
        .record_container_image(&key("web"), &job(200))
        .await
        .unwrap();
    let mut older = app("web");
    older.build_infos.container_image = Some(job(100));
    older.region = "us-east-1".into();
    store.import_app(older).await.unwrap();
    let stored = store.get_app(&key("web")).await.unwrap();
    assert_eq!(stored.region, "us-east-1", "the document is updated");
    assert_eq!(
        stored.build_infos.container_image,
        Some(job(200)),
        "the image is not"
    );
}

#[tokio::test]
async fn older_jobs_lose() {
    let dir = TempDir::new("older");
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    store.import_app(app("web")).await.unwrap();
    assert_eq!(
        store
            .record_container_image(&key("web"), &job(200))
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store
            .record_container_image(&key("web"), &job(200))
            .await
            .unwrap(),
        None
    );
    let error = store
        .record_container_image(&key("web"), &job(100))
        .await
        .unwrap_err();
    assert!(
        matches!(error, AppStoreError::Superseded { ref current, .. } if *current == job(200)),
        "{error}"
    );
    assert_eq!(
        store
            .record_container_image(&key("web"), &job(300))
            .await
            .unwrap(),
        Some(job(200))
    );
    assert!(matches!(
        store.record_container_image(&key("nope"), &job(300)).await,
        Err(AppStoreError::AppNotFound { .. })
    ));
}

#[tokio::test]
async fn job_history() {
    let dir = TempDir::new("jobs");
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    let record = |id: JobId, app: &str, at: u64, status| {
        let mut record = JobRecord::running(
            id,
            JobCommand::Deploy,
            key(app),
            Some("api".into()),
            SystemTime::UNIX_EPOCH + Duration::from_secs(at),
        )
        .with_log(Some("/var/log/x.log".into()));
        record.status = status;
        record
    };
    store
        .record_job(&record(job(1), "web", 10, JobStatus::Running))
        .await
        .unwrap();
    store
        .record_job(&record(job(2), "web", 20, JobStatus::Running))
        .await
        .unwrap();
    store
        .record_job(&record(job(3), "api", 30, JobStatus::Failed))
        .await
        .unwrap();
    let mut done = record(job(1), "web", 10, JobStatus::Succeeded);
    done.ended_at = Some(SystemTime::UNIX_EPOCH + Duration::from_secs(15));
    store.record_job(&done).await.unwrap();
    let running: Vec<JobId> = store
        .running_jobs()
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(running, [job(2)]);
    let web: Vec<JobId> = store
        .list_jobs(Some(&key("web")))
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(web, [job(2), job(1)]);
    assert_eq!(store.list_jobs(None).await.unwrap().len(), 3);
    assert_eq!(store.get_job(&job(1)).await.unwrap(), Some(done));
    assert_eq!(store.get_job(&job(9)).await.unwrap(), None);
}

/// A database of the schema before leases (version 5, a job running in it) is
/// upgraded in place when opened: the job reads back without a lease, and its lease
/// can be renewed.
#[tokio::test]
async fn a_database_from_before_leases_upgrades_in_place() {
    let dir = TempDir::new("lease-upgrade");
    let path = dir.db();
    let running = JobRecord::running(
        job(10),
        JobCommand::Deploy,
        key("web"),
        Some("api".into()),
        SystemTime::UNIX_EPOCH + Duration::from_secs(10),
    );
    {
        let store = SqliteAppStore::open(&path).unwrap();
        store.record_job(&running).await.unwrap();
    }
    // Back to version 5: migration 6 only added this column.
    rusqlite_connection(&path)
        .execute_batch("ALTER TABLE jobs DROP COLUMN renewed_at_ms; PRAGMA user_version = 5;")
        .unwrap();
    assert_eq!(rusqlite_version(&path), 5);

    let store = SqliteAppStore::open(&path).unwrap();
    assert_eq!(rusqlite_version(&path), 6);
    assert_eq!(
        store.get_job(&job(10)).await.unwrap(),
        Some(running.clone())
    );
    let at = SystemTime::UNIX_EPOCH + Duration::from_millis(20_500);
    assert!(store.renew_lease(&job(10), at).await.unwrap());
    assert_eq!(
        store.get_job(&job(10)).await.unwrap(),
        Some(running.with_lease(at))
    );
}

/// A renewal writes the lease of a running job only: an ended job stays ended.
#[tokio::test]
async fn a_lease_renewal_never_resurrects_an_ended_job() {
    let dir = TempDir::new("lease-ended");
    let store = SqliteAppStore::open(&dir.db()).unwrap();
    let start = SystemTime::UNIX_EPOCH + Duration::from_secs(10);
    let mut record =
        JobRecord::running(job(11), JobCommand::Deploy, key("web"), None, start).with_lease(start);
    store.record_job(&record).await.unwrap();
    record.end(
        JobStatus::Lost,
        Some("lost".into()),
        start + Duration::from_secs(60),
    );
    store.record_job(&record).await.unwrap();
    assert!(
        !store
            .renew_lease(&job(11), start + Duration::from_secs(61))
            .await
            .unwrap()
    );
    assert_eq!(store.get_job(&job(11)).await.unwrap(), Some(record));
    assert!(store.running_jobs().await.unwrap().is_empty());
    assert!(
        !store.renew_lease(&job(12), start).await.unwrap(),
        "unknown"
    );
    assert!(!JobHistory::is_shared(&store));
}

#[test]
fn schema_versions_are_checked() {
    let dir = TempDir::new("schema");
    let path = dir.db();
    drop(SqliteAppStore::open(&path).unwrap());
    let version = |path: &Path| -> i64 { rusqlite_version(path) };
    assert_eq!(version(&path), 6);
    set_version(&path, 99);
    let error = SqliteAppStore::open(&path).unwrap_err();
    assert!(
        matches!(
            error,
            SqliteStoreError::NewerSchema {
                found: 99,
                supported: 6,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.to_string().contains("upgrade lxpack"));

    let garbage = dir.0.join("garbage.db");
    std::fs::write(&garbage, vec![b'x'; 4096]).unwrap();
    let error = SqliteAppStore::open(&garbage).unwrap_err();
    assert!(
        matches!(error, SqliteStoreError::NotADatabase { .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("--store"));
}

fn rusqlite_version(path: &Path) -> i64 {
    let output = sqlite_pragma(path, "PRAGMA user_version");
    output.trim().parse().unwrap()
}

fn set_version(path: &Path, version: i64) {
    sqlite_pragma(path, &format!("PRAGMA user_version = {version}"));
}

/// Reads or writes a pragma through the store's own dependency, in a child of this
/// test binary, so the test needs no sqlite3 command.
fn sqlite_pragma(path: &Path, sql: &str) -> String {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "pragma_worker",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("LXPACK_PRAGMA_DB", path)
        .env("LXPACK_PRAGMA_SQL", sql)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.split_once("pragma=").map(|(_, v)| v))
        .unwrap_or_default()
        .to_owned()
}

/// Not a test on its own: the child process of `sqlite_pragma`.
#[test]
fn pragma_worker() {
    let (Some(db), Some(sql)) = (
        std::env::var_os("LXPACK_PRAGMA_DB"),
        std::env::var("LXPACK_PRAGMA_SQL").ok(),
    ) else {
        return;
    };
    let connection = rusqlite_connection(Path::new(&db));
    let value: String = connection
        .query_row(&sql, [], |row| row.get::<_, i64>(0).map(|v| v.to_string()))
        .unwrap_or_default();
    println!("pragma={value}");
}

fn rusqlite_connection(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// 8 processes record 8 different jobs on one app at once: the newest wins, and every
/// `Superseded` answer names a job newer than the one refused.
#[test]
fn eight_processes_race_and_the_newest_job_wins() {
    let dir = TempDir::new("race");
    let path = dir.db();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteAppStore::open(&path).unwrap();
        store.import_app(app("web")).await.unwrap();
    });
    let children: Vec<_> = (1..=8_u32)
        .map(|n| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "race_worker", "--nocapture", "--test-threads=1"])
                .env("LXPACK_RACE_DB", &path)
                .env("LXPACK_RACE_JOB", job(1_000 + n * 7 % 8).to_string())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outcomes = Vec::new();
    for child in children {
        let output = child.wait_with_output().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        outcomes.push(
            stdout
                .lines()
                .find_map(|l| l.split_once("outcome=").map(|(_, v)| v.to_owned()))
                .unwrap(),
        );
    }
    let newest = (1..=8_u32).map(|n| job(1_000 + n * 7 % 8)).max().unwrap();
    runtime.block_on(async {
        let store = SqliteAppStore::open(&path).unwrap();
        assert_eq!(
            store
                .get_app(&key("web"))
                .await
                .unwrap()
                .build_infos
                .container_image,
            Some(newest.clone())
        );
    });
    assert_eq!(outcomes.len(), 8);
    for outcome in &outcomes {
        let parts: Vec<&str> = outcome.split(' ').collect();
        if parts[0] == "superseded" {
            assert!(
                parts[1] > parts[2],
                "{outcome}: the current job must be newer than the refused one"
            );
        } else {
            assert_eq!(parts[0], "recorded", "{outcome}");
        }
    }
    assert!(outcomes.iter().any(|o| o.starts_with("recorded")));
}

/// Not a test on its own: the child process of the race.
#[test]
fn race_worker() {
    let (Some(db), Some(id)) = (
        std::env::var_os("LXPACK_RACE_DB"),
        std::env::var("LXPACK_RACE_JOB").ok(),
    ) else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = SqliteAppStore::open(Path::new(&db)).unwrap();
        let id = JobId::parse(&id).unwrap();
        match store.record_container_image(&key("web"), &id).await {
            Ok(_) => println!("outcome=recorded {id}"),
            Err(AppStoreError::Superseded {
                current, rejected, ..
            }) => println!("outcome=superseded {current} {rejected}"),
            Err(error) => panic!("{error}"),
        }
    });
}

#[test]
fn a_new_store_is_its_owner_s_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = TempDir::new("modes");
    let path = dir.db();
    drop(SqliteAppStore::open(&path).unwrap());
    let mode = |path: &Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&path), 0o600);
    assert_eq!(mode(path.parent().unwrap()), 0o700);
}
