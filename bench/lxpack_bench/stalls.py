"""How often each side met the daemon's start stall (docs/architecture.md, "The
accept-loop stall": a silent client connection blocks the daemon, and a start hangs
30 s in its pre-start hook, then fails or goes on). Counted the same way on both
sides: a launch (lxpack's `launch` step, or `lxc launch`) that took more than
STALL_SECONDS. lxpack also logs "start failed in forkstart" when it starts again.

The counts are per daemon: `reset` before each daemon's run, `snapshot` after it."""

from __future__ import annotations

import threading

from .constants import STALL_SECONDS
from .proc import step_seconds

STATS = {"lxpack_jobs": 0, "lxpack_failed_jobs": 0, "lxpack_launches_over_20s": 0,
         "lxpack_start_retries_logged": 0,
         "cli_launches": 0, "cli_failed_launches": 0, "cli_launches_over_20s": 0}
STATS_LOCK = threading.Lock()


def lxpack_stalled(steps: dict, stderr: str) -> bool:
    """Did this lxpack job meet the start stall? (Its launch step, or a logged restart.)"""
    return steps.get("launch", 0.0) > STALL_SECONDS or "start failed in forkstart" in (stderr or "")


def note_lxpack(stdout: str, stderr: str, ok: bool, steps=None) -> bool:
    stalled = lxpack_stalled(steps if steps is not None else step_seconds(stdout), stderr)
    with STATS_LOCK:
        STATS["lxpack_jobs"] += 1
        STATS["lxpack_failed_jobs"] += 0 if ok else 1
        STATS["lxpack_launches_over_20s"] += 1 if stalled else 0
        STATS["lxpack_start_retries_logged"] += (stderr or "").count("start failed in forkstart")
    return stalled


def note_cli_launch(seconds: float, ok: bool) -> bool:
    stalled = seconds > STALL_SECONDS or not ok
    with STATS_LOCK:
        STATS["cli_launches"] += 1
        STATS["cli_failed_launches"] += 0 if ok else 1
        STATS["cli_launches_over_20s"] += 1 if seconds > STALL_SECONDS else 0
    return stalled


def reset():
    with STATS_LOCK:
        for key in STATS:
            STATS[key] = 0


def snapshot() -> dict:
    with STATS_LOCK:
        return dict(STATS)
