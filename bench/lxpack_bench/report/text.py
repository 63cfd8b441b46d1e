"""Formatting shared by the report: seconds, ratios, verdicts, Markdown tables, and the
tables of a run over several daemons (a daemon column, rows of the same key together)."""

from __future__ import annotations

from ..constants import CLIENT_FOR


def fmt_s(value):
    return "—" if value is None else f"{value:.2f} s"


def fmt_x(value):
    return "—" if value is None else f"{value:.2f}×"


def verdict(value):
    return "not run" if value is None else ("**pass**" if value else "**FAIL**")


def failed_note(row):
    lx = (row.get("lxpack") or {}).get("failures") or 0
    cli = (row.get("cli") or {}).get("failures") or 0
    parts = [f"{n} lxpack" for n in [lx] if n] + [f"{n} CLI" for n in [cli] if n]
    return f" ({', '.join(parts)} run(s) failed, left out)" if parts else ""


def steady_note(lx_stalled, cli_stalled, steady_ratio, unit):
    if not lx_stalled and not cli_stalled:
        return ""
    text = f"; stalled launches in {lx_stalled or 0} lxpack / {cli_stalled or 0} CLI run(s)"
    return text + (f", without them {fmt_x(steady_ratio)} {unit}" if steady_ratio is not None else "")


def md_table(headers, rows):
    out = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for row in rows:
        out.append("| " + " | ".join(str(c) for c in row) + " |")
    return "\n".join(out)


def table(headers, runs_rows, key_columns=1):
    """A Markdown table of [(daemon, rows)]. One daemon: the table as it is. Several: a
    daemon column after the first `key_columns` columns, and the rows that share those
    columns together, in the order of the daemons."""
    if len(runs_rows) == 1:
        return md_table(headers, runs_rows[0][1])
    order, grouped = [], {}
    for kind, rows in runs_rows:
        for row in rows:
            key = tuple(row[:key_columns])
            if key not in grouped:
                grouped[key] = []
                order.append(key)
            grouped[key].append([*row[:key_columns], kind, *row[key_columns:]])
    return md_table([*headers[:key_columns], "daemon", *headers[key_columns:]],
                    [row for key in order for row in grouped[key]])


def client_word(runs):
    """The CLI's name in the report's prose: `lxc`, `incus`, or `lxc/incus` for both."""
    return "/".join(dict.fromkeys(CLIENT_FOR[kind] for kind, _ in runs))


def labelled(runs, text, kind):
    """`text` about one daemon's figures, named after it when the run covers several."""
    return text if len(runs) == 1 else f"{kind}: {text}"
