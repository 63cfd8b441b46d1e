"""Section 4b, peak memory: the RSS of lxpack (JSON and plain views) and of `lxc exec`
while the `flood` buildpack prints 100 MiB."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from ..buildpacks import FLOOD_BYTES, flood_script
from ..constants import DEPLOY_IMAGE_JOB
from ..proc import log, reap, spawn, tail
from ..sides.cli import cli_launch
from ..sides.lxpack import check_clean
from ..stalls import note_lxpack
from ..stats import median, rnd


def max_rss_kb(argv, env, lxpack=False):
    """Runs argv under /usr/bin/time -v, draining stdout; (kB, stdout bytes, error)."""
    time_bin = shutil.which("time") and "/usr/bin/time"
    if not time_bin or not os.path.exists("/usr/bin/time"):
        return None, 0, "/usr/bin/time is missing (apt-get install time)"
    with tempfile.NamedTemporaryFile("r") as report, tempfile.TemporaryFile() as err:
        proc = spawn(["/usr/bin/time", "-v", "-o", report.name, *argv], env=env,
                     stdout=subprocess.PIPE, stderr=err, bufsize=0)
        total = 0
        fd = proc.stdout.fileno()
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                total += len(chunk)
        finally:
            code = reap(proc, timeout=1800)
        text = Path(report.name).read_text()
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
        if lxpack:
            # stdout is only counted here, so a stall shows only by a logged restart.
            note_lxpack("", stderr, code == 0, steps={})
        if code != 0:
            return (int(found.group(1)) if found else None), total, f"exit {code}: {tail(stderr)}"
        return (int(found.group(1)) if found else None), total, None


def measure_rss(daemon, lx, project, runs, notes):
    image = "busybox"
    job_alias = DEPLOY_IMAGE_JOB[image]
    app = f"bench-{image}"
    config = lx.config(project) if lx.available else None
    log(f"peak RSS: buildpack prints {FLOOD_BYTES} bytes, {image} on {project} ({runs} runs)")
    name = daemon.new_name("bench-cli-flood")
    daemon.track(project, name)
    cli_launch(daemon, job_alias, name, project)
    samples = {"cli": [], "lxpack_json": [], "lxpack_plain": []}
    stdout_bytes = {k: [] for k in samples}
    errors = []
    try:
        for i in range(runs):
            sides = ["cli", "lxpack_json", "lxpack_plain"]
            if i % 2:
                sides.reverse()
            for side in sides:
                if side == "cli":
                    argv = daemon.cmd("exec", name, project=project) + ["--", "sh", "-c", flood_script()]
                    env = None
                elif not lx.available:
                    continue
                else:
                    argv = lx.deploy_argv(config, app, "flood", json_view=(side == "lxpack_json"))
                    env = lx.env
                start = time.monotonic()
                kb, total, error = max_rss_kb(argv, env, lxpack=(side != "cli"))
                seconds = time.monotonic() - start
                if side != "cli":
                    check_clean(daemon, project, notes, "peak RSS")
                    # The job log beside the store holds the 100 MB too: drop it.
                    for logfile in (lx.store.parent).rglob("*.log"):
                        logfile.unlink(missing_ok=True)
                samples[side].append(kb if not error else None)
                stdout_bytes[side].append(total)
                if error:
                    errors.append(f"{side}: {error}")
                    log(f"  {side} failed: {error}")
                else:
                    log(f"  run {i + 1}: {side} max RSS {kb * 1024 / 1e6:.1f} MB, "
                        f"{total / 1e6:.1f} MB on stdout, {seconds:.1f} s")
    finally:
        daemon.delete_instance(project, name)

    def mb(values):
        ok = [v for v in values if v is not None]
        return {
            "samples_mb": [None if v is None else rnd(v * 1024 / 1e6, 1) for v in values],
            "median_mb": rnd(median(ok) * 1024 / 1e6, 1) if ok else None,
            "max_mb": rnd(max(ok) * 1024 / 1e6, 1) if ok else None,
        }

    return {
        "image": image, "project": project, "output_bytes": FLOOD_BYTES,
        "cli": mb(samples["cli"]),
        "lxpack_json": mb(samples["lxpack_json"]) if lx.available else None,
        "lxpack_plain": mb(samples["lxpack_plain"]) if lx.available else None,
        "stdout_bytes_median": {k: median(v) for k, v in stdout_bytes.items() if v},
        "errors": errors,
    }
