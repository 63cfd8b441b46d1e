//! Two build hosts sharing one PostgreSQL store and one daemon, simulated on one
//! machine: two environments (two HOME directories, so two job-log directories and
//! pool-fill locks, two config files) whose configs name the same daemon and the same
//! test database. What one host records, the other sees: an app imported on A deploys
//! on B from the image A built; two buildimages at once leave the newer job's image
//! current on both; a deploy killed on A is found lost by `gc` on B once its lease
//! expires; eight processes on both hosts writing at once lose nothing.
//!
//! The builds run in the project `lxpack-test-hosts` (scripts/daemons-up): `gc` on a
//! shared store removes any lxpack resource its store does not know after one lease,
//! so there it sees only these tests' instances, never other tests' on the daemon.
//!
//! Not here: the store stopped mid-job, which needs a server of its own that no other
//! test shares (store_outage.rs).

use std::cell::RefCell;
use std::io::{BufRead as _, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lxpack_core::domain::JobId;

use crate::harness::{
    Env, ImageJanitor, Run, daemons, example_with, gc_outcome, test_image_os, unique_env,
};
use crate::postgres_harness::TestDatabase;

/// The daemon project the two-host tests build in (scripts/daemons-up makes it).
const PROJECT: &str = "lxpack-test-hosts";

/// How the other host is named when a record is relabelled as its.
const ELSEWHERE: &str = "build-elsewhere#0000";

/// Two hosts on one store; the database is dropped after both.
struct Hosts {
    a: Env,
    b: Env,
    database: TestDatabase,
}

impl Hosts {
    /// Two hosts on a new database, on the daemon at `socket` (none: store only);
    /// `None` when LXPACK_SKIP_REAL=1.
    fn new(socket: Option<&str>) -> Option<Self> {
        let database = TestDatabase::create()?;
        let runtime = socket.map_or_else(String::new, |socket| {
            format!(
                "  buildimage:\n    step_snapshots: false\n  network:\n    mode: none\n  \
                 runtime:\n    socket: {socket}\n    project: {PROJECT}\n"
            )
        });
        let host = || {
            let env = Env::new(None);
            env.write_config(&format!(
                "container:\n  timeout: 30\nlxpack:\n{runtime}{}",
                database.config_lines()
            ));
            env
        };
        Some(Self {
            a: host(),
            b: host(),
            database,
        })
    }
}

/// The last line of a `--json` run: its result.
fn result(run: &Run) -> serde_json::Value {
    serde_json::from_str(run.stdout.lines().last().unwrap_or_default())
        .unwrap_or_else(|e| panic!("{e}: {}", run.stdout))
}

/// Runs `lxpack --json ARGS` on `env`'s config store, expects exit 0; its result.
fn json(env: &Env, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    result(&env.run_on_config_store(&all).expect(0))
}

/// Writes `document` into `env`'s directory and imports it on `env`'s store.
fn import(env: &Env, file: &str, document: &str) {
    let path = env.dir.path().join(file);
    std::fs::write(&path, document).unwrap();
    env.run_on_config_store(&["app", "import", path.to_str().unwrap()])
        .expect(0);
}

/// The app's current image job, as `lxpack app show` on `env` says it.
fn current_image(env: &Env, app: &str) -> Option<String> {
    let shown = json(env, &["app", "show", app]);
    shown["app"]["build_infos"]["container_image"]
        .as_str()
        .map(str::to_owned)
}

/// Runs `lxpack --json buildimage APP` on `env`'s config store, expects success, and
/// has `janitor` delete the image at the end; returns the job id.
fn build_image(env: &Env, app: &str, client: &str, janitor: &ImageJanitor) -> String {
    let built = json(env, &["buildimage", app, "--os", &test_image_os(client)]);
    let job = built["job"].as_str().unwrap().to_owned();
    janitor.add(&job);
    job
}

/// `lxpack --json buildimage APP` on `env`, started now.
fn spawn_buildimage(env: &Env, app: &str, os: &str) -> Child {
    env.command_on_config_store()
        .args(["--json", "buildimage", app, "--os", os])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Deletes, when dropped, the instances and profiles in [`PROJECT`] of the jobs it is
/// given (a test that fails half-way leaves nothing on the daemon).
struct Leftovers {
    client: &'static str,
    jobs: RefCell<Vec<String>>,
}

impl Leftovers {
    fn new(client: &'static str) -> Self {
        Self {
            client,
            jobs: RefCell::new(Vec::new()),
        }
    }

    fn add(&self, job: &str) {
        self.jobs.borrow_mut().push(job.to_owned());
    }
}

/// The names of what `client LIST_ARGS --project PROJECT` lists.
fn names_in_project(client: &str, list_args: &[&str]) -> Vec<String> {
    let output = Command::new(client)
        .args(list_args)
        .args(["--project", PROJECT, "--format", "json"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{client} {list_args:?} --project {PROJECT}: {}; run scripts/daemons-up",
        String::from_utf8_lossy(&output.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["name"].as_str().map(str::to_owned))
        .collect()
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let jobs = self.jobs.borrow();
        let ours = |name: &String| jobs.iter().any(|job| name.ends_with(job.as_str()));
        for (list, delete) in [
            (&["list"][..], &["delete", "--force"][..]),
            (&["profile", "list"][..], &["profile", "delete"][..]),
        ] {
            for name in names_in_project(self.client, list)
                .iter()
                .filter(|n| ours(n))
            {
                let _ = Command::new(self.client)
                    .args(delete)
                    .args([name.as_str(), "--project", PROJECT])
                    .output();
            }
        }
    }
}

#[test]
fn an_app_imported_and_built_on_one_host_deploys_on_the_other() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let Some(hosts) = Hosts::new(Some(&socket)) else {
            return;
        };
        let (janitor, leftovers) = (ImageJanitor::new(client), Leftovers::new(client));
        let app_env = unique_env();
        import(&hosts.a, "hello.yml", &example_with(&app_env, &[]));
        assert_eq!(current_image(&hosts.b, "hello"), None, "{name}");
        let listed = hosts.b.run_on_config_store(&["app", "list"]).expect(0);
        assert!(
            listed.stdout.contains(&app_env),
            "{name}: {}",
            listed.stdout
        );

        let built = build_image(&hosts.a, "hello", client, &janitor);
        leftovers.add(&built);
        assert_eq!(
            current_image(&hosts.b, "hello"),
            Some(built.clone()),
            "{name}"
        );

        let checkout = hosts.b.checkout();
        let deployed = json(
            &hosts.b,
            &[
                "deploy",
                "hello",
                "--module",
                "site",
                "--checkout",
                checkout.to_str().unwrap(),
            ],
        );
        let job = deployed["job"].as_str().unwrap().to_owned();
        leftovers.add(&job);
        assert_eq!(deployed["status"], "built", "{name}: {deployed}");
        assert!(
            deployed["detail"]
                .as_str()
                .unwrap()
                .ends_with(&format!("from image {built}")),
            "{name}: B deploys on A's image {built}: {deployed}"
        );
        assert!(checkout.join("dist/index.html").exists(), "{name}");

        // A's history holds B's deploy, and B's its buildimage.
        for (host, wanted) in [(&hosts.a, &job), (&hosts.b, &built)] {
            let jobs = json(host, &["jobs"]);
            assert!(
                jobs["jobs"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|j| j["id"] == wanted.as_str()),
                "{name}: {jobs}"
            );
        }
    }
}

/// A pre_buildimage hook that sleeps 8 s in a job whose id's second is 0 or 1 of four
/// (the job id starts with its unix seconds in hex, and ends the instance's name), so
/// that of two buildimages started two seconds apart the older finishes last.
const OLDER_FINISHES_LAST: &str = "#!/bin/sh\ncase \"$(hostname)\" in\n  \
     *[014589cdCD]????????????????) sleep 8 ;;\nesac\nmkdir -p /etc/hello\n\
     echo prepared > /etc/hello/pre\n";

/// Sleeps until `offset` after the next second divisible by four.
fn sleep_until_quarter(start: u64, offset: Duration) {
    let at = UNIX_EPOCH + Duration::from_secs(start) + offset;
    if let Ok(wait) = at.duration_since(SystemTime::now()) {
        std::thread::sleep(wait);
    }
}

/// The result of a finished buildimage child, which must have exited 0.
fn finished(child: Child) -> serde_json::Value {
    let run = Run::from(child.wait_with_output().unwrap()).expect(0);
    result(&run)
}

#[test]
fn buildimages_on_two_hosts_at_once_leave_the_newer_job_s_image_current_on_both() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let Some(hosts) = Hosts::new(Some(&socket)) else {
            return;
        };
        let (janitor, leftovers) = (ImageJanitor::new(client), Leftovers::new(client));
        let os = test_image_os(client);
        let document = example_with(&unique_env(), &[("pre_buildimage", OLDER_FINISHES_LAST)]);
        import(&hosts.a, "hello.yml", &document);

        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let quarter = (now.as_secs() / 4 + 1) * 4;
        sleep_until_quarter(quarter, Duration::from_millis(50));
        let older = spawn_buildimage(&hosts.a, "hello", &os);
        sleep_until_quarter(quarter, Duration::from_millis(2050));
        let newer = spawn_buildimage(&hosts.b, "hello", &os);
        let (older, newer) = (finished(older), finished(newer));
        let ids = [&older, &newer].map(|r| r["job"].as_str().unwrap().to_owned());
        for id in &ids {
            janitor.add(id);
            leftovers.add(id);
        }
        let seconds = ids
            .clone()
            .map(|id| JobId::parse(&id).unwrap().unix_seconds() % 4);
        assert!(
            seconds[0] < 2 && seconds[1] >= 2,
            "{name}: started at the wrong moments (seconds {seconds:?} of four): {ids:?}"
        );
        assert!(ids[1] > ids[0], "{name}: {ids:?}");

        let ended = hosts.database.sql(&format!(
            "SELECT id FROM jobs WHERE id IN ('{}', '{}') ORDER BY ended_at_ms",
            ids[0], ids[1]
        ));
        assert_eq!(
            ended.lines().last(),
            Some(ids[0].as_str()),
            "{name}: the older job finishes last"
        );
        assert_eq!(older["current"], false, "{name}: {older}");
        assert_eq!(newer["current"], true, "{name}: {newer}");
        for host in [&hosts.a, &hosts.b] {
            assert_eq!(current_image(host, "hello"), Some(ids[1].clone()), "{name}");
        }
        assert_eq!(
            hosts.database.sql("SELECT container_image FROM apps"),
            ids[1],
            "{name}"
        );
    }
}

/// An app whose module `slow` prints `started` and sleeps.
fn sleeping_app(app_env: &str) -> String {
    use base64::Engine as _;
    let script = base64::engine::general_purpose::STANDARD
        .encode("#!/bin/sh\necho started\nexec sleep 300\n");
    format!(
        "name: leased\nenv: {app_env}\nrole: cli\nregion: eu-west-1\nmodules:\n  - name: slow\n    path: /srv/slow\n    build_pack: {script}\n"
    )
}

/// Starts `lxpack --json deploy leased --module slow` on `env` and waits until its
/// buildpack runs; the child and its job id.
fn deploy_until_started(env: &Env, checkout: &Path, daemon: &str) -> Child {
    let mut child = env
        .command_on_config_store()
        .args([
            "--json",
            "deploy",
            "leased",
            "--module",
            "slow",
            "--checkout",
        ])
        .arg(checkout)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let waited = Instant::now();
    let mut started = false;
    while let Some(Ok(line)) = lines.next() {
        if line.contains("\"output\"") && line.contains("started") {
            started = true;
            break;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "{daemon}: no start"
        );
    }
    if !started {
        let _ = child.kill();
        panic!("{daemon}: the deploy ended before its buildpack started");
    }
    // Keep reading so that the child never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    child
}

/// `lxpack --json gc` on `env`: (lost jobs, removed names).
fn gc(env: &Env) -> (Vec<String>, Vec<String>) {
    gc_outcome(&json(env, &["gc"]))
}

/// The instances and profiles in [`PROJECT`] whose names end with `job`.
fn resources_of(client: &str, job: &str) -> Vec<String> {
    [&["list"][..], &["profile", "list"][..]]
        .into_iter()
        .flat_map(|list| names_in_project(client, list))
        .filter(|name| name.ends_with(job))
        .collect()
}

#[test]
fn a_deploy_killed_on_one_host_is_found_lost_by_gc_on_the_other_when_its_lease_expires() {
    let Some(daemons) = daemons() else { return };
    for (name, client, socket) in daemons {
        let Some(hosts) = Hosts::new(Some(&socket)) else {
            return;
        };
        let (janitor, leftovers) = (ImageJanitor::new(client), Leftovers::new(client));
        import(&hosts.a, "leased.yml", &sleeping_app(&unique_env()));
        let built = build_image(&hosts.a, "leased", client, &janitor);
        leftovers.add(&built);
        let checkout = hosts.a.checkout();
        let mut child = deploy_until_started(&hosts.a, &checkout, name);
        let job = hosts
            .database
            .sql("SELECT id FROM jobs WHERE status = 'running'");
        leftovers.add(&job);
        assert_eq!(resources_of(client, &job).len(), 2, "{name}: {job} runs");

        // SIGKILL: nothing records its end; its lease goes silent. Relabelled as
        // another host's, B cannot probe its process: only the lease tells.
        child.kill().unwrap();
        child.wait().unwrap();
        hosts.database.sql(&format!(
            "UPDATE jobs SET runner_host = '{ELSEWHERE}' WHERE id = '{job}'"
        ));
        let renewed_ms: u64 = hosts
            .database
            .sql(&format!(
                "SELECT renewed_at_ms FROM jobs WHERE id = '{job}'"
            ))
            .parse()
            .unwrap();
        let renewed = UNIX_EPOCH + Duration::from_millis(renewed_ms);

        let (lost, removed) = gc(&hosts.b);
        assert!(
            SystemTime::now() < renewed + Duration::from_secs(30),
            "{name}: too slow to sweep before the lease expired"
        );
        assert!(
            lost.is_empty(),
            "{name}: lost before its lease expired: {lost:?}"
        );
        assert!(
            !removed.iter().any(|r| r.ends_with(&job)),
            "{name}: {removed:?}"
        );
        assert_eq!(resources_of(client, &job).len(), 2, "{name}: spared");

        if let Ok(wait) = (renewed + Duration::from_secs(31)).duration_since(SystemTime::now()) {
            std::thread::sleep(wait);
        }
        let (lost, removed) = gc(&hosts.b);
        assert_eq!(lost, std::slice::from_ref(&job), "{name}");
        assert_eq!(
            removed.iter().filter(|r| r.ends_with(&job)).count(),
            2,
            "{name}: its container and profile go: {removed:?}"
        );
        assert_eq!(resources_of(client, &job), Vec::<String>::new(), "{name}");
        let status = format!("SELECT status FROM jobs WHERE id = '{job}'");
        assert_eq!(hosts.database.sql(&status), "lost", "{name}");

        let jobs = hosts.b.run_on_config_store(&["jobs"]).expect(0);
        let header = jobs.stdout.lines().next().unwrap_or_default();
        assert!(header.contains("HOST"), "{name}: {}", jobs.stdout);
        assert!(
            jobs.stdout.contains("build-elsewhere"),
            "{name}: {}",
            jobs.stdout
        );
    }
}

/// What one of the eight processes does: imports its app, re-imports the app all
/// share, lists apps and jobs; each run's output when it fails.
fn store_work(env: &Env, index: usize) -> Vec<Run> {
    let own = env.dir.path().join(format!("app{index}.yml"));
    std::fs::write(
        &own,
        sleeping_app(&format!("e{index}")).replace("leased", "many"),
    )
    .unwrap();
    let shared = env.dir.path().join(format!("shared{index}.yml"));
    std::fs::write(&shared, sleeping_app("shared").replace("leased", "common")).unwrap();
    let mut runs = Vec::new();
    for args in [
        &["app", "import", own.to_str().unwrap()][..],
        &["app", "import", shared.to_str().unwrap()][..],
        &["app", "list"][..],
        &["jobs"][..],
        &["app", "import", own.to_str().unwrap()][..],
    ] {
        runs.push(env.run_on_config_store(args));
    }
    runs
}

#[test]
fn eight_processes_on_two_hosts_writing_at_once_lose_no_update() {
    // Store work only: no daemon is involved, the store is the thing shared.
    let Some(hosts) = Hosts::new(None) else {
        return;
    };
    let barrier = std::sync::Barrier::new(8);
    let runs: Vec<Vec<Run>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..8)
            .map(|index| {
                let env = if index % 2 == 0 { &hosts.a } else { &hosts.b };
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    store_work(env, index)
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap()).collect()
    });
    for run in runs.iter().flatten() {
        assert_eq!(run.code, 0, "{run:?}");
        let lower = run.stderr.to_lowercase();
        assert!(
            !lower.contains("deadlock") && !lower.contains("serializ"),
            "{run:?}"
        );
    }
    for host in [&hosts.a, &hosts.b] {
        let apps = json(host, &["app", "list"]);
        let mut keys: Vec<String> = apps["apps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|app| {
                format!(
                    "{}/{}",
                    app["name"].as_str().unwrap(),
                    app["env"].as_str().unwrap()
                )
            })
            .collect();
        keys.sort();
        let mut wanted: Vec<String> = (0..8).map(|i| format!("many/e{i}")).collect();
        wanted.push("common/shared".to_owned());
        wanted.sort();
        assert_eq!(keys, wanted);
    }
    assert_eq!(hosts.database.sql("SELECT count(*) FROM apps"), "9");
}
