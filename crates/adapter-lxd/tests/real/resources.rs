//! Resource classes on each real daemon: a fork bomb in a buildpack stops at its
//! class's process limit while the host keeps answering, and a memory hog is reported
//! out of memory; each job fails naming the cap, read from the instance's counters.

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use lxpack_core::domain::{App, AppKey, Owner, ResourceLimits};
use lxpack_core::ports::{ImageRegistry, ResourceClasses};
use lxpack_core::workflows::{BuildImageRequest, Checkout, DeployRequest, Settings, WorkflowError};
use lxpack_fake::{FakeAppStore, RecordingEvents};
use lxpack_lxd::LxdClient;
use tokio_util::sync::CancellationToken;

use crate::helpers::daemons;

const OWNER: Owner = Owner {
    uid: 1000,
    gid: 1000,
};

/// Forks doubling at each of 10 levels, each shell then sleeping: about 4,000
/// processes, far past the class's 64, yet bounded, so that the host (whose `pid_max`
/// is 32,768 here) survives it with the class removed (`LXPACK_ATTACK_WITHOUT_CLASS=1`,
/// which makes this test fail: the job then ends at its time limit). Its output goes
/// nowhere so that the step's streams end with it.
const FORK_BOMB: &[u8] = b"#!/bin/sh\nexec >/dev/null 2>&1\nb() { if [ \"$1\" -lt 10 ]; then b $(($1 + 1)) & b $(($1 + 1)) & fi; sleep 600; }\nb 0\n";

/// Holds 200 MB in a shell variable: past a 64 MiB cap.
const MEMORY_HOG: &[u8] = b"#!/bin/sh\nx=$(head -c 200000000 /dev/zero | tr '\\0' a)\necho ${#x}\n";

fn app(name: &str) -> App {
    crate::helpers::buildpack_app(
        AppKey::new(name, "test", "limits"),
        &[("bomb", FORK_BOMB), ("hog", MEMORY_HOG)],
    )
}

/// A `small` class (64 MiB, 64 processes, a 1 GiB root disk: the daemons take the
/// root device override, which a dir pool does not enforce) for both modules, and a
/// buildpack limit short enough to bound the fork bomb.
fn settings(daemon: &str, app: &AppKey) -> Settings {
    crate::helpers::class_settings(
        daemon,
        app,
        &["bomb", "hog"],
        "small",
        ResourceLimits {
            memory: Some("64MiB".into()),
            processes: Some(64),
            root_size: Some(1 << 30),
            ..ResourceLimits::default()
        },
        Duration::from_secs(15),
    )
}

/// A TCP echo on 127.0.0.1 and a prober that times a round trip every 100 ms: the
/// slowest it saw, once stopped.
struct HostProbe {
    stop: Arc<AtomicBool>,
    prober: std::thread::JoinHandle<Duration>,
}

impl HostProbe {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let mut stream = stream;
                let mut byte = [0_u8; 1];
                while stream.read_exact(&mut byte).is_ok() {
                    if stream.write_all(&byte).is_err() {
                        break;
                    }
                }
            }
        });
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = stop.clone();
        let prober = std::thread::spawn(move || {
            let mut stream = TcpStream::connect(address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let mut slowest = Duration::ZERO;
            // Bounded: at most 10 minutes of probes.
            for _ in 0..6000 {
                if stopping.load(Ordering::Relaxed) {
                    break;
                }
                let sent = Instant::now();
                let mut byte = [7_u8; 1];
                stream.write_all(&byte).unwrap();
                stream.read_exact(&mut byte).unwrap();
                slowest = slowest.max(sent.elapsed());
                std::thread::sleep(Duration::from_millis(100));
            }
            slowest
        });
        Self { stop, prober }
    }

    fn slowest(self) -> Duration {
        self.stop.store(true, Ordering::Relaxed);
        self.prober.join().unwrap()
    }
}

async fn run_on(daemon: &str, client: LxdClient) {
    let store = FakeAppStore::new();
    let app = app(&format!("limits-{daemon}"));
    store.insert_app(app.clone());
    let workflows = crate::helpers::workflows_on(&client, &store, settings(daemon, &app.key));
    let host = client.host_resources().await.unwrap();
    assert!(host.cpus.is_some_and(|n| n > 0), "{daemon}: {host:?}");
    assert!(host.memory.is_some_and(|n| n > 0), "{daemon}: {host:?}");
    workflows.check_resource_classes().await.unwrap();
    let (events, cancel) = (RecordingEvents::new(), CancellationToken::new());
    let report = workflows
        .build_image(
            &BuildImageRequest::new(app.key.clone(), workflows.new_job_id()),
            &events,
            &cancel,
        )
        .await
        .unwrap_or_else(|e| panic!("{daemon}: buildimage failed: {e:?}"));
    let dir = std::env::temp_dir().join(format!("lxpack-limits-{daemon}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::os::unix::fs::chown(&dir, Some(OWNER.uid), Some(OWNER.gid)).unwrap();
    let deploy = |module: &'static str| {
        let request = DeployRequest::new(
            app.key.clone(),
            module,
            workflows.new_job_id(),
            Checkout {
                path: dir.clone(),
                owner: OWNER,
            },
        );
        let (workflows, events, cancel) = (&workflows, &events, &cancel);
        async move { workflows.deploy(&request, events, cancel).await }
    };

    let probe = HostProbe::start();
    let started = Instant::now();
    let bomb = deploy("bomb").await;
    let bomb_took = started.elapsed();
    let slowest = probe.slowest();
    let hog = deploy("hog").await;
    let _ = client.delete_image(&report.image.fingerprint).await;
    let _ = std::fs::remove_dir_all(&dir);

    let bomb = bomb.expect_err("the fork bomb succeeded");
    eprintln!("{daemon}: fork bomb after {bomb_took:?} (host probe at worst {slowest:?}): {bomb}");
    assert!(
        matches!(&bomb, WorkflowError::LimitHit { hit, .. } if hit.field() == "processes"),
        "{daemon}: the fork bomb failed otherwise: {bomb}"
    );
    assert!(
        bomb.to_string()
            .contains("resource class small: process limit reached: processes 64"),
        "{daemon}: {bomb}"
    );
    assert!(
        bomb_took < Duration::from_secs(120),
        "{daemon}: the fork bomb's job took {bomb_took:?}"
    );
    assert!(
        slowest < Duration::from_secs(1),
        "{daemon}: the host answered in {slowest:?} during the fork bomb"
    );
    let hog = hog.expect_err("the memory hog succeeded");
    eprintln!("{daemon}: memory hog: {hog}");
    assert!(
        matches!(&hog, WorkflowError::LimitHit { hit, .. } if hit.field() == "memory"),
        "{daemon}: the memory hog failed otherwise: {hog}"
    );
    assert!(hog.to_string().contains("out of memory"), "{daemon}: {hog}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fork_bomb_and_a_memory_hog_stop_at_their_class_on_lxd_and_incus() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        run_on(name, client).await;
    }
}
