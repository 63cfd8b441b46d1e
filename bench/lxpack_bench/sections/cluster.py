"""Section 5, concurrency on a cluster: 8 deploys at once on the 3-member test cluster
of scripts/cluster-up, spread over the members, all on m1, or placed by the cluster."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from pathlib import Path

from ..buildpacks import NOOP_BUILDPACK
from ..constants import BUSYBOX_ALIAS, CHECKOUT_OWNER, CLIENT_FOR, CONF_VAR, DIR_VAR, ROOT
from ..proc import json_lines, log, reap, run, spawn, tail
from ..sides.lxpack import b64
from ..stats import ratio, summarize


def cluster_up(kind: str) -> dict:
    """Forms (or reuses) the test cluster of scripts/cluster-up and returns its variables."""
    proc = run([str(ROOT / "scripts" / "cluster-up")], env={**os.environ, "LXPACK_CLUSTERS": kind},
               timeout=300)
    found = {}
    for line in proc.stdout.splitlines():
        m = re.match(r'export (\w+)="?([^"]*)"?$', line.strip())
        if m:
            found[m.group(1)] = m.group(2)
    return found


def measure_cluster(lx, runs, notes, kind="lxd", deploys=8):
    """`deploys` concurrent deploys on the test cluster (scripts/cluster-up, 3 members on
    this one machine): placed by the cluster, which spreads them over its members,
    against all on member m1 (`lxpack.runtime.target: m1`), rounds interleaved."""
    upper = kind.upper()
    cluster = cluster_up(kind)
    urls = cluster[f"LXPACK_TEST_CLUSTER_{upper}_URLS"].split()
    state = Path(os.environ.get("LXPACK_STATE_DIR", "/var/tmp/lxpack-daemons"))
    workdir = lx.workdir / "cluster"
    workdir.mkdir(parents=True, exist_ok=True)
    store = workdir / "lxpack.db"

    def config(target):
        path = workdir / f"config-{target or 'spread'}.yml"
        path.write_text(
            "container:\n  timeout: 600\nami_retention: 5\n"
            "lxpack:\n  runtime:\n"
            f"    url: {urls[0]}\n"
            f"    client_cert: {state / 'client.crt'}\n"
            f"    client_key: {state / 'client.key'}\n"
            f"    server_cert: {cluster[f'LXPACK_TEST_CLUSTER_{upper}_CERT']}\n"
            + (f"    target: {target}\n" if target else "")
            + "  aws:\n    enabled: false\n")
        return path

    configs = {"cluster": config(None), "one_member": config("m1"),
               **{f"m{m}": config(f"m{m}") for m in range(1, len(urls) + 1)}}

    def config_for(mode, i):
        if mode == "spread":
            return configs[f"m{(i - 1) % len(urls) + 1}"]
        return configs[mode]

    def argv(cfg, *args):
        return [str(lx.binary), "--config", str(cfg), "--store", str(store), "--json", *args]

    app = {"name": "bench-cluster", "env": "bench", "role": "bench", "region": "local",
           "modules": [{"name": f"m{i}", "path": f"/srv/m{i}", "build_pack": b64(NOOP_BUILDPACK)}
                       for i in range(1, deploys + 1)]}
    doc = workdir / "app.json"
    doc.write_text(json.dumps([app]))
    run(argv(configs["cluster"], "app", "import", str(doc)), env=lx.env, timeout=120)
    alias = json.loads(run([CLIENT_FOR[kind], "query", "/1.0/images/aliases/" + BUSYBOX_ALIAS],
                           env={**os.environ, DIR_VAR[kind]: str(Path(cluster["LXPACK_TEST_CLUSTER_DIR"]) / kind / "m1"),
                                CONF_VAR[kind]: str(Path(cluster["LXPACK_TEST_CLUSTER_DIR"]) / kind / "conf")},
                           timeout=60).stdout)
    member_cli = {**os.environ, DIR_VAR[kind]: str(Path(cluster["LXPACK_TEST_CLUSTER_DIR"]) / kind / "m1"),
                  CONF_VAR[kind]: str(Path(cluster["LXPACK_TEST_CLUSTER_DIR"]) / kind / "conf")}
    image = json.loads(run([CLIENT_FOR[kind], "query", "/1.0/images/" + alias["target"]],
                           env=member_cli, timeout=60).stdout)
    release = image["properties"]["release"]
    built = run(argv(configs["cluster"], "buildimage", "bench-cluster", "--os", f"busybox/{release}"),
                env=lx.env, timeout=600)
    fingerprint = json.loads(built.stdout.splitlines()[-1])["image"]["fingerprint"]
    log(f"cluster ({kind}): {deploys} deploys at once, spread over the members vs all on m1 vs placed by the cluster ({runs} runs, interleaved)")

    def round_(mode):
        start = time.monotonic()
        procs = []
        for i in range(1, deploys + 1):
            checkout = workdir / "checkouts" / f"m{i}"
            checkout.mkdir(parents=True, exist_ok=True)
            os.chown(checkout, *CHECKOUT_OWNER)
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
            procs.append((spawn(argv(config_for(mode, i), "deploy", "bench-cluster", "--module", f"m{i}",
                                     "--checkout", str(checkout)), env=lx.env, stdout=out, stderr=err),
                          out, err))
        for proc, _, _ in procs:
            reap(proc, timeout=1800)
        seconds = time.monotonic() - start
        failed, members = [], {}
        for proc, out, err in procs:
            out.seek(0)
            err.seek(0)
            stdout = out.read().decode(errors="replace")
            stderr = err.read().decode(errors="replace")
            for event in json_lines(stdout):
                if event.get("event") == "placed":
                    members[event["member"]] = members.get(event["member"], 0) + 1
            if proc.returncode != 0:
                failed.append(f"exit {proc.returncode}: {tail(stderr)}")
            out.close()
            err.close()
        return (None if failed else seconds), failed, members

    modes = ("spread", "one_member", "cluster")
    samples = {mode: [] for mode in modes}
    placement = {mode: {} for mode in modes}
    errors = []
    try:
        round_("spread")  # warm-up: every member gets the image
        for i in range(runs):
            for mode in (modes if i % 2 == 0 else tuple(reversed(modes))):
                seconds, failed, members = round_(mode)
                samples[mode].append(seconds)
                for member, count in members.items():
                    placement[mode][member] = placement[mode].get(member, 0) + count
                if failed:
                    errors.extend(f"{mode}: {f}" for f in failed)
                    log(f"  {mode} failed: {failed}")
                else:
                    log(f"  run {i + 1}: {mode} {seconds:.2f} s on {members}")
    finally:
        run([CLIENT_FOR[kind], "image", "delete", fingerprint], env=member_cli, check=False, timeout=120)
    spread, one = summarize(samples["spread"]), summarize(samples["one_member"])
    return {"daemon": kind, "deploys": deploys, "members": len(urls), "spread": spread,
            "one_member": one, "cluster": summarize(samples["cluster"]),
            "ratio": ratio(spread["median"], one["median"]),
            "placement": placement, "errors": errors}
