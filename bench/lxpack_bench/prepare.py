"""What the bench needs on a daemon, made idempotently and left in place for the next
run: the btrfs pool, one project per pool, the Debian 12 image (its tarball cached
under CACHE_DIR) and the apps' image aliases."""

from __future__ import annotations

import os
import platform
import shutil
import time
from pathlib import Path

from .constants import (BTRFS_POOL, CACHE_DIR, CHECKOUT_OWNER, DEBIAN_ALIAS, DEPLOY_IMAGE_JOB,
                        IMAGE_ALIAS, PROJECT_PREFIX)
from .daemon import Daemon
from .proc import log, run


def prepare(daemon: Daemon, notes) -> dict:
    """Everything above on `daemon`; returns the projects by pool (`dir`, `btrfs`)."""
    ensure_btrfs_pool(daemon, notes)
    projects = {"dir": ensure_project(daemon, "default", notes),
                "btrfs": ensure_project(daemon, BTRFS_POOL, notes)}
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
    if not shutil.which("mkfs.btrfs"):
        log("installing btrfs-progs")
        proc = run(["apt-get", "install", "-y", "-qq", "btrfs-progs"], check=False, timeout=600)
        if proc.returncode != 0:
            run(["apt-get", "update", "-qq"], check=False, timeout=600)
            run(["apt-get", "install", "-y", "-qq", "btrfs-progs"], timeout=600)
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
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    tarball = CACHE_DIR / "debian12-minbase.tar.zst"
    if tarball.exists() and tarball.stat().st_size > 0:
        return tarball
    if not shutil.which("debootstrap"):
        log("installing debootstrap")
        proc = run(["apt-get", "install", "-y", "-qq", "debootstrap"], check=False, timeout=600)
        if proc.returncode != 0:
            run(["apt-get", "update", "-qq"], check=False, timeout=600)
            run(["apt-get", "install", "-y", "-qq", "debootstrap"], timeout=600)
    stage = CACHE_DIR / "debian12-stage"
    shutil.rmtree(stage, ignore_errors=True)
    rootfs = stage / "rootfs"
    rootfs.mkdir(parents=True)
    log("debootstrap --variant=minbase bookworm (about a minute)")
    start = time.monotonic()
    run(["debootstrap", "--variant=minbase", "bookworm", str(rootfs),
         "http://deb.debian.org/debian"], timeout=1800)
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
    arch = platform.machine()
    (stage / "metadata.yaml").write_text(
        f"architecture: {arch}\n"
        f"creation_date: {int(time.time())}\n"
        "properties:\n"
        "  os: debian\n"
        '  release: "12"\n'
        f"  architecture: {arch}\n"
        "  description: lxpack bench Debian 12 minbase\n"
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
