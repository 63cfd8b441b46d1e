"""Section 4a, streaming: first-byte latency of each line the `stream` buildpack prints,
through `lxpack --json deploy` and through `lxc exec`."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time

from ..buildpacks import STREAM_LINES, STREAM_MARK, stream_script
from ..constants import DEPLOY_IMAGE_JOB
from ..proc import log, reap, spawn, tail
from ..sides.cli import cli_launch
from ..sides.lxpack import check_clean
from ..stalls import note_lxpack
from ..stats import median, rnd


class LineLatency:
    """Reads a child's stdout as it arrives; each complete line that carries the guest's
    timestamp gives one latency (harness clock at read minus guest clock at print)."""

    def __init__(self, json_events: bool):
        self.json_events = json_events
        self.raw = b""
        self.pending = {"stdout": "", "stderr": ""}
        self.latencies = []  # (index, seconds)
        self.steps = {}  # lxpack's step_finished seconds
        self.output_bytes = 0

    def feed(self, chunk: bytes, now: float):
        self.raw += chunk
        while b"\n" in self.raw:
            line, self.raw = self.raw.split(b"\n", 1)
            text = line.decode(errors="replace")
            if self.json_events:
                try:
                    event = json.loads(text)
                except ValueError:
                    continue
                if event.get("event") == "step_finished" and "seconds" in event:
                    self.steps[event["step"]] = self.steps.get(event["step"], 0.0) + float(event["seconds"])
                if event.get("event") != "output":
                    continue
                stream = event.get("stream", "stdout")
                self.output_bytes += len(event.get("text", ""))
                self.pending[stream] = self.pending.get(stream, "") + event.get("text", "")
                while "\n" in self.pending[stream]:
                    out_line, self.pending[stream] = self.pending[stream].split("\n", 1)
                    self.line(out_line, now)
            else:
                self.output_bytes += len(line) + 1
                self.line(text, now)

    def line(self, text, now):
        if STREAM_MARK not in text:
            return
        parts = text[text.index(STREAM_MARK):].split()
        try:
            index, stamp = int(parts[1]), float(parts[2])
        except (IndexError, ValueError):
            return
        self.latencies.append((index, now - stamp))


def read_latencies(argv, env, json_events, lxpack=False):
    reader = LineLatency(json_events)
    err = tempfile.TemporaryFile()
    proc = spawn(argv, env=env, stdout=subprocess.PIPE, stderr=err, bufsize=0)
    fd = proc.stdout.fileno()
    try:
        while True:
            chunk = os.read(fd, 1 << 16)
            now = time.time()
            if not chunk:
                break
            reader.feed(chunk, now)
    finally:
        code = reap(proc, timeout=600)
    err.seek(0)
    stderr = err.read().decode(errors="replace")
    if lxpack:
        note_lxpack("", stderr, code == 0, steps=reader.steps)
    error = None if code == 0 else f"exit {code}: {tail(stderr)}"
    err.close()
    return reader.latencies, error


def measure_streaming(daemon, lx, project, runs, notes):
    image = "busybox"
    job_alias = DEPLOY_IMAGE_JOB[image]
    app = f"bench-{image}"
    config = lx.config(project) if lx.available else None
    log(f"streaming: {STREAM_LINES} timestamped lines per run, {image} on {project} ({runs} runs)")
    name = daemon.new_name("bench-cli-stream")
    daemon.track(project, name)
    cli_launch(daemon, job_alias, name, project)
    script = stream_script()
    cli_lat, lx_lat, cli_first, lx_first, errors, per_run = [], [], [], [], [], []
    try:
        for i in range(runs):
            order = ("cli", "lxpack") if i % 2 == 0 else ("lxpack", "cli")
            for side in order:
                if side == "cli":
                    argv = daemon.cmd("exec", name, project=project) + ["--", "sh", "-c", script]
                    lat, error = read_latencies(argv, None, json_events=False)
                    target, first = cli_lat, cli_first
                else:
                    if not lx.available:
                        continue
                    argv = lx.deploy_argv(config, app, "stream")
                    lat, error = read_latencies(argv, lx.env, json_events=True, lxpack=True)
                    check_clean(daemon, project, notes, "streaming")
                    target, first = lx_lat, lx_first
                if error or len(lat) != STREAM_LINES:
                    errors.append(f"{side}: {error or f'{len(lat)} of {STREAM_LINES} lines'}")
                    log(f"  {side} streaming problem: {errors[-1]}")
                per_run.append({"side": side, "run": i + 1,
                                "latencies_ms": [round(1000 * s, 2) for _, s in sorted(lat)]})
                target.extend(s for _, s in lat)
                first.extend(s for idx, s in lat if idx == 0)
                if lat:
                    log(f"  run {i + 1}: {side} median {1000 * median([s for _, s in lat]):.1f} ms "
                        f"max {1000 * max(s for _, s in lat):.1f} ms")
    finally:
        daemon.delete_instance(project, name)

    def ms(values):
        if not values:
            return None
        ordered = sorted(values)
        p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
        return {
            "median_ms": rnd(1000 * median(values), 2),
            "p95_ms": rnd(1000 * p95, 2),
            "max_ms": rnd(1000 * max(values), 2),
            "min_ms": rnd(1000 * min(values), 2),
            "lines": len(values),
        }

    return {
        "image": image, "project": project, "lines_per_run": STREAM_LINES,
        "cli_all_lines": ms(cli_lat), "cli_first_line": ms(cli_first),
        "lxpack_all_lines": ms(lx_lat), "lxpack_first_line": ms(lx_first),
        "per_run": per_run,
        "errors": errors,
    }
