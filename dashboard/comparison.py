"""Differences between two checkpoints: variants, measurements, and metrics.

A measurement is the same in both checkpoints when its ``Measurement.key``
(model, variant, batch size, concurrency, request rate) matches. Failed
measurements are left out, because they carry no metric values.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analyzer_core.records import CheckpointData, Measurement
from analyzer_core.results.values import metric_value

THROUGHPUT_TAG = "perf_throughput"
LATENCY_TAG = "perf_latency_p99"
KEY_COLUMNS = ["model", "variant", "batch_size", "concurrency", "request_rate"]


@dataclass
class Comparison:
    variants_added: list[str]
    variants_removed: list[str]
    added: pd.DataFrame
    removed: pd.DataFrame
    changed: pd.DataFrame


def compare_checkpoints(before: CheckpointData, after: CheckpointData) -> Comparison:
    """Compare ``before`` with ``after``, the way a reader goes from old to new."""
    old = _measured(before)
    new = _measured(after)
    return Comparison(
        variants_added=sorted(set(after.variants) - set(before.variants)),
        variants_removed=sorted(set(before.variants) - set(after.variants)),
        added=_frame([new[key] for key in new if key not in old]),
        removed=_frame([old[key] for key in old if key not in new]),
        changed=_changes([(old[key], new[key]) for key in new if key in old]),
    )


def _measured(data: CheckpointData) -> dict[tuple, Measurement]:
    return {m.key: m for m in data.measurements if m.ok}


def _frame(measurements: list[Measurement]) -> pd.DataFrame:
    rows = [
        {
            **_key_row(m),
            "throughput": metric_value(m, THROUGHPUT_TAG),
            "p99_latency_ms": metric_value(m, LATENCY_TAG),
        }
        for m in measurements
    ]
    columns = [*KEY_COLUMNS, "throughput", "p99_latency_ms"]
    return pd.DataFrame(rows, columns=columns)


def _changes(pairs: list[tuple[Measurement, Measurement]]) -> pd.DataFrame:
    """Tabulate both values of throughput and p99 latency, and the change in %."""
    rows = []
    for old, new in pairs:
        row = _key_row(new)
        for tag, name in ((THROUGHPUT_TAG, "throughput"), (LATENCY_TAG, "p99_ms")):
            before = metric_value(old, tag)
            after = metric_value(new, tag)
            row[f"{name}_before"] = before
            row[f"{name}_after"] = after
            row[f"{name}_change_pct"] = _percent_change(before, after)
        rows.append(row)

    columns = [*KEY_COLUMNS]
    for name in ("throughput", "p99_ms"):
        columns += [f"{name}_before", f"{name}_after", f"{name}_change_pct"]
    return pd.DataFrame(rows, columns=columns)


def _key_row(measurement: Measurement) -> dict:
    return dict(zip(KEY_COLUMNS, measurement.key, strict=True))


def _percent_change(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before == 0:
        return None
    return (after - before) / before * 100.0
