"""Section 9, the shared store (issue 24): what a PostgreSQL store costs a deploy against
the embedded SQLite file, and 8 deploys at once from two build hosts sharing one
PostgreSQL store against the 3-member test cluster.

PostgreSQL is the loopback server of scripts/postgres-up (started when it is not
running, left running for the next run); each run makes a database of its own and
drops it at the end. A "host" is a HOME directory of its own (its job logs and
pool-fill lock) with its own config: on one machine, two build hosts differ in nothing
else the store sees."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import tempfile
import time
from pathlib import Path

from ..buildpacks import NOOP_BUILDPACK
from ..constants import (BUSYBOX_ALIAS, CHECKOUT_OWNER, CLIENT_FOR, CONF_VAR, DEPLOY_IMAGE_JOB, DIR_VAR,
                         ROOT)
from ..proc import log, reap, run, spawn, tail, timed
from ..sides.lxpack import b64, check_clean
from ..stats import ratio, rnd, summarize
from .cluster import cluster_up

IMAGE = "busybox"
POOL = "dir"
STORES = ("sqlite", "postgres")


class Postgres:
    """The server of scripts/postgres-up and one database of this run's."""

    def __init__(self):
        proc = run([str(ROOT / "scripts" / "postgres-up")], timeout=300)
        found = dict(re.findall(r'export (\w+)="?([^"\s]*)"?', proc.stdout))
        url = found["LXPACK_TEST_POSTGRES_URL"]
        self.password_file = Path(found["LXPACK_TEST_POSTGRES_PASSWORD_FILE"])
        self.ca = Path(found["LXPACK_TEST_POSTGRES_CA"])
        user, rest = url.removeprefix("postgres://").split("@", 1)
        self.user, self.authority = user, rest.split("/", 1)[0]
        self.database = f"lxpack_bench_{secrets.token_hex(4)}"
        self.psql("postgres", f"CREATE DATABASE {self.database}")

    def psql(self, database, sql):
        host, port = self.authority.rsplit(":", 1)
        env = {**os.environ, "PGPASSWORD": self.password_file.read_text().strip(),
               "PGSSLMODE": "verify-full", "PGSSLROOTCERT": str(self.ca)}
        return subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", host,
                               "-p", port, "-U", self.user, "-d", database, "-c", sql],
                              env=env, capture_output=True, text=True, check=True).stdout.strip()

    def url(self):
        return f"postgres://{self.user}@{self.authority}/{self.database}?sslmode=verify-full"

    def config_lines(self):
        return (f"  store: {self.url()}\n  store_password:\n    file: {self.password_file}\n"
                f"  store_ca: {self.ca}\n")

    def drop(self):
        self.psql("postgres", f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")


def host_env(lx, home: Path) -> dict:
    """The environment of one build host: lxpack's, with a HOME of its own."""
    home.mkdir(parents=True, exist_ok=True)
    return {**lx.env, "HOME": str(home)}


def pg_config(lx, project, pg: Postgres) -> Path:
    """The bench config of `project` with the PostgreSQL store in it."""
    base = lx.config(project).read_text()
    path = lx.workdir / f"config-{project}-postgres.yml"
    path.write_text(base.replace("lxpack:\n", "lxpack:\n" + pg.config_lines(), 1))
    return path


def pg_argv(lx, config: Path, *args):
    """lxpack on the config's store (no --store: the config names the server)."""
    return [str(lx.binary), "--config", str(config), "--json", *args]


def import_into(lx, config: Path, env: dict):
    """The bench apps, into the config's store."""
    doc = lx.workdir / "apps.json"
    run(pg_argv(lx, config, "app", "import", str(doc)), env=env, timeout=120)


def deploy_argv(lx, store, configs, app, module="noop"):
    checkout = str(lx.checkout(module))
    if store == "sqlite":
        return lx.deploy_argv(configs["sqlite"], app, module)
    return pg_argv(lx, configs["postgres"], "deploy", app, "--module", module, "--checkout", checkout)


def measure_single(daemon, lx, project, pg, runs, notes):
    """Cold deploys (and `app list`, the store alone) on SQLite and on PostgreSQL,
    interleaved after one warm-up of each."""
    app = f"bench-{IMAGE}"
    configs = {"sqlite": lx.config(project), "postgres": pg_config(lx, project, pg)}
    env = host_env(lx, lx.workdir / "host-a")
    import_into(lx, configs["postgres"], env)
    log(f"store: cold deploys, {IMAGE} on {POOL}, SQLite vs PostgreSQL ({runs} runs, interleaved, 1 warm-up)")
    deploys = {store: [] for store in STORES}
    lists = {store: [] for store in STORES}
    errors = []
    for i in range(runs + 1):
        for store in (STORES if i % 2 == 0 else tuple(reversed(STORES))):
            argv = deploy_argv(lx, store, configs, app)
            seconds, proc = timed(argv, env=env if store == "postgres" else lx.env, timeout=900)
            check_clean(daemon, project, notes, f"store deploy ({store})", grace=30.0)
            listing = (lx.argv(configs["sqlite"], "app", "list") if store == "sqlite"
                       else pg_argv(lx, configs["postgres"], "app", "list"))
            list_seconds, list_proc = timed(listing, env=env if store == "postgres" else lx.env,
                                            timeout=120)
            if proc.returncode != 0 or list_proc.returncode != 0:
                failed = proc if proc.returncode != 0 else list_proc
                errors.append(f"{store}{' (warm-up)' if i == 0 else ''}: exit {failed.returncode}: "
                              f"{tail(failed.stderr)}")
                seconds = list_seconds = None
            if i == 0:
                continue
            deploys[store].append(seconds)
            lists[store].append(list_seconds)
            if seconds is not None:
                log(f"  run {i}: {store} deploy {seconds:.3f} s, app list {list_seconds:.3f} s")
    deploy = {store: summarize(deploys[store]) for store in STORES}
    listing = {store: summarize(lists[store]) for store in STORES}

    def added(figures):
        a, b = figures["postgres"]["median"], figures["sqlite"]["median"]
        return None if a is None or b is None else rnd(a - b, 4)

    return {"deploy": deploy, "app_list": listing, "deploy_added": added(deploy),
            "app_list_added": added(listing), "errors": errors}


def cluster_config(lx, cluster, kind, store_lines, name) -> Path:
    """A config on the test cluster (placed by the cluster, builds without a NIC: the
    members share this host's network namespace) with `store_lines`."""
    upper = kind.upper()
    state = Path(os.environ.get("LXPACK_STATE_DIR", "/var/tmp/lxpack-daemons"))
    url = cluster[f"LXPACK_TEST_CLUSTER_{upper}_URLS"].split()[0]
    path = lx.workdir / f"config-cluster-{name}.yml"
    path.write_text(
        "container:\n  timeout: 600\nami_retention: 5\n"
        "lxpack:\n" + store_lines
        + "  network:\n    mode: none\n"
        "  runtime:\n"
        f"    url: {url}\n"
        f"    client_cert: {state / 'client.crt'}\n"
        f"    client_key: {state / 'client.key'}\n"
        f"    server_cert: {cluster[f'LXPACK_TEST_CLUSTER_{upper}_CERT']}\n"
        "  aws:\n    enabled: false\n")
    return path


def burst(argvs_envs):
    """Runs every (argv, env) at once: (seconds or None, errors)."""
    start = time.monotonic()
    procs = []
    for argv, env in argvs_envs:
        out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
        procs.append((spawn(argv, env=env, stdout=out, stderr=err), out, err))
    for proc, _, _ in procs:
        reap(proc, timeout=1800)
    seconds = time.monotonic() - start
    errors = []
    for proc, out, err in procs:
        err.seek(0)
        if proc.returncode != 0:
            errors.append(f"exit {proc.returncode}: {tail(err.read().decode(errors='replace'))}")
        out.close()
        err.close()
    return (None if errors else seconds), errors


def measure_two_hosts(lx, kind, pg, runs, deploys=8):
    """`deploys` deploys at once on the test cluster: half from each of two hosts on the
    PostgreSQL store, against all from one host on SQLite; rounds interleaved."""
    cluster = cluster_up(kind)
    sqlite_store = lx.workdir / "cluster-sqlite.db"
    configs = {"sqlite": cluster_config(lx, cluster, kind, f"  store: {sqlite_store}\n", "sqlite"),
               "postgres": cluster_config(lx, cluster, kind, pg.config_lines(), "postgres")}
    homes = {"a": host_env(lx, lx.workdir / "cluster-host-a"), "b": host_env(lx, lx.workdir / "cluster-host-b")}
    app = {"name": "bench-two-hosts", "env": "bench", "role": "bench", "region": "local",
           "modules": [{"name": f"m{i}", "path": f"/srv/m{i}",
                        "build_pack": b64(NOOP_BUILDPACK)}
                       for i in range(1, deploys + 1)],
           "build_infos": {"container_image": DEPLOY_IMAGE_JOB[IMAGE]}}
    doc = lx.workdir / "two-hosts-app.json"
    doc.write_text(json.dumps([app]))
    for store in STORES:
        run(pg_argv(lx, configs[store], "app", "import", str(doc)), env=homes["a"], timeout=120)
    made_alias, alias_error = add_cluster_alias(kind, cluster)
    log(f"store ({kind}): {deploys} deploys at once on the cluster, two hosts on PostgreSQL vs "
        f"one host on SQLite ({runs} runs, interleaved, 1 warm-up)")

    def argvs(store):
        out = []
        for i in range(1, deploys + 1):
            checkout = lx.workdir / "checkouts-two-hosts" / f"m{i}"
            checkout.mkdir(parents=True, exist_ok=True)
            os.chown(checkout, *CHECKOUT_OWNER)
            home = homes["a"] if store == "sqlite" or i % 2 else homes["b"]
            out.append((pg_argv(lx, configs[store], "deploy", "bench-two-hosts", "--module", f"m{i}",
                                "--checkout", str(checkout)), home))
        return out

    samples = {store: [] for store in STORES}
    errors = [alias_error] if alias_error else []
    try:
        for i in range(runs + 1):
            for store in (STORES if i % 2 == 0 else tuple(reversed(STORES))):
                seconds, failed = burst(argvs(store))
                errors += [f"{store}{' (warm-up)' if i == 0 else ''}: {f}" for f in failed]
                if i == 0:
                    continue
                samples[store].append(seconds)
                if seconds is not None:
                    log(f"  run {i}: {store} {seconds:.2f} s")
    finally:
        if made_alias:
            run([CLIENT_FOR[kind], "image", "alias", "delete", DEPLOY_IMAGE_JOB[IMAGE]],
                env=member_env(kind, cluster), check=False, timeout=60)
    recorded = pg.psql(pg.database, "SELECT count(*) FROM jobs WHERE app_name = 'bench-two-hosts'")
    figures = {store: summarize(samples[store]) for store in STORES}
    return {"daemon": kind, "deploys": deploys, **figures,
            "ratio": ratio(figures["postgres"]["median"], figures["sqlite"]["median"]),
            "jobs_recorded": int(recorded or 0), "errors": errors}


def member_env(kind, cluster):
    """The environment of the cluster's client, on member m1."""
    return {**os.environ, DIR_VAR[kind]: str(Path(cluster["LXPACK_TEST_CLUSTER_DIR"]) / kind / "m1"),
            CONF_VAR[kind]: str(Path(cluster["LXPACK_TEST_CLUSTER_DIR"]) / kind / "conf")}


def add_cluster_alias(kind, cluster):
    """The apps' `container_image` alias on the cluster's busybox image: (made by this
    run, error or None)."""
    env, alias, client = member_env(kind, cluster), DEPLOY_IMAGE_JOB[IMAGE], CLIENT_FOR[kind]
    if run([client, "query", f"/1.0/images/aliases/{alias}"], env=env, check=False, timeout=60).returncode == 0:
        return False, None
    found = run([client, "query", f"/1.0/images/aliases/{BUSYBOX_ALIAS}"], env=env, check=False, timeout=60)
    if found.returncode != 0:
        return False, f"the cluster has no image {BUSYBOX_ALIAS}"
    target = json.loads(found.stdout)["target"]
    run([client, "image", "alias", "create", alias, target], env=env, timeout=60)
    return True, None


def measure_store(daemon, lx, projects, runs, notes):
    """The whole section on one daemon; None without lxpack."""
    if not lx.available:
        return None
    pg = Postgres()
    try:
        result = {"image": IMAGE, "pool": POOL, "project": projects[POOL],
                  "postgres": pg.psql("postgres", "SHOW server_version")}
        result.update(measure_single(daemon, lx, projects[POOL], pg, runs, notes))
        try:
            result["two_hosts"] = measure_two_hosts(lx, daemon.kind, pg, max(3, runs // 2))
        except Exception as error:  # the cluster is the optional half of the section
            result["two_hosts"] = {"errors": [f"two hosts on the cluster: {error!r}"]}
        result["errors"] = result["errors"] + result["two_hosts"].get("errors", [])
        return result
    finally:
        pg.drop()
