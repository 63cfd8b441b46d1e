"""The lxpack benchmark harness, run by bench/run (see its docstring for what it does).

Python 3 standard library, and matplotlib for the chart (bench/requirements.txt, in
the harness's own virtual environment, which venv.py makes).

## Layout
- `main`: the command line, and the run over each daemon in turn.
- `venv`: the virtual environment, made on the first run; the harness runs again in it.
- `constants`: the fixed names (pool, projects, images, aliases), paths and targets.
- `buildpacks`: the buildpack scripts of the bench apps (no-op, stream, flood; the cache
  section's ccache build, dependency cache and buildimage hooks).
- `proc`: child processes (run, time, reap; all known, for a clean interruption).
- `stats`: medians, summaries and ratios of samples.
- `stalls`: how often each side met the daemon's start stall, per daemon.
- `daemon`: the daemon through its client (`lxc` or `incus`), and its cleanup.
- `prepare`: the pool, projects, Debian image and aliases the bench needs on a daemon;
  the compiler image (Debian 12 with gcc and ccache, and the SQLite amalgamation from
  the cargo registry) that the cache section prepares.
- `sides.lxpack`, `sides.cli`: the two sides compared (lxpack with its store and
  configs; the raw CLI's launch + exec + delete).
- `sections.deploy`, `.publish`, `.concurrency`, `.cluster`, `.streaming`, `.rss`,
  `.pool`, `.cache`, `.network`: one measurement section each (`pool`: standby pools,
  warm deploys; `cache`: dependency caches and buildimage's step snapshots; `network`:
  the network policy's cost, cold deploys with each mode and warm ones under egress).
- `environment`: the machine and the versions the report states.
- `report.results`: results.json (one daemon, or keyed by daemon), and the figures
  carried over for the sections a run did not measure.
- `report.doc`: docs/benchmarks.md, from `report.summary` (the results against the
  targets) and a module per section (`report.deploy`, …, `report.pool`,
  `report.cache` and `report.network`, which also give their summary rows, and the
  first two their chart groups), with
  `report.text` for the tables (a daemon column when a run covers several).
- `chart`: the deploy, pool and cache charts (matplotlib, SVG), from labelled groups of
  (lxpack seconds, CLI seconds[, target ratio]) (cache: warm seconds, cold seconds).
"""
