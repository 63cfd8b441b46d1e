"""The fixed names, paths and targets of the harness."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
BENCH_DIR = ROOT / "bench"
DOC_PATH = ROOT / "docs" / "benchmarks.md"
RESULTS_PATH = BENCH_DIR / "results.json"
REQUIREMENTS = BENCH_DIR / "requirements.txt"
CACHE_DIR = Path("/var/tmp/lxpack-bench")
VENV_DIR = CACHE_DIR / "venv"
DEFAULTS_YML = ROOT / "crates" / "cli" / "src" / "config" / "defaults.yml"

DAEMONS = ("lxd", "incus")
# Each daemon's client, and (for the cluster section's members) its state-dir and
# config variables.
CLIENT_FOR = {"lxd": "lxc", "incus": "incus"}
DIR_VAR = {"lxd": "LXD_DIR", "incus": "INCUS_DIR"}
CONF_VAR = {"lxd": "LXD_CONF", "incus": "INCUS_CONF"}

SECTIONS = ("deploy", "publish", "concurrency", "streaming", "rss", "pool", "cluster", "cache",
            "network", "store")

BUSYBOX_ALIAS = "lxpack-test-busybox"
DEBIAN_ALIAS = "lxpack-bench-debian12"
BTRFS_POOL = "lxpack-bench-btrfs"
PROJECT_PREFIX = "lxpack-bench-"
# The apps' build_infos.container_image: a job id, whose alias lxpack deploy launches.
# The harness points these aliases at the base images, so lxpack and the CLI start the
# very same image.
DEPLOY_IMAGE_JOB = {
    "busybox": "00000000be0c0000000b0b01",
    "debian": "00000000be0c0000000de012",
}
CHECKOUT_OWNER = (1000, 1000)
# The cache section (issue 15): Debian 12 with a C compiler and ccache, and the SQLite
# amalgamation (the one rusqlite bundles, from the cargo registry) baked in at
# CC_SQLITE_DIR for buildimage's hooks; deploys get it in the module's checkout.
CC_ALIAS = "lxpack-bench-debian-cc"
CC_PACKAGES = ("gcc", "libc6-dev", "make", "ccache")
CC_IMAGE_JOB = "00000000be0c00000000cc12"
CC_SQLITE_DIR = "/usr/local/src/sqlite"
# The module's declared cache in the deploy container: ccache's directory. Not under
# /root: the buildpack runs as the checkout owner (CHECKOUT_OWNER), not root.
CCACHE_GUEST_DIR = "/var/cache/lxpack-ccache"
IMAGE_ALIAS = {"busybox": BUSYBOX_ALIAS, "debian": DEBIAN_ALIAS}
# lxpack.compression accepts these (crates/cli/src/config/raw.rs).
LXPACK_ALGORITHMS = ["none", "gzip", "zstd", "xz", "lz4"]
ALGO_TOOL = {"gzip": "gzip", "zstd": "zstd", "xz": "xz", "lz4": "lz4", "none": None}

TARGETS = {
    "deploy_ratio": 0.8,
    "concurrency_ratio": 3.0,
    "latency_ms": 50.0,
    "rss_mb": 50.0,
    # Standby pools (issue 14): a warm deploy (a standby claimed) at most this many
    # seconds, median, and at most this ratio to the raw CLI sequence; 8 warm deploys at
    # once against a pool of 8 at most this ratio to one warm deploy.
    "warm_seconds": 0.25,
    "warm_ratio": 0.2,
    "pool_burst_ratio": 1.5,
    # Dependency caches and step snapshots (issue 15): the second deploy (warm cache) at
    # least this many times faster than the first (empty cache); a declared cache adds at
    # most this many seconds to a no-op deploy on btrfs; a buildimage re-run with only
    # the post hook changed at least this many times faster than a cold one.
    "cache_speedup": 5.0,
    "cache_overhead_seconds": 0.2,
    "snapshot_speedup": 5.0,
    # Network policy (issue 23): a policy (`lxpack.network.mode` egress or none) adds at
    # most this many seconds to a cold deploy, median against `open` (on the bench
    # daemons, whose default profile has no NIC, the deploy as it was before the policy);
    # warm deploys under egress are held to `warm_seconds`.
    "network_cold_added_s": 0.05,
    # The shared store (issue 24): a deploy on a PostgreSQL store takes at most this many
    # seconds more than on the SQLite file (median).
    "store_added_s": 0.020,
}

# A launch slower than this met the daemon's start stall (docs/architecture.md, "The
# accept-loop stall"); see stalls.py.
STALL_SECONDS = 20.0
