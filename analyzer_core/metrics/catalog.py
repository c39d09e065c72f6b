"""The table of every metric a measurement can carry.

Each row maps a metric tag (Model Analyzer's tag where it has one) to the column
header Model Analyzer uses in its CSV tables, the unit, and whether a higher value
is better. Adding a metric is one row here plus, for perf_analyzer metrics, one row
in ``analyzer_core.perf.csv_table``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class MetricSource(Enum):
    PERF_ANALYZER = "perf_analyzer"
    SERVER_CPU = "server_cpu"
    GPU = "gpu"


@dataclass(frozen=True)
class Metric:
    tag: str
    header: str
    unit: str
    higher_is_better: bool
    source: MetricSource


_ROWS = [
    ("perf_throughput", "Throughput (infer/sec)", "infer/sec", True, "perf"),
    ("perf_latency_avg", "Avg Latency (ms)", "ms", False, "perf"),
    ("perf_latency_p50", "p50 Latency (ms)", "ms", False, "perf"),
    ("perf_latency_p90", "p90 Latency (ms)", "ms", False, "perf"),
    ("perf_latency_p95", "p95 Latency (ms)", "ms", False, "perf"),
    ("perf_latency_p99", "p99 Latency (ms)", "ms", False, "perf"),
    ("perf_client_send_recv", "Client Send/Recv (ms)", "ms", False, "perf"),
    ("perf_client_response_wait", "Client Response Wait (ms)", "ms", False, "perf"),
    ("perf_server_queue", "Server Queue (ms)", "ms", False, "perf"),
    ("perf_server_compute_input", "Server Compute Input (ms)", "ms", False, "perf"),
    ("perf_server_compute_infer", "Server Compute Infer (ms)", "ms", False, "perf"),
    ("perf_server_compute_output", "Server Compute Output (ms)", "ms", False, "perf"),
    ("cpu_used_ram", "RAM Usage (MB)", "MB", False, "cpu"),
    ("cpu_available_ram", "RAM Available (MB)", "MB", True, "cpu"),
    ("cpu_utilization", "CPU Utilization (%)", "%", False, "cpu"),
    ("triton_rss", "Triton Resident Memory (MB)", "MB", False, "cpu"),
    ("gpu_used_memory", "GPU Memory Usage (MB)", "MB", False, "gpu"),
    ("gpu_free_memory", "GPU Free Memory (MB)", "MB", True, "gpu"),
    ("gpu_utilization", "GPU Utilization (%)", "%", False, "gpu"),
    ("gpu_power_usage", "GPU Power Usage (W)", "W", False, "gpu"),
]

_SOURCES = {
    "perf": MetricSource.PERF_ANALYZER,
    "cpu": MetricSource.SERVER_CPU,
    "gpu": MetricSource.GPU,
}

METRICS: dict[str, Metric] = {
    tag: Metric(tag, header, unit, higher, _SOURCES[source])
    for tag, header, unit, higher, source in _ROWS
}

LATENCY_BREAKDOWN_TAGS = (
    "perf_client_send_recv",
    "perf_server_queue",
    "perf_server_compute_input",
    "perf_server_compute_infer",
    "perf_server_compute_output",
)

GPU_TAGS = tuple(tag for tag, m in METRICS.items() if m.source is MetricSource.GPU)


def metric(tag: str) -> Metric:
    """Look up a metric by tag, raising KeyError with the known tags listed."""
    try:
        return METRICS[tag]
    except KeyError:
        known = ", ".join(sorted(METRICS))
        raise KeyError(f"unknown metric {tag!r}; known metrics: {known}") from None
