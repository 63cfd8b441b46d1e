"""Sections 4a and 4b of the report: first-byte latency and peak memory of streaming."""

from __future__ import annotations

from ..constants import CLIENT_FOR
from .text import client_word, table


def cell(d, key):
    return "—" if not d else f"{d[key]:.1f} ms"


def latency_row(label, d):
    return [label, cell(d, "median_ms"), cell(d, "p95_ms"), cell(d, "max_ms"), (d or {}).get("lines", "—")]


def render_latency(runs):
    have = [(kind, res["streaming"]) for kind, res in runs if res.get("streaming")]
    if not have:
        return []
    lines = [
        "## 4a. Streaming: first-byte latency",
        "",
        f"The `stream` buildpack prints {have[0][1]['lines_per_run']} lines, 0.1 s apart, each with",
        "the guest's clock at print time (`date +%s.%N`, or busybox `adjtimex` on busybox:",
        "microseconds; container and host share the kernel clock). The harness reads",
        "`lxpack --json deploy` on a pipe and, when the JSON `output` event that completes a",
        "line arrives, takes its own clock minus the line's. The baseline is the same script",
        f"under `{client_word(runs)} exec` in a running container. The latency includes the guest's own",
        "formatting of the timestamp (about a millisecond).",
        "",
    ]
    lines.append(table(
        ["", "median", "p95", "max", "lines"],
        [(kind, [
            latency_row("lxpack, all lines", stream["lxpack_all_lines"]),
            latency_row("lxpack, first line of each run", stream["lxpack_first_line"]),
            latency_row(f"{CLIENT_FOR[kind]} exec, all lines", stream["cli_all_lines"]),
            latency_row(f"{CLIENT_FOR[kind]} exec, first line of each run", stream["cli_first_line"]),
        ]) for kind, stream in have],
    ))
    lines.append("")
    return lines


def render_memory(runs):
    have = [(kind, res["rss"]) for kind, res in runs if res.get("rss")]
    if not have:
        return []
    lines = [
        "## 4b. Streaming: peak memory at 100 MiB of output",
        "",
        f"The `flood` buildpack prints {have[0][1]['output_bytes']} bytes (100-byte lines). Peak RSS is",
        "`/usr/bin/time -v`'s Maximum resident set size of the lxpack (or lxc) process; the",
        "harness drains its stdout as fast as it comes. MB = 10^6 bytes.",
        "",
    ]

    def rows(kind, rss):
        sb = rss.get("stdout_bytes_median", {})
        return [[label, "—" if not d or d["median_mb"] is None else f"{d['median_mb']} MB",
                 "—" if not d or d["max_mb"] is None else f"{d['max_mb']} MB",
                 f"{sb.get(key, 0) / 1e6:.1f} MB" if sb.get(key) else "—"]
                for label, key, d in (("lxpack --json deploy", "lxpack_json", rss.get("lxpack_json")),
                                      ("lxpack deploy (plain view)", "lxpack_plain", rss.get("lxpack_plain")),
                                      (f"{CLIENT_FOR[kind]} exec", "cli", rss.get("cli")))]

    lines.append(table(["process", "median peak RSS", "max", "stdout bytes"],
                       [(kind, rows(kind, rss)) for kind, rss in have]))
    lines.append("")
    return lines
