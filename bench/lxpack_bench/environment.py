"""The facts of the run that the report states: the machine, and the versions of
lxpack, the daemon, its client and the tools the daemon runs."""

from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path

from .constants import ROOT
from .daemon import Daemon
from .proc import run
from .stats import rnd


def first_line(argv):
    try:
        proc = run(argv, check=False, timeout=60)
        return (proc.stdout or proc.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return None


def machine_info():
    cpu = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_kb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    os_name = None
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return {
        "hostname": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": rnd(mem_kb / 1024 / 1024, 1) if mem_kb else None,
        "os": os_name,
        "kernel": platform.release(),
        "loadavg_start": list(os.getloadavg()),
    }


def tool_version(argv):
    line = first_line(argv) or ""
    found = re.search(r"(\d+\.\d+(?:\.\d+)?)", line)
    return found.group(1) if found else None


def versions(daemon: Daemon, binary, build):
    info = daemon.info
    env = info.get("environment", {})
    git = first_line(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                check=False).stdout.strip()
    return {
        "lxpack": first_line([str(binary), "--version"]) if binary and binary.exists() else None,
        "lxpack_git": f"{git}{' (uncommitted changes)' if dirty else ''}" if git else None,
        "daemon": f"{env.get('server', daemon.kind)} {env.get('server_version')}",
        "lxpack_binary": str(binary),
        "lxpack_build": build,
        "client": tool_version([daemon.client, "version"]),
        "storage": env.get("storage"),
        "storage_version": env.get("storage_version"),
        "liblxc": (env.get("driver_version") or ""),
        "rustc": first_line(["rustc", "--version"]),
        "python": platform.python_version(),
        "btrfs_progs": tool_version(["btrfs", "--version"]),
        "zstd": tool_version(["zstd", "--version"]),
        "xz": tool_version(["xz", "--version"]),
        "lz4": tool_version(["lz4", "--version"]),
        "gzip": tool_version(["gzip", "--version"]),
    }
