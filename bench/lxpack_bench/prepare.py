"""What the bench needs on a daemon, made idempotently and left in place for the next
run: the btrfs pool, one project per pool (and one whose profile has a NIC on the
bench's own bridge), the Debian 12 image (its tarball cached
under CACHE_DIR) and the apps' image aliases."""

from __future__ import annotations

import glob
import ipaddress
import os
import platform
import re
import shutil
import subprocess
import time
from pathlib import Path

from .constants import (BTRFS_POOL, CACHE_DIR, CC_ALIAS, CC_IMAGE_JOB, CC_PACKAGES, CC_SQLITE_DIR,
                        CHECKOUT_OWNER, DEBIAN_ALIAS, DEPLOY_IMAGE_JOB, IMAGE_ALIAS, PROJECT_PREFIX,
                        ROOT)
from .daemon import Daemon
from .proc import log, run


def prepare(daemon: Daemon, notes) -> dict:
    """Everything above on `daemon`; returns the projects by pool (`dir`, `btrfs`), and
    `nic`: the dir pool's project whose `default` profile has a NIC."""
    ensure_btrfs_pool(daemon, notes)
    projects = {"dir": ensure_project(daemon, "default", notes),
                "btrfs": ensure_project(daemon, BTRFS_POOL, notes)}
    projects["nic"] = ensure_nic_project(daemon, notes)
    ensure_debian_image(daemon, notes)
    ensure_deploy_aliases(daemon)
    return projects


def check_idmap(notes):
    """LXD maps the checkout owner with raw.idmap, which needs root:UID:1 in subuid/subgid."""
    for idmap in ("/etc/subuid", "/etc/subgid"):
        text = Path(idmap).read_text() if os.path.exists(idmap) else ""
        if f"root:{CHECKOUT_OWNER[0]}:1" not in text.split():
            notes.append(f"{idmap} lacks root:{CHECKOUT_OWNER[0]}:1 (scripts/daemons-up adds it): "
                         "lxpack cannot map the checkout owner on LXD")


def ensure_btrfs_pool(daemon: Daemon, notes):
    if daemon.lxc("storage", "show", BTRFS_POOL, check=False).returncode == 0:
        return
    install_tool("mkfs.btrfs", "btrfs-progs")
    log(f"creating the btrfs pool {BTRFS_POOL} (6 GiB loop file)")
    daemon.lxc("storage", "create", BTRFS_POOL, "btrfs", "size=6GiB")
    notes.append(f"created storage pool {BTRFS_POOL} (btrfs, 6 GiB loop file)")


def ensure_project(daemon: Daemon, pool: str, notes) -> str:
    project = PROJECT_PREFIX + ("dir" if pool == "default" else "btrfs")
    if daemon.lxc("project", "show", project, check=False).returncode != 0:
        log(f"creating project {project} on pool {pool}")
        daemon.lxc(
            "project", "create", project,
            "-c", "features.images=false", "-c", "features.profiles=true",
        )
        notes.append(f"created project {project} (root disk on pool {pool})")
    current = daemon.lxc("profile", "device", "get", "default", "root", "pool",
                         project=project, check=False)
    if current.returncode != 0:
        daemon.lxc("profile", "device", "add", "default", "root", "disk", "path=/",
                   f"pool={pool}", project=project)
    elif current.stdout.strip() != pool:
        daemon.lxc("profile", "device", "set", "default", "root", f"pool={pool}", project=project)
    return project


def build_debian_tarball() -> Path:
    """Debian 12 minbase as a unified image tarball, cached across runs."""
    return debootstrap_tarball(CACHE_DIR / "debian12-minbase.tar.zst", "Debian 12 minbase")


def install_tool(binary: str, package: str):
    if shutil.which(binary):
        return
    log(f"installing {package}")
    proc = run(["apt-get", "install", "-y", "-qq", package], check=False, timeout=600)
    if proc.returncode != 0:
        run(["apt-get", "update", "-qq"], check=False, timeout=600)
        run(["apt-get", "install", "-y", "-qq", package], timeout=600)


def debootstrap_tarball(tarball: Path, what: str, include=(), add=None) -> Path:
    """Debian 12 (bookworm, minbase, plus the packages `include`) as a unified image
    tarball at `tarball`, made once and cached across runs; `add(rootfs)` puts more files
    in before it is packed. Its metadata says os debian, release 12, the architecture,
    and `what`."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    if tarball.exists() and tarball.stat().st_size > 0:
        return tarball
    install_tool("debootstrap", "debootstrap")
    stage = tarball.with_name(tarball.name.split(".")[0] + "-stage")
    shutil.rmtree(stage, ignore_errors=True)
    rootfs = stage / "rootfs"
    rootfs.mkdir(parents=True)
    argv = ["debootstrap", "--variant=minbase"]
    if include:
        argv.append("--include=" + ",".join(include))
    log(f"{' '.join(argv)} bookworm ({what}; a minute or more)")
    start = time.monotonic()
    run(argv + ["bookworm", str(rootfs), "http://deb.debian.org/debian"], timeout=1800)
    log(f"debootstrap took {time.monotonic() - start:.0f} s")
    # minbase has no init: the container needs a PID 1 that stays up.
    init = rootfs / "sbin" / "init"
    if init.exists() or init.is_symlink():
        init.unlink()
    init.write_text("#!/bin/sh\nexec /bin/sleep 2147483647\n")
    init.chmod(0o755)
    for junk in ("var/cache/apt/archives", "var/lib/apt/lists"):
        for item in (rootfs / junk).glob("*"):
            if item.is_file():
                item.unlink()
    if add:
        add(rootfs)
    arch = platform.machine()
    (stage / "metadata.yaml").write_text(
        f"architecture: {arch}\n"
        f"creation_date: {int(time.time())}\n"
        "properties:\n"
        "  os: debian\n"
        '  release: "12"\n'
        f"  architecture: {arch}\n"
        f"  description: lxpack bench {what}\n"
    )
    partial = tarball.with_suffix(".partial")
    run(["tar", "--numeric-owner", "-C", str(stage), "-I", "zstd -T0 -3", "-cf",
         str(partial), "metadata.yaml", "rootfs"], timeout=1800)
    partial.rename(tarball)
    shutil.rmtree(stage, ignore_errors=True)
    return tarball


def ensure_debian_image(daemon: Daemon, notes):
    if daemon.image_alias_target(DEBIAN_ALIAS):
        return
    tarball = build_debian_tarball()
    log(f"importing {tarball} as {DEBIAN_ALIAS}")
    daemon.lxc("image", "import", str(tarball), "--alias", DEBIAN_ALIAS, timeout=1800)
    notes.append(f"imported image {DEBIAN_ALIAS} from {tarball}")


def ensure_deploy_aliases(daemon: Daemon):
    """Points each app's container_image alias (a job id) at its base image."""
    for image, job in DEPLOY_IMAGE_JOB.items():
        fingerprint = daemon.image_alias_target(IMAGE_ALIAS[image])
        if not fingerprint:
            raise SystemExit(f"image {IMAGE_ALIAS[image]} is missing: run scripts/daemons-up")
        current = daemon.image_alias_target(job)
        if current == fingerprint:
            continue
        if current:
            daemon.lxc("image", "alias", "delete", job)
        daemon.lxc("image", "alias", "create", job, fingerprint)


def sqlite_amalgamation() -> Path:
    """The directory of the SQLite amalgamation (sqlite3.c, sqlite3.h) that rusqlite
    bundles, in the cargo registry (libsqlite3-sys-*/sqlite3/); `cargo fetch` fills the
    registry when it is not there. The newest version found."""
    def found():
        home = Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo"))
        dirs = [Path(d) for d in glob.glob(str(home / "registry" / "src" / "*" / "libsqlite3-sys-*" / "sqlite3"))
                if (Path(d) / "sqlite3.c").is_file() and (Path(d) / "sqlite3.h").is_file()]
        return sorted(dirs, key=lambda d: tuple(int(x) for x in re.findall(r"\d+", sqlite_version(d) or "")))
    dirs = found()
    if not dirs:
        log("the SQLite amalgamation is not in the cargo registry: cargo fetch")
        run(["cargo", "fetch", "--locked"], cwd=ROOT, timeout=1800)
        dirs = found()
    if not dirs:
        raise SystemExit("no libsqlite3-sys-*/sqlite3/sqlite3.c in the cargo registry after `cargo fetch`")
    return dirs[-1]


def sqlite_version(directory: Path):
    text = (directory / "sqlite3.h").read_text(errors="replace")
    found = re.search(r'^#define SQLITE_VERSION\s+"([^"]+)"', text, re.M)
    return found.group(1) if found else None


def build_cc_tarball(sqlite: Path) -> Path:
    """Debian 12 minbase with CC_PACKAGES and the SQLite amalgamation at CC_SQLITE_DIR,
    cached across runs (one tarball per SQLite version)."""
    version = sqlite_version(sqlite) or "unknown"

    def add(rootfs):
        target = rootfs / CC_SQLITE_DIR.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        for name in ("sqlite3.c", "sqlite3.h"):
            shutil.copyfile(sqlite / name, target / name)
            (target / name).chmod(0o644)

    return debootstrap_tarball(CACHE_DIR / f"debian12-cc-sqlite{version}.tar.zst",
                               f"Debian 12 minbase with {', '.join(CC_PACKAGES)} and SQLite {version} "
                               f"in {CC_SQLITE_DIR}", include=CC_PACKAGES, add=add)


def ensure_cc_image(daemon: Daemon, notes) -> str:
    """The compiler image (CC_ALIAS), imported once, and the cache section's app alias
    (CC_IMAGE_JOB) on it: its fingerprint."""
    if not daemon.image_alias_target(CC_ALIAS):
        tarball = build_cc_tarball(sqlite_amalgamation())
        log(f"importing {tarball} as {CC_ALIAS}")
        daemon.lxc("image", "import", str(tarball), "--alias", CC_ALIAS, timeout=1800)
        notes.append(f"imported image {CC_ALIAS} from {tarball}")
    fingerprint = daemon.image_alias_target(CC_ALIAS)
    current = daemon.image_alias_target(CC_IMAGE_JOB)
    if current != fingerprint:
        if current:
            daemon.lxc("image", "alias", "delete", CC_IMAGE_JOB)
        daemon.lxc("image", "alias", "create", CC_IMAGE_JOB, fingerprint)
    return fingerprint


def bench_bridge(daemon: Daemon) -> str:
    """The bench's own bridge on `daemon`: one name per daemon, since LXD and Incus
    share this host's network namespace, where a bridge name is one interface."""
    return f"lxpbench-{daemon.kind}"


def taken_ranges() -> list:
    """Every IPv4 range the host's routes and addresses hold (the default route aside)."""
    taken = []
    for argv in (["ip", "-o", "-4", "route", "show", "table", "all"], ["ip", "-o", "-4", "addr"]):
        out = subprocess.run(argv, capture_output=True, text=True, check=False).stdout
        for word in out.split():
            try:
                network = ipaddress.ip_network(word, strict=False)
            except ValueError:
                continue
            if network.version == 4 and network.prefixlen > 0:
                taken.append(network)
    return taken


def free_subnet() -> ipaddress.IPv4Network:
    """A 10.x.y.0/24 that nothing on the host holds, for the bench's bridge."""
    taken = taken_ranges()
    for second in range(240, 250):
        for third in range(0, 256, 3):
            candidate = ipaddress.ip_network(f"10.{second}.{third}.0/24")
            if not any(candidate.overlaps(network) for network in taken):
                return candidate
    raise RuntimeError("no free 10.240-249.x.0/24 subnet on this host for the bench's bridge")


def ensure_bench_bridge(daemon: Daemon, notes) -> str:
    """The bridge `open` deploys of the network section get from their profile, as a host
    set up with `lxd init --auto` gives every instance: here on a subnet the harness picks
    (never the daemons' `auto`), without NAT or routing, so nothing leaves the host."""
    name = bench_bridge(daemon)
    if daemon.lxc("network", "show", name, check=False).returncode == 0:
        return name
    subnet = free_subnet()
    gateway = f"{next(subnet.hosts())}/{subnet.prefixlen}"
    log(f"creating the bench bridge {name} ({gateway}, no NAT, no routing)")
    daemon.lxc("network", "create", name, f"ipv4.address={gateway}", "ipv4.nat=false",
               "ipv4.routing=false", "ipv6.address=none")
    notes.append(f"created network {name} ({gateway}, bridge without NAT or routing)")
    return name


def ensure_nic_project(daemon: Daemon, notes) -> str:
    """The dir pool's project whose `default` profile gives every instance a NIC on the
    bench's bridge: `open` there is a job on the daemon's usual network."""
    bridge = ensure_bench_bridge(daemon, notes)
    project = PROJECT_PREFIX + "nic"
    if daemon.lxc("project", "show", project, check=False).returncode != 0:
        log(f"creating project {project} (default profile: root on dir, eth0 on {bridge})")
        daemon.lxc("project", "create", project,
                   "-c", "features.images=false", "-c", "features.profiles=true")
        notes.append(f"created project {project} (root disk on pool default, eth0 on {bridge})")
    devices = (daemon.query(f"/1.0/profiles/default?project={project}", check=False) or {}).get("devices") or {}
    if "root" not in devices:
        daemon.lxc("profile", "device", "add", "default", "root", "disk", "path=/", "pool=default",
                   project=project)
    if "eth0" not in devices:
        daemon.lxc("profile", "device", "add", "default", "eth0", "nic", f"network={bridge}",
                   "name=eth0", project=project)
    return project
