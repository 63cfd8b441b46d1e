"""The deploy chart of docs/benchmarks.md: lxpack against the raw CLI as bars, drawn
with matplotlib (Agg backend, SVG output). matplotlib comes from the harness's own
virtual environment (venv.py); it is imported only when a chart is drawn.

`draw_pairs` draws any list of labelled groups of (lxpack seconds, CLI seconds), one
group per row, each with its own target ratio if it has a fourth element;
`deploy_groups` makes the groups of the deploy section (per daemon, image, pool and
cleanup mode), `report.pool.chart_groups` those of the pool chart (warm deploys beside
section 1's cold ones)."""

from __future__ import annotations

from pathlib import Path

from .constants import CLIENT_FOR, TARGETS
from .report.results import per_daemon

LXPACK_COLOUR = "#1f77b4"
CLI_COLOUR = "#a0a0a0"


def deploy_groups(results) -> list:
    """[(label, lxpack median seconds, CLI median seconds)] of the deploy rows of `results`
    (either schema): one group per image, pool and cleanup mode, and daemon if several."""
    runs = per_daemon(results)
    groups = []
    for kind, res in runs:
        for row in res.get("deploy") or []:
            where = f"{row['image']} on {row['pool']}"
            if len(runs) > 1:
                where = f"{kind}: {where}"
            cli = row["cli"]["median"]
            groups.append((f"{where}, cleanup: wait", (row.get("lxpack") or {}).get("median"), cli))
            if row.get("lxpack_background"):
                groups.append((f"{where}, cleanup: background",
                               row["lxpack_background"].get("median"), cli))
    return groups


def draw_deploy(results, path: Path) -> bool:
    """Draws the deploy chart of `results` to `path` (SVG); False when there is nothing to draw."""
    groups = deploy_groups(results)
    if not groups:
        return False
    clients = "/".join(dict.fromkeys(CLIENT_FOR[kind] for kind, _ in per_daemon(results)))
    draw_pairs(groups, path,
               title=f"Deploy of a no-op buildpack: lxpack against {clients} launch + exec + delete",
               cli_label=f"{clients} launch + exec + delete",
               target_ratio=TARGETS["deploy_ratio"])
    return True


def draw_pool(results, path: Path) -> bool:
    """Draws the pool chart of `results` to `path` (SVG): warm deploys, and section 1's
    cold ones, against the CLI; False when there is nothing to draw."""
    from .report.pool import chart_groups

    groups = chart_groups(results)
    if not groups:
        return False
    clients = "/".join(dict.fromkeys(CLIENT_FOR[kind] for kind, _ in per_daemon(results)))
    cold = any(", cold " in label for label, *_ in groups)
    draw_pairs(groups, path,
               title="Deploy of a no-op buildpack from a standby pool (warm)"
                     + (" and without (cold)" if cold else ""),
               cli_label=f"{clients} launch + exec + delete",
               target_label=f"target: {TARGETS['warm_ratio']:g} × the CLI (warm)"
                            + (f", {TARGETS['deploy_ratio']:g} × (cold)" if cold else ""))
    return True


def draw_cache(results, path: Path) -> bool:
    """Draws the cache chart of `results` to `path` (SVG): warm (second deploy, buildimage
    re-run) against cold (first deploy, `--no-cache`); False when there is nothing to draw."""
    from .report.cache import chart_groups

    groups = chart_groups(results)
    if not groups:
        return False
    draw_pairs(groups, path,
               title="Dependency cache and step snapshots: warm against cold",
               lx_label="warm: second deploy, or buildimage re-run (post hook changed)",
               cli_label="cold: first deploy (cache purged), or buildimage --no-cache",
               target_label=f"target: warm ≤ 1/{TARGETS['cache_speedup']:g} of cold")
    return True


def draw_pairs(groups, path: Path, title: str, cli_label: str = "raw CLI", target_ratio=None,
               target_label=None, lx_label: str = "lxpack deploy"):
    """Horizontal bars, a pair per group, top to bottom in the order given: lxpack's
    seconds and the CLI's, each with its value, lxpack's with its ratio to the CLI;
    `target_ratio` (or a group's fourth element, its own) marks target × CLI on each
    lxpack bar; `lx_label` and `cli_label` name the two bars in the legend. None is drawn
    as no bar, "—"."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    with matplotlib.rc_context({"svg.hashsalt": "lxpack-bench", "font.size": 9}):
        fig = Figure(figsize=(9, 1.4 + 0.55 * len(groups)), layout="constrained")
        ax = fig.add_subplot()
        groups = [(g[0], g[1], g[2], g[3] if len(g) > 3 else target_ratio) for g in groups]
        top = max([v for _, lx, cli, _ in groups for v in (lx, cli) if v is not None] or [1.0])
        height = 0.38
        for i, (label, lx, cli, target) in enumerate(groups):
            for offset, value, colour in ((-height / 2, lx, LXPACK_COLOUR), (height / 2, cli, CLI_COLOUR)):
                y = i + offset
                if value is None:
                    ax.text(0, y, " — (no successful run)", va="center", fontsize=8)
                    continue
                ax.barh(y, value, height=height, color=colour)
                text, at = f" {value:.2f} s", value
                if colour == LXPACK_COLOUR and cli:
                    text += f"  ({value / cli:.2f}×)"
                    at = max(value, (target or 0) * cli)  # right of the target mark
                ax.text(at, y, text, va="center", fontsize=8)
            if target and cli:
                x = target * cli
                ax.plot([x, x], [i - height, i], color="black", linewidth=1.5)
            if i:
                ax.axhline(i - 0.5, color="#dddddd", linewidth=0.6)
        ax.set_yticks(range(len(groups)), [label for label, _, _, _ in groups])
        ax.set_ylim(len(groups) - 0.5, -0.5)
        ax.set_xlim(0, top * 1.25)
        ax.set_xlabel("seconds, median (shorter is faster)")
        ax.set_title(title)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        handles = [Patch(color=LXPACK_COLOUR, label=lx_label), Patch(color=CLI_COLOUR, label=cli_label)]
        if target_label or target_ratio:
            handles.append(Line2D([], [], color="black", linewidth=1.5,
                                  label=target_label or f"target: {target_ratio:g} × the CLI"))
        fig.legend(handles=handles, loc="outside lower center", ncols=len(handles), frameon=False)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format=path.suffix.lstrip(".") or "svg", bbox_inches="tight",
                    metadata={"Date": None} if path.suffix == ".svg" else None)
