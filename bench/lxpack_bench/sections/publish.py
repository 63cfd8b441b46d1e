"""Section 2, publish time per compression algorithm: `lxpack buildimage` (whole job and
its publish step) against `lxc publish --compression`, and whether lxpack's default is
the fastest algorithm that keeps the image compressed."""

from __future__ import annotations

import os
import re
import secrets
import shutil

from ..constants import ALGO_TOOL, DEBIAN_ALIAS, DEFAULTS_YML, LXPACK_ALGORITHMS
from ..daemon import Daemon
from ..proc import CommandFailed, log, step_seconds, tail, timed
from ..sides.cli import cli_launch
from ..sides.lxpack import Lxpack, check_clean, new_job_id
from ..stalls import note_lxpack
from ..stats import median, rnd, summarize


def image_size(daemon: Daemon, alias):
    fingerprint = daemon.image_alias_target(alias)
    info = daemon.image(fingerprint) if fingerprint else None
    return (info or {}).get("size"), fingerprint


def supported_algorithms(daemon: Daemon, notes):
    extensions = daemon.info.get("api_extensions", [])
    if "image_compression_algorithm" not in extensions:
        notes.append("the daemon lacks image_compression_algorithm: only its default is measured")
        return ["default"]
    algos = []
    for algo in LXPACK_ALGORITHMS:
        tool = ALGO_TOOL[algo]
        if tool and not shutil.which(tool):
            notes.append(f"{algo}: the `{tool}` tool is not installed on the host, skipped")
            continue
        algos.append(algo)
    return algos


def cli_publish(daemon: Daemon, project, algo):
    """launch, stop --force, then the timed `publish --compression`; the image is deleted."""
    name = daemon.new_name()
    daemon.track(project, name)
    alias = f"lxpack-bench-pub-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        cli_launch(daemon, DEBIAN_ALIAS, name, project)
        daemon.lxc("stop", "--force", name, project=project)
        argv = daemon.cmd("publish", name, "--alias", alias, project=project)
        if algo != "default":
            argv += ["--compression", algo]
        with daemon.lock:
            daemon.images.add(alias)
        seconds, proc = timed(argv, timeout=3600)
        if proc.returncode != 0:
            return None, None, f"publish exited {proc.returncode}: {tail(proc.stderr)}"
        size, _ = image_size(daemon, alias)
        return seconds, size, None
    except CommandFailed as error:
        return None, None, str(error)
    finally:
        daemon.delete_instance(project, name)
        daemon.delete_image(alias)


def lxpack_publish(lx: Lxpack, daemon: Daemon, project, algo):
    config = lx.config(project, algo)
    job = new_job_id()
    with daemon.lock:
        daemon.images.add(job)
    try:
        argv = lx.argv(config, "buildimage", "bench-publish", "--job", job)
        seconds, proc = timed(argv, env=lx.env, timeout=3600)
        note_lxpack(proc.stdout, proc.stderr, proc.returncode == 0)
        if proc.returncode != 0:
            return None, None, None, f"lxpack buildimage exited {proc.returncode}: {tail(proc.stderr)}"
        steps = step_seconds(proc.stdout)
        size, _ = image_size(daemon, job)
        return seconds, steps.get("publish"), size, None
    finally:
        daemon.delete_image(job)


def measure_publish(daemon, lx, project, runs, notes):
    algos = supported_algorithms(daemon, notes)
    log(f"publish: {', '.join(algos)} on {project} ({runs} runs each, interleaved)")
    rows = []
    for algo in algos:
        cli_s, cli_sizes, lx_total, lx_pub, lx_sizes, errors = [], [], [], [], [], []
        unsupported = False
        for i in range(runs):
            if unsupported:
                break
            order = ("cli", "lxpack") if i % 2 == 0 else ("lxpack", "cli")
            for side in order:
                if side == "cli":
                    seconds, size, error = cli_publish(daemon, project, algo)
                    if error and "invalid compression algorithm" in error.lower():
                        # The daemon does not know it (LXD 5.0 has no lz4): skip both sides.
                        unsupported = True
                        notes.append(f"publish {algo}: the daemon refuses it ({error}); not measured")
                        log(f"  {algo}: the daemon does not support it, skipped")
                        break
                    cli_s.append(seconds)
                    if size:
                        cli_sizes.append(size)
                    if not error:
                        log(f"  {algo} run {i + 1}: {daemon.client} publish {seconds:.2f} s, {size} bytes")
                elif lx.available and algo != "default":
                    total, pub, size, error = lxpack_publish(lx, daemon, project, algo)
                    check_clean(daemon, project, notes, f"buildimage {algo}")
                    lx_total.append(total)
                    lx_pub.append(pub)
                    if size:
                        lx_sizes.append(size)
                    if not error:
                        log(f"  {algo} run {i + 1}: lxpack buildimage {total:.2f} s "
                            f"(publish step {pub if pub is None else round(pub, 2)} s), {size} bytes")
                else:
                    continue
                if error:
                    errors.append(f"{side}: {error}")
                    log(f"  {side} {algo} failed: {error}")
        if unsupported:
            rows.append({"algorithm": algo, "unsupported": True, "cli_publish": summarize([]),
                         "cli_size_bytes": None, "lxpack_buildimage": None,
                         "lxpack_publish_step": None, "lxpack_size_bytes": None, "errors": []})
            continue
        rows.append({
            "algorithm": algo,
            "cli_publish": summarize(cli_s),
            "cli_size_bytes": median(cli_sizes),
            "lxpack_buildimage": summarize(lx_total) if lx.available else None,
            "lxpack_publish_step": summarize(lx_pub) if lx.available else None,
            "lxpack_size_bytes": median(lx_sizes),
            "errors": errors,
        })
    return rows


def publish_verdict(rows, client):
    """Is lxpack's default the fastest algorithm that keeps the image compressed? (`client`
    names the CLI side's figures.)"""
    text = DEFAULTS_YML.read_text() if DEFAULTS_YML.exists() else ""
    found = re.search(r"^\s*compression:\s*(\w+)", text, re.M)
    default = found.group(1) if found else "zstd"
    by_algo = {r["algorithm"]: r for r in rows}

    def time_of(row):
        pub = row.get("lxpack_publish_step") or {}
        if pub.get("median") is not None:
            return pub["median"], "lxpack publish step"
        return (row.get("cli_publish") or {}).get("median"), f"{client} publish"

    def size_of(row):
        return row.get("lxpack_size_bytes") or row.get("cli_size_bytes")

    none_size = size_of(by_algo["none"]) if "none" in by_algo else None
    candidates = []
    for algo, row in by_algo.items():
        if algo in ("none", "default"):
            continue
        seconds, basis = time_of(row)
        size = size_of(row)
        compressed = size is not None and (none_size is None or size < 0.9 * none_size)
        if seconds is not None and compressed:
            candidates.append((seconds, algo, basis))
    if not candidates:
        return {"default": default, "fastest_compressed": None, "pass": None,
                "basis": None, "times": {}}
    candidates.sort()
    fastest = candidates[0]
    return {
        "default": default,
        "fastest_compressed": fastest[1],
        "basis": fastest[2],
        "times": {algo: rnd(sec) for sec, algo, _ in candidates},
        "pass": default == fastest[1],
    }
