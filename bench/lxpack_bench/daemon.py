"""The daemon (LXD or Incus) through its client, `lxc` or `incus`, and everything a run
creates on it."""

from __future__ import annotations

import json
import os
import threading
import time

from .proc import log, run, tail


class Daemon:
    """The `lxc` (or `incus`) client, and everything the run creates on the daemon."""

    def __init__(self, kind: str):
        self.kind = kind
        self.client = "lxc" if kind == "lxd" else "incus"
        self.socket = (
            os.environ.get("LXD_SOCKET")
            or os.path.join(os.environ.get("LXD_DIR", "/var/lib/lxd"), "unix.socket")
            if kind == "lxd"
            else os.environ.get("INCUS_SOCKET")
            or os.path.join(os.environ.get("INCUS_DIR", "/var/lib/incus"), "unix.socket")
        )
        self.instances: set[tuple[str, str]] = set()  # (project, name) created by the CLI side
        self.images: set[str] = set()  # fingerprints or aliases published during the run
        self.lock = threading.Lock()
        self.counter = 0
        self.info = {}

    def cmd(self, *args, project=None):
        argv = [self.client, *args]
        if project:
            argv += ["--project", project]
        return argv

    def lxc(self, *args, project=None, check=True, timeout=600):
        return run(self.cmd(*args, project=project), check=check, timeout=timeout)

    def query(self, path, check=True):
        proc = run([self.client, "query", path], check=check, timeout=60)
        if proc.returncode != 0:
            return None
        return json.loads(proc.stdout) if proc.stdout.strip() else None

    def wait_ready(self, limit=600):
        start = time.monotonic()
        while True:
            proc = run([self.client, "list", "--format", "csv"], check=False, timeout=30)
            if proc.returncode == 0:
                return
            if time.monotonic() - start > limit:
                raise SystemExit(
                    f"{self.client} does not answer after {limit} s: run scripts/daemons-up "
                    f"({tail(proc.stderr)})"
                )
            log(f"waiting for {self.client} to answer (scripts/daemons-up may be running)")
            time.sleep(5)

    def new_name(self, prefix="bench-cli"):
        with self.lock:
            self.counter += 1
            return f"{prefix}-{os.getpid()}-{self.counter}"

    def track(self, project, name):
        with self.lock:
            self.instances.add((project, name))

    def delete_instance(self, project, name):
        proc = self.lxc("delete", "--force", name, project=project, check=False)
        if proc.returncode != 0 and "not found" not in proc.stderr.lower():
            # One more try: a stop can time out on a loaded two-core host.
            time.sleep(1)
            self.lxc("delete", "--force", name, project=project, check=False)
        with self.lock:
            self.instances.discard((project, name))

    def project_instances(self, project):
        proc = self.lxc("list", "--format", "csv", "-c", "n", project=project, check=False)
        return [n.strip() for n in proc.stdout.splitlines() if n.strip()] if proc.returncode == 0 else []

    def project_profiles(self, project):
        data = self.query(f"/1.0/profiles?project={project}", check=False) or []
        return [p.split("?", 1)[0].rsplit("/", 1)[-1] for p in data]

    def image_alias_target(self, alias):
        data = self.query(f"/1.0/images/aliases/{alias}", check=False)
        return data.get("target") if data else None

    def image(self, fingerprint):
        return self.query(f"/1.0/images/{fingerprint}", check=False)

    def delete_image(self, alias_or_fp):
        self.lxc("image", "delete", alias_or_fp, check=False)
        with self.lock:
            self.images.discard(alias_or_fp)

    def cleanup(self, projects):
        """Deletes every instance this run created (and any lxpack left behind in the
        bench projects, which nothing else uses), lxpack's leftover profiles there, and
        the images published during the run."""
        leftovers = []
        for project, name in list(self.instances):
            self.delete_instance(project, name)
        for project in projects:
            for name in self.project_instances(project):
                leftovers.append(f"{project}/{name}")
                self.delete_instance(project, name)
            for profile in self.project_profiles(project):
                if profile != "default":
                    leftovers.append(f"{project}/profile {profile}")
                    self.lxc("profile", "delete", profile, project=project, check=False)
        for image in list(self.images):
            self.delete_image(image)
        # A buildimage cut short may still publish after its process is gone.
        for image in self.query("/1.0/images?recursion=1", check=False) or []:
            if (image.get("properties") or {}).get("lxpack.app") in ("bench-publish", "bench-cc-image"):
                leftovers.append(f"image {image['fingerprint'][:12]}")
                self.delete_image(image["fingerprint"])
        return leftovers
