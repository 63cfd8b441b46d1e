"""Section 2 of the report: publish time and size per compression algorithm."""

from __future__ import annotations

from .text import client_word, fmt_s, labelled, table


def render(runs):
    have = [(kind, res) for kind, res in runs if res.get("publish")]
    if not have:
        return []
    client = client_word(runs)
    lines = [
        "## 2. Publish time per compression algorithm",
        "",
        f"Debian 12 minbase image, btrfs pool (project `{have[0][1]['publish_project']}`).",
        "lxpack: `lxpack buildimage bench-publish --job ID` with `lxpack.compression: ALGO`",
        f"(whole job, and its `publish` step alone). CLI: `{client} publish NAME --alias A",
        "--compression ALGO` of the same image, launched and stopped with `--force` first",
        "(only the publish is timed). Sizes are the published image's size.",
        "",
    ]
    lines.append(table(
        ["algorithm", "lxpack buildimage", "lxpack publish step", f"{client} publish", "lxpack size",
         f"{client} size"],
        [(kind, [[r["algorithm"], "not supported by the daemon", "—", "—", "—", "—"] if r.get("unsupported") else
                 [r["algorithm"], fmt_s((r["lxpack_buildimage"] or {}).get("median")),
                  fmt_s((r["lxpack_publish_step"] or {}).get("median")), fmt_s(r["cli_publish"]["median"]),
                  "—" if not r["lxpack_size_bytes"] else f"{r['lxpack_size_bytes'] / 1e6:.1f} MB",
                  "—" if not r["cli_size_bytes"] else f"{r['cli_size_bytes'] / 1e6:.1f} MB"]
                 for r in res["publish"]])
         for kind, res in have],
    ))
    lines.append("")
    for kind, res in have:
        pv = res.get("publish_verdict") or {}
        lines += [labelled(runs, f"lxpack's default (crates/cli/src/config/defaults.yml): `{pv.get('default')}`; "
                                 f"fastest algorithm whose image is smaller than 90 % of `none`: "
                                 f"`{pv.get('fastest_compressed')}` (by {pv.get('basis')}).", kind), ""]
    return lines
