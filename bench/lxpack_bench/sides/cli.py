"""The raw CLI side: `lxc` (or `incus`) launch, and the launch + exec + delete sequence
that a deploy is compared with."""

from __future__ import annotations

import shlex
import time

from ..daemon import Daemon
from ..proc import CommandFailed, run, tail
from ..stalls import note_cli_launch


def cli_launch(daemon: Daemon, image, name, project):
    start = time.monotonic()
    proc = daemon.lxc("launch", image, name, project=project, check=False)
    note_cli_launch(time.monotonic() - start, proc.returncode == 0)
    if proc.returncode != 0:
        raise CommandFailed(daemon.cmd("launch", image, name, project=project), proc.returncode,
                            proc.stdout, proc.stderr)


def cli_deploy(daemon: Daemon, project: str, image_alias: str):
    """launch, exec true, delete --force: (seconds or None, error, stalled launch)."""
    name = daemon.new_name()
    daemon.track(project, name)
    start = time.monotonic()
    error = None
    stalled = False
    for argv in (
        daemon.cmd("launch", image_alias, name, project=project),
        daemon.cmd("exec", name, project=project) + ["--", "true"],
        daemon.cmd("delete", "--force", name, project=project),
    ):
        step_start = time.monotonic()
        proc = run(argv, check=False, timeout=600)
        if argv[1] == "launch":
            stalled = note_cli_launch(time.monotonic() - step_start, proc.returncode == 0)
        if proc.returncode != 0:
            error = f"`{shlex.join(argv)}` exited {proc.returncode}: {tail(proc.stderr)}"
            break
    seconds = time.monotonic() - start
    if error:
        daemon.delete_instance(project, name)
        return None, error, stalled
    with daemon.lock:
        daemon.instances.discard((project, name))
    return seconds, None, stalled
