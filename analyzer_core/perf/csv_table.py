"""Parse perf_analyzer's ``--verbose-csv`` output by column name.

One table maps each CSV column to a metric tag and a scale factor. Columns not
in the table are ignored; a metric whose columns are all missing is left out
with one warning. Latencies arrive in microseconds and are stored in ms.
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

_US_TO_MS = 1e-3
_BYTES_TO_MB = 1e-6

# metric tag -> (CSV columns summed, scale)
PERF_COLUMNS: dict[str, tuple[tuple[str, ...], float]] = {
    "perf_throughput": (("Inferences/Second",), 1.0),
    "perf_latency_avg": (("Avg latency",), _US_TO_MS),
    "perf_latency_p50": (("p50 latency",), _US_TO_MS),
    "perf_latency_p90": (("p90 latency",), _US_TO_MS),
    "perf_latency_p95": (("p95 latency",), _US_TO_MS),
    "perf_latency_p99": (("p99 latency",), _US_TO_MS),
    "perf_client_send_recv": (("Client Send", "Client Recv"), _US_TO_MS),
    "perf_client_response_wait": (("response wait",), _US_TO_MS),
    "perf_server_queue": (("Server Queue",), _US_TO_MS),
    "perf_server_compute_input": (("Server Compute Input",), _US_TO_MS),
    "perf_server_compute_infer": (("Server Compute Infer",), _US_TO_MS),
    "perf_server_compute_output": (("Server Compute Output",), _US_TO_MS),
}

# metric tag -> (CSV column of "uuid:value;" cells, scale)
GPU_COLUMNS: dict[str, tuple[str, float]] = {
    "gpu_utilization": ("Avg GPU Utilization", 100.0),
    "gpu_power_usage": ("Avg GPU Power Usage", 1.0),
    "gpu_used_memory": ("Max GPU Memory Usage", _BYTES_TO_MB),
    "gpu_total_memory": ("Total GPU Memory", _BYTES_TO_MB),
}


@dataclass
class PerfRow:
    """One row of perf_analyzer's CSV: one concurrency or request rate."""

    concurrency: int | None
    request_rate: float | None
    metrics: dict[str, float]
    gpu_metrics: dict[str, dict[str, float]] = field(default_factory=dict)


def parse_perf_csv(text: str) -> list[PerfRow]:
    """Parse the CSV text; a BOM, CRLF line ends and empty cells are fine."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff"), newline=""))
    if not reader.fieldnames:
        return []
    header = [name.strip() for name in reader.fieldnames]
    reader.fieldnames = header
    _warn_missing_columns(header)
    rows = []
    for raw in reader:
        if not any((value or "").strip() for value in raw.values()):
            continue
        rows.append(_parse_row(raw))
    return rows


def _warn_missing_columns(header: list[str]) -> None:
    missing = [
        tag
        for tag, (columns, _) in PERF_COLUMNS.items()
        if not any(column in header for column in columns)
    ]
    if missing:
        logger.warning("perf_analyzer CSV has no column for: %s", ", ".join(missing))


def _parse_row(raw: dict[str, str | None]) -> PerfRow:
    metrics: dict[str, float] = {}
    for tag, (columns, scale) in PERF_COLUMNS.items():
        values = [_number(raw.get(column)) for column in columns]
        present = [value for value in values if value is not None]
        if present:
            metrics[tag] = sum(present) * scale
    return PerfRow(
        concurrency=_integer(raw.get("Concurrency")),
        request_rate=_number(raw.get("Request Rate")),
        metrics=metrics,
        gpu_metrics=_parse_gpu_cells(raw),
    )


def _parse_gpu_cells(raw: dict[str, str | None]) -> dict[str, dict[str, float]]:
    """Split cells like ``GPU-a:0.505;GPU-b:0.3;`` into per-GPU values."""
    per_gpu: dict[str, dict[str, float]] = {}
    for tag, (column, scale) in GPU_COLUMNS.items():
        cell = (raw.get(column) or "").strip()
        for part in cell.split(";"):
            uuid, separator, value = part.strip().rpartition(":")
            number = _number(value) if separator else None
            if uuid and number is not None:
                per_gpu.setdefault(uuid, {})[tag] = number * scale
    return per_gpu


def _number(cell: str | None) -> float | None:
    if cell is None:
        return None
    try:
        return float(cell.strip())
    except ValueError:
        return None


def _integer(cell: str | None) -> int | None:
    number = _number(cell)
    return int(number) if number is not None else None
