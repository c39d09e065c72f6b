"""Read one metric of a measurement, whether perf_analyzer or a GPU reported it."""

from __future__ import annotations

from statistics import mean

from analyzer_core.metrics.catalog import METRICS, MetricSource
from analyzer_core.records import CheckpointData, Measurement


def metric_value(measurement: Measurement, tag: str) -> float | None:
    """Return the value of metric ``tag``, or None when it was not collected.

    A GPU metric absent from ``measurement.metrics`` is averaged over the GPUs
    in ``measurement.gpu_metrics``, as Model Analyzer averages its per-GPU
    records (memory included).
    """
    value = measurement.metrics.get(tag)
    if value is not None:
        return float(value)
    if tag not in METRICS or METRICS[tag].source is not MetricSource.GPU:
        return None
    per_gpu = [
        values[tag] for values in measurement.gpu_metrics.values() if tag in values
    ]
    return float(mean(per_gpu)) if per_gpu else None


def collected_tags(data: CheckpointData, model: str | None = None) -> set[str]:
    """List the metric tags that at least one successful measurement carries."""
    tags: set[str] = set()
    for measurement in data.measurements:
        if not measurement.ok or (model is not None and measurement.model != model):
            continue
        tags.update(measurement.metrics)
        for values in measurement.gpu_metrics.values():
            tags.update(values)
    return tags


def has_gpu_data(data: CheckpointData) -> bool:
    """Tell whether any measurement carries per-GPU metrics."""
    return any(measurement.gpu_metrics for measurement in data.measurements)


def format_metric(tag: str, value: float | None) -> str:
    """Format a value with its unit, for example ``12.3 ms`` or ``1,250 infer/sec``."""
    if value is None:
        return "not collected"
    unit = METRICS[tag].unit if tag in METRICS else ""
    if abs(value) >= 1000:
        text = f"{value:,.0f}"
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 1:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}".strip()


def metric_label(tag: str) -> str:
    """Name the metric in running text, like ``p99 latency`` or ``GPU memory usage``.

    This is the catalog's column header without its unit, in lower case
    except for acronyms.
    """
    if tag not in METRICS:
        return tag
    words = METRICS[tag].header.rsplit(" (", 1)[0].split()
    return " ".join(word if word.isupper() else word.lower() for word in words)


def describe_constraints(constraints: dict[str, dict[str, float]]) -> str:
    """Describe constraints in words, like ``p99 Latency at most 5.0 ms``."""
    parts = []
    for tag, bounds in constraints.items():
        for bound, limit in bounds.items():
            relation = "at least" if bound == "min" else "at most"
            parts.append(f"{metric_label(tag)} {relation} {format_metric(tag, limit)}")
    return "; ".join(parts) if parts else "none"
