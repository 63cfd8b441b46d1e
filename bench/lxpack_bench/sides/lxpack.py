"""The lxpack side: the binary (built or given), a throwaway store and configs, the
bench apps, one deploy, and the check that a job left nothing behind."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

from ..buildpacks import NOOP_BUILDPACK, flood_script, stream_script
from ..constants import CHECKOUT_OWNER, DEBIAN_ALIAS, DEPLOY_IMAGE_JOB, ROOT
from ..daemon import Daemon
from ..proc import log, run, step_seconds, tail, timed
from ..stalls import note_lxpack


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def network_yaml(mode, kind) -> str:
    """`lxpack.network`: `mode` when given (else lxpack's default, egress), and on Incus
    a bridge name of its own: LXD and Incus share this host's network namespace, where
    lxpack's default bridge `lxpackbr0` can be only one daemon's."""
    lines = ([f"    mode: {mode}\n"] if mode else []) + (
        ["    own_bridge: lxpackbr1\n"] if kind == "incus" else [])
    return "  network:\n" + "".join(lines) if lines else ""


class Lxpack:
    """The lxpack binary, one throwaway store, and one config per project/compression."""

    def __init__(self, binary: Path, daemon: Daemon, workdir: Path):
        self.binary = binary
        self.daemon = daemon
        self.workdir = workdir
        self.store = workdir / "store" / "lxpack.db"
        self.store.parent.mkdir(parents=True, exist_ok=True)
        self.env = dict(os.environ)
        self.env.update({
            "XDG_DATA_HOME": str(workdir / "data"),
            "XDG_CONFIG_HOME": str(workdir / "config"),
            "NO_COLOR": "1",
        })
        self.env.pop("LXPACK_CONFIG", None)
        self.env.pop("RUST_LOG", None)
        self.checkouts = workdir / "checkouts"
        self.checkouts.mkdir(parents=True, exist_ok=True)
        self.available = binary is not None and binary.exists()

    def config(self, project: str, compression: str = "zstd", cleanup: str = "wait",
               pool_size: int = 0, cache=None, network=None) -> Path:
        """The config of `project`; `pool_size` > 0 gives every app a standby pool of that
        size (`lxpack.pool.size`), whose standbys a deploy claims; `cache` declares
        dependency caches (`lxpack.cache`): {"apps": {"NAME/ENV/ROLE": {MODULE: [guest
        paths]}}, and optionally "quota", "budget"}; `network` sets the network policy's
        mode (`lxpack.network.mode`: none, egress or open). Without it the config has no
        `network` key, so lxpack's default applies: `egress`."""
        pooled = f"-pool{pool_size}" if pool_size else ""
        networked = f"-net{network}" if network else ""
        cached = ""
        if cache:
            text = json.dumps(cache, sort_keys=True)
            cached = "-cache" + hashlib.sha256(text.encode()).hexdigest()[:8]
        path = self.workdir / f"config-{project}-{compression}-{cleanup}{pooled}{cached}{networked}.yml"
        if not path.exists():
            path.write_text(
                "container:\n"
                "  enabled: true\n"
                "  timeout: 600\n"
                "  debug: false\n"
                "ami_retention: 5\n"
                "lxpack:\n"
                "  runtime:\n"
                f"    socket: {self.daemon.socket}\n"
                f"    project: {project}\n"
                "  isolation: unprivileged\n"
                f"  compression: {compression}\n"
                f"  cleanup: {cleanup}\n"
                + (f"  pool:\n    size: {pool_size}\n    max_age: 3600\n" if pool_size else "")
                + cache_yaml(cache)
                + network_yaml(network, self.daemon.kind)
                + "  aws:\n"
                "    enabled: false\n"
            )
        return path

    def argv(self, config: Path, *args, json_view=True):
        argv = [str(self.binary), "--config", str(config), "--store", str(self.store)]
        if json_view:
            argv.append("--json")
        return argv + list(args)

    def checkout(self, name: str) -> Path:
        """A module's checkout, owned by an unprivileged build user as in a pipeline: lxpack
        runs the buildpack as the owner and maps that id into the container (raw.idmap on
        LXD, which needs root:1000:1 in /etc/subuid and /etc/subgid; shift on Incus). It
        refuses a root-owned checkout on a daemon without idmapped mounts."""
        path = self.checkouts / name
        if not path.exists():
            path.mkdir(parents=True)
            os.chown(path, *CHECKOUT_OWNER)
        return path

    def import_apps(self, config: Path):
        modules = [
            {"name": "noop", "path": "/srv/noop", "build_pack": b64(NOOP_BUILDPACK)},
            *({"name": f"m{i}", "path": f"/srv/m{i}", "build_pack": b64(NOOP_BUILDPACK)}
              for i in range(1, 9)),
            {"name": "stream", "path": "/srv/stream", "build_pack": b64(stream_script())},
            {"name": "flood", "path": "/srv/flood", "build_pack": b64(flood_script())},
        ]
        apps = []
        for image, job in DEPLOY_IMAGE_JOB.items():
            apps.append({
                "name": f"bench-{image}", "env": "bench", "role": "bench", "region": "local",
                "modules": modules,
                "build_infos": {"container_image": job},
            })
        apps.append({
            "name": "bench-publish", "env": "bench", "role": "bench", "region": "local",
            "modules": [],
            "build_infos": {"source_container_image": DEBIAN_ALIAS},
        })
        doc = self.workdir / "apps.json"
        doc.write_text(json.dumps(apps, indent=2))
        run(self.argv(config, "app", "import", str(doc), json_view=False), env=self.env, timeout=120)

    def deploy_argv(self, config, app, module, json_view=True):
        return self.argv(config, "deploy", app, "--module", module,
                         "--checkout", str(self.checkout(module)), json_view=json_view)


def cache_yaml(cache) -> str:
    """The `lxpack.cache` block of a config (indented under `lxpack:`), or ""; paths and
    keys are written as JSON strings, which YAML reads as they are."""
    if not cache:
        return ""
    lines = ["  cache:"]
    for key in ("quota", "budget"):
        if cache.get(key):
            lines.append(f"    {key}: {cache[key]}")
    lines.append("    apps:")
    for app, modules in cache.get("apps", {}).items():
        lines.append(f"      {json.dumps(app)}:")
        for module, paths in modules.items():
            lines.append(f"        {json.dumps(module)}: {json.dumps(list(paths))}")
    return "\n".join(lines) + "\n"


def new_job_id(state={"last": 0}) -> str:
    """An ObjectId-like job id whose time prefix grows, so each new job is newer."""
    now = max(int(time.time()), state["last"] + 1)
    state["last"] = now
    return f"{now:08x}{secrets.token_hex(8)}"


def lxpack_deploy(lx: Lxpack, config, app, module):
    """(seconds or None, error, steps, stalled launch)."""
    seconds, proc = timed(lx.deploy_argv(config, app, module), env=lx.env, timeout=900)
    stalled = note_lxpack(proc.stdout, proc.stderr, proc.returncode == 0)
    if proc.returncode != 0:
        return None, f"lxpack deploy exited {proc.returncode}: {tail(proc.stderr)}", {}, stalled
    return seconds, None, step_seconds(proc.stdout), stalled


def check_clean(daemon: Daemon, project, notes, context, grace: float = 0.0,
                is_leftover=lambda name: name.startswith("lxpack-")):
    """After an lxpack job: did it leave an instance or profile behind? (The CLI side's
    own long-lived instances are not lxpack's and are left alone; `is_leftover` says
    which instances count.) `grace`: how long the daemon may take to finish a stop
    that lxpack left to it (cleanup: background)."""
    deadline = time.monotonic() + grace
    while True:
        left = [n for n in daemon.project_instances(project) if is_leftover(n)]
        if not left or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    profiles = [p for p in daemon.project_profiles(project) if p != "default"]
    if left or profiles:
        notes.append(f"{context}: left behind instances {left} profiles {profiles} (removed)")
        for name in left:
            daemon.delete_instance(project, name)
        for profile in profiles:
            daemon.lxc("profile", "delete", profile, project=project, check=False)


def build_lxpack(target_dir: Path, notes):
    log(f"cargo build --release -p lxpack-cli (CARGO_TARGET_DIR={target_dir})")
    env = dict(os.environ, CARGO_TARGET_DIR=str(target_dir))
    start = time.monotonic()
    proc = subprocess.run(["cargo", "build", "--release", "-p", "lxpack-cli"], cwd=ROOT, env=env,
                          stdout=sys.stderr, stderr=sys.stderr)
    if proc.returncode != 0:
        notes.append(f"cargo build --release -p lxpack-cli failed (exit {proc.returncode}): "
                     "the lxpack side was not measured")
        return False
    log(f"build took {time.monotonic() - start:.0f} s")
    return True
