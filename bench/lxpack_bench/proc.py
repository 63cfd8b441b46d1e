"""Child processes: run, time and reap them; every child is known, so that an
interrupted run can let them clean up first."""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
import time


def log(message: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[bench {stamp}] {message}", file=sys.stderr, flush=True)


class CommandFailed(Exception):
    def __init__(self, argv, code, stdout, stderr):
        self.argv, self.code, self.stdout, self.stderr = argv, code, stdout, stderr
        tail = (stderr or stdout or "").strip().splitlines()[-5:]
        super().__init__(f"`{shlex.join(argv)}` exited {code}: " + " | ".join(tail))


# Every child process, so that an interrupted run can let them clean up first: on
# SIGTERM they get SIGTERM (lxpack then cancels its job and removes its container); on
# Ctrl-C the terminal already sent them SIGINT, and a second signal would make lxpack
# exit at once without cleaning up, so nothing more is sent.
CHILDREN: set = set()
CHILDREN_LOCK = threading.Lock()


def spawn(argv, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(argv, **kwargs)
    with CHILDREN_LOCK:
        CHILDREN.add(proc)
    return proc


def reap(proc: subprocess.Popen, timeout=None):
    """Waits for proc; on an interruption, gives it two minutes to clean up."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
        proc.wait()
        return 124
    except BaseException:
        try:
            proc.wait(timeout=120)
        except BaseException:
            proc.kill()
        raise
    finally:
        with CHILDREN_LOCK:
            CHILDREN.discard(proc)


def run(argv, check=True, timeout=None, env=None, input=None, cwd=None):
    """Runs argv, captures text output; raises CommandFailed when check and non-zero."""
    proc = spawn(argv, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd)
    try:
        stdout, stderr = proc.communicate(input, timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            stdout, stderr = proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
        stderr = (stderr or "") + f"\ntimed out after {timeout} s"
        code = 124
    except BaseException:
        reap(proc)
        raise
    finally:
        with CHILDREN_LOCK:
            CHILDREN.discard(proc)
    result = subprocess.CompletedProcess(argv, code, stdout, stderr)
    if check and code != 0:
        raise CommandFailed(argv, code, stdout, stderr)
    return result


def timed(argv, env=None, timeout=None):
    """(seconds, CompletedProcess) for one command, not raising."""
    start = time.monotonic()
    proc = run(argv, check=False, timeout=timeout, env=env)
    return time.monotonic() - start, proc


def tail(text: str, lines: int = 6) -> str:
    return " | ".join((text or "").strip().splitlines()[-lines:])


def json_lines(text: str):
    for line in (text or "").splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except ValueError:
                continue


def step_seconds(stdout: str) -> dict:
    """Step durations from lxpack's --json events (step_finished)."""
    steps = {}
    for event in json_lines(stdout):
        if event.get("event") == "step_finished" and "seconds" in event:
            steps[event["step"]] = steps.get(event["step"], 0.0) + float(event["seconds"])
    return steps
