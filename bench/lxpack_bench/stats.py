"""Medians, rounding, summaries and ratios of samples (None is a failed sample)."""

from __future__ import annotations

import statistics


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def rnd(value, digits=3):
    return None if value is None else round(value, digits)


def summarize(samples):
    ok = [s for s in samples if s is not None]
    return {
        "samples": [rnd(s) for s in samples],
        "median": rnd(median(ok)),
        "min": rnd(min(ok)) if ok else None,
        "max": rnd(max(ok)) if ok else None,
        "failures": sum(1 for s in samples if s is None),
    }


def ratio(a, b):
    if a is None or b in (None, 0):
        return None
    return round(a / b, 3)
