"""The harness's own virtual environment, with bench/requirements.txt (matplotlib, for
the chart): made at VENV_DIR on the first run, remade when the requirements or the
Python that runs the harness change; `ensure` then runs the harness again inside it."""

from __future__ import annotations

import fcntl
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .constants import REQUIREMENTS, VENV_DIR
from .proc import log

# Set on the run inside the venv, so that a venv that does not take can't loop.
INSIDE = "LXPACK_BENCH_IN_VENV"
STAMP = "lxpack-bench-stamp"


def python() -> Path:
    return VENV_DIR / "bin" / "python"


def stamp() -> str:
    """What the venv was made from: the requirements and the Python that made it."""
    return f"{sys.base_prefix} {sys.version}\n{REQUIREMENTS.read_text()}"


def inside() -> bool:
    return sys.prefix != sys.base_prefix and Path(sys.prefix).resolve() == VENV_DIR.resolve()


def ensure(script: Path):
    """Returns when running inside the venv; otherwise makes it if needed and runs
    `script` again in it with the same arguments (this process is replaced)."""
    if inside():
        return
    if os.environ.get(INSIDE):
        raise SystemExit(f"bench/run: {python()} does not run inside {VENV_DIR}: remove that "
                         "directory and run again")
    VENV_DIR.parent.mkdir(parents=True, exist_ok=True)
    with open(VENV_DIR.parent / "venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one run makes it; a second waits, then reuses it
        made = VENV_DIR / STAMP
        if not (made.exists() and made.read_text() == stamp() and python().exists()):
            create()
            made.write_text(stamp())
    os.execve(python(), [str(python()), str(script), *sys.argv[1:]], {**os.environ, INSIDE: "1"})


def create():
    if importlib.util.find_spec("ensurepip") is None:
        raise SystemExit(
            "bench/run: python3 cannot make a virtual environment (its ensurepip module is "
            "missing). On Debian, install python3-venv:\n\n    apt-get install -y python3-venv\n")
    shutil.rmtree(VENV_DIR, ignore_errors=True)
    log(f"making the harness's virtual environment {VENV_DIR} ({REQUIREMENTS.name}; once)")
    proc = subprocess.run([sys.executable, "-m", "venv", str(VENV_DIR)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        shutil.rmtree(VENV_DIR, ignore_errors=True)
        raise SystemExit(f"bench/run: `{sys.executable} -m venv {VENV_DIR}` failed:\n{proc.stdout}\n"
                         "On Debian, install python3-venv: apt-get install -y python3-venv")
    proc = subprocess.run([str(python()), "-m", "pip", "install", "--disable-pip-version-check",
                           "--quiet", "--requirement", str(REQUIREMENTS)],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if proc.returncode != 0:
        shutil.rmtree(VENV_DIR, ignore_errors=True)
        raise SystemExit(f"bench/run: installing {REQUIREMENTS} into {VENV_DIR} failed (it needs "
                         f"PyPI):\n{proc.stdout}")
