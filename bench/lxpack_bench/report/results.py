"""results.json: one daemon's figures as they always were (schema 1), or several keyed
by daemon (schema 2: `daemons`); the figures of sections a run did not measure are
carried over from the previous file, for the same daemon."""

from __future__ import annotations

import json
from pathlib import Path

# The keys each section writes, and the section of each.
CARRIED = ("deploy", "publish_project", "publish", "publish_verdict", "concurrency",
           "streaming", "rss", "pool", "cluster", "cache", "network", "store")
SECTION_OF = {"publish_project": "publish", "publish_verdict": "publish"}


def per_daemon(results) -> list:
    """[(daemon, its results)] of either schema."""
    if "daemons" in results:
        return list(results["daemons"].items())
    return [((results.get("config") or {}).get("daemon", "lxd"), results)]


def previous_figures(path: Path) -> dict:
    """{daemon: (its results, date of that run)} of the file a run will replace."""
    if not path.exists():
        return {}
    previous = json.loads(path.read_text())
    return {kind: (res, previous.get("date")) for kind, res in per_daemon(previous)}


def carry_over(res, previous, kind, sections, notes):
    """Sections not measured in this run keep their figures from the last run that did on
    the same daemon, said so in the notes, so that `--only` refreshes a section without
    losing others. The date of that run goes on with them (`carried_from`), however many
    runs carry them: a section the previous run carried keeps the date it had there."""
    prev, date = previous.get(kind, ({}, None))
    res["carried_from"] = {}
    for key in CARRIED:
        if key in prev and SECTION_OF.get(key, key) not in sections:
            res[key] = prev[key]
            if key not in SECTION_OF:
                when = (prev.get("carried_from") or {}).get(key) or noted_date(prev, key) or date
                res["carried_from"][key] = when
                notes.append(f"{key}: not measured in this run; figures of the run of {when}")


def noted_date(prev, key):
    """The date a previous run's note gives for the figures of `key` it carried (the
    files written before `carried_from` existed), or None."""
    lead = f"{key}: not measured in this run; figures of the run of "
    return next((n[len(lead):] for n in prev.get("notes") or [] if n.startswith(lead)), None)


def assemble(common, daemons) -> dict:
    """One results document from the run's common facts and [(daemon, its results)]."""
    if len(daemons) == 1:
        return {**common, **daemons[0][1]}
    return {**common, "schema": 2, "daemons": dict(daemons)}


def write(results, path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2) + "\n")
