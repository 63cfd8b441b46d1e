//! Exec output is streamed, never held whole: 100 MB of output pass through a counting
//! sink while this process's peak memory stays far below that; and publish honours the
//! compression it is asked for.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lxpack_core::domain::{
    ExecRequest, ImageAlias, ImageRef, ImageSelector, InstanceName, LaunchSpec, OutputStream,
};
use lxpack_core::ports::{
    Compression, ContainerRuntime, ImageRegistry, OutputSink, PublishRequest,
};
use lxpack_lxd::LxdClient;

use tokio_util::sync::CancellationToken;

use crate::helpers::{TEST_IMAGE, daemons};

const MB: u64 = 1024 * 1024;

#[derive(Default)]
struct Counter {
    stdout: AtomicU64,
    stderr: AtomicU64,
}

impl OutputSink for Counter {
    fn output(&self, stream: OutputStream, bytes: &[u8]) {
        let counter = match stream {
            OutputStream::Stdout => &self.stdout,
            OutputStream::Stderr => &self.stderr,
        };
        counter.fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }
}

/// Peak resident memory of this process, in bytes (VmHWM).
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}

async fn check(daemon: &str, client: &LxdClient) {
    let name =
        InstanceName::parse(&format!("lxpack-stream-{daemon}-{}", std::process::id())).unwrap();
    let cancel = CancellationToken::new();
    let spec = LaunchSpec {
        name: name.clone(),
        image: ImageRef::Local(ImageSelector::Alias(ImageAlias::parse(TEST_IMAGE).unwrap())),
        profile: None,
        ephemeral: false,
        isolation: Default::default(),
        limits: Default::default(),
        network: Default::default(),
        labels: None,
        standby: None,
        map_owner: None,
        from_snapshot: None,
        timeout: Duration::from_secs(120),
    };
    client.launch_instance(&spec, &cancel).await.unwrap();
    let result = async {
        let counter = Counter::default();
        let command = "head -c 104857600 /dev/zero; head -c 1048576 /dev/zero >&2";
        let request = ExecRequest::new(["sh", "-c", command], Duration::from_secs(300));
        let code = client
            .exec(&name, &request, &counter, &cancel)
            .await
            .unwrap();
        assert_eq!(code, 0, "{daemon}");
        assert_eq!(
            counter.stdout.load(Ordering::Relaxed),
            100 * MB,
            "{daemon}: stdout complete"
        );
        assert_eq!(
            counter.stderr.load(Ordering::Relaxed),
            MB,
            "{daemon}: stderr complete"
        );
        assert!(
            peak_rss() < 80 * MB,
            "{daemon}: peak RSS {} MB while streaming 100 MB",
            peak_rss() / MB
        );

        client.stop_instance(&name, None).await.unwrap();
        let mut sizes = Vec::new();
        for compression in [Compression::None, Compression::Zstd] {
            let alias = ImageAlias::parse(&format!("{name}-{compression}")).unwrap();
            let image = client
                .publish_image(
                    &PublishRequest {
                        instance: name.clone(),
                        alias,
                        properties: BTreeMap::new(),
                        compression,
                        timeout: Duration::from_secs(300),
                    },
                    &cancel,
                )
                .await
                .unwrap();
            sizes.push(image.size_bytes);
            client.delete_image(&image.fingerprint).await.unwrap();
        }
        assert!(
            sizes[1] < sizes[0],
            "{daemon}: zstd ({}) must be smaller than none ({})",
            sizes[1],
            sizes[0]
        );
    };
    // Clean up whatever happened, then report.
    let checked = std::panic::AssertUnwindSafe(result);
    let result = futures_catch(checked).await;
    let _ = client.delete_instance(&name).await;
    if let Err(panic) = result {
        std::panic::resume_unwind(panic);
    }
}

async fn futures_catch<F: std::future::Future<Output = ()>>(
    future: std::panic::AssertUnwindSafe<F>,
) -> Result<(), Box<dyn std::any::Any + Send>> {
    use futures_util::FutureExt as _;
    future.catch_unwind().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_100_mb_in_constant_memory_and_publishes_compressed() {
    let Some(daemons) = daemons() else { return };
    for (name, client) in daemons {
        check(name, &client).await;
    }
}
