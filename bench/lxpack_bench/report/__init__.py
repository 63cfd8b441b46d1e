"""The report: results.json, and docs/benchmarks.md with a module per section."""
