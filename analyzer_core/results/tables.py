"""Measurements as pandas tables, and the CSV tables Model Analyzer writes.

``inference_table``, ``gpu_table`` and ``server_only_table`` use Model
Analyzer's column headers and default columns, and list each model's variants
best first with each variant's measurements best first. The frames hold raw
values; ``write_tables`` rounds them to one decimal place as Model Analyzer's
CSV files do.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from analyzer_core.files import write_atomically
from analyzer_core.metrics.catalog import METRICS
from analyzer_core.records import CheckpointData, Measurement, Variant
from analyzer_core.results.ranking import ModelRanking, RankingSettings, rank_model
from analyzer_core.results.values import has_gpu_data, metric_value

logger = logging.getLogger(__name__)

INFERENCE_TAGS = ("perf_throughput", "perf_latency_p99")
GPU_TABLE_TAGS = ("gpu_used_memory", "gpu_utilization", "gpu_power_usage")
SERVER_ONLY_TAGS = GPU_TABLE_TAGS + ("cpu_used_ram", "cpu_utilization", "triton_rss")
SERVER_MODEL_NAME = "triton-server"

INFERENCE_FILE = "metrics-model-inference.csv"
GPU_FILE = "metrics-model-gpu.csv"
SERVER_ONLY_FILE = "metrics-server-only.csv"


def measurements_frame(data: CheckpointData) -> pd.DataFrame:
    """Return one row per measurement, failed ones included, in checkpoint order.

    Columns: model, variant, batch_size, concurrency, request_rate,
    instance_count, instance_kind, max_batch_size, dynamic_batching, status,
    timestamp, then one column per metric tag of the catalog (NaN where the
    metric was not collected) and any other tag a measurement carries.
    """
    tags = list(METRICS)
    for measurement in data.measurements:
        tags += [tag for tag in measurement.metrics if tag not in tags]
    rows = [_measurement_row(data, m, tags) for m in data.measurements]
    columns = [
        "model",
        "variant",
        "batch_size",
        "concurrency",
        "request_rate",
        "instance_count",
        "instance_kind",
        "max_batch_size",
        "dynamic_batching",
        "status",
        "timestamp",
        *tags,
    ]
    return pd.DataFrame(rows, columns=columns)


def _measurement_row(
    data: CheckpointData, measurement: Measurement, tags: list[str]
) -> dict[str, Any]:
    variant = data.variants.get(measurement.variant)
    row: dict[str, Any] = {
        "model": measurement.model,
        "variant": measurement.variant,
        "batch_size": measurement.batch_size,
        "concurrency": measurement.concurrency,
        "request_rate": measurement.request_rate,
        "instance_count": variant.instance_count if variant else None,
        "instance_kind": variant.instance_kind if variant else None,
        "max_batch_size": variant.max_batch_size if variant else None,
        "dynamic_batching": variant.dynamic_batching if variant else None,
        "status": measurement.status.value,
        "timestamp": measurement.timestamp,
    }
    for tag in tags:
        row[tag] = metric_value(measurement, tag)
    return row


def rank_all(
    data: CheckpointData, settings: RankingSettings | None = None
) -> dict[str, ModelRanking]:
    """Rank every model in ``data`` (or those ``settings.models`` names)."""
    settings = settings or RankingSettings()
    models = data.models()
    if settings.models:
        models = [model for model in models if model in settings.models]
    return {model: rank_model(data, model, settings) for model in models}


def _ranked_measurements(
    data: CheckpointData,
    settings: RankingSettings | None,
    rankings: dict[str, ModelRanking] | None,
) -> Iterator[tuple[Measurement, bool]]:
    """Yield each ranked measurement and whether it meets the constraints."""
    if rankings is None:
        rankings = rank_all(data, settings)
    for ranking in rankings.values():
        for entry in ranking.entries:
            for position, measurement in enumerate(entry.measurements):
                yield measurement, position < entry.passing_count


def inference_table(
    data: CheckpointData,
    ranking: RankingSettings | None = None,
    rankings: dict[str, ModelRanking] | None = None,
) -> pd.DataFrame:
    """Return Model Analyzer's inference table: a row per successful measurement.

    Passing ``rankings`` (model to ranking, in row order) skips ranking the
    models again. Without it they are ranked under ``ranking``.
    """
    load_column = _load_column(data)
    groups = _instance_group_texts(data)
    rows = []
    for measurement, satisfies in _ranked_measurements(data, ranking, rankings):
        variant = data.variants.get(measurement.variant)
        row = {
            "Model": measurement.model,
            "Batch": measurement.batch_size,
            load_column: _load_value(measurement, load_column),
            "Model Config Path": measurement.variant,
            "Instance Group": groups.get(measurement.variant),
            "Max Batch Size": variant.max_batch_size if variant else None,
            "Satisfies Constraints": "Yes" if satisfies else "No",
        }
        for tag in INFERENCE_TAGS:
            row[METRICS[tag].header] = metric_value(measurement, tag)
        rows.append(row)
    columns = [
        "Model",
        "Batch",
        load_column,
        "Model Config Path",
        "Instance Group",
        "Max Batch Size",
        "Satisfies Constraints",
        *(METRICS[tag].header for tag in INFERENCE_TAGS),
    ]
    return pd.DataFrame(rows, columns=columns)


def gpu_table(
    data: CheckpointData,
    ranking: RankingSettings | None = None,
    rankings: dict[str, ModelRanking] | None = None,
) -> pd.DataFrame | None:
    """Return Model Analyzer's GPU table (a row per measurement and GPU), or None.

    ``rankings`` works as in ``inference_table``.
    """
    if not has_gpu_data(data):
        return None
    load_column = _load_column(data)
    groups = _instance_group_texts(data)
    rows = []
    for measurement, satisfies in _ranked_measurements(data, ranking, rankings):
        group = groups.get(measurement.variant)
        for uuid, values in measurement.gpu_metrics.items():
            row = {
                "Model": measurement.model,
                "GPU UUID": uuid,
                "Batch": measurement.batch_size,
                load_column: _load_value(measurement, load_column),
                "Model Config Path": measurement.variant,
                "Instance Group": group,
                "Satisfies Constraints": "Yes" if satisfies else "No",
            }
            for tag in GPU_TABLE_TAGS:
                row[METRICS[tag].header] = values.get(tag)
            rows.append(row)
    columns = [
        "Model",
        "GPU UUID",
        "Batch",
        load_column,
        "Model Config Path",
        "Instance Group",
        "Satisfies Constraints",
        *(METRICS[tag].header for tag in GPU_TABLE_TAGS),
    ]
    return pd.DataFrame(rows, columns=columns)


def server_only_table(data: CheckpointData) -> pd.DataFrame:
    """Return the server's own usage with no model loaded, as one row.

    The GPU UUID column lists the machine's GPUs and is left out on a machine
    without GPUs. Only metrics in the checkpoint get a column.
    """
    tags = [tag for tag in SERVER_ONLY_TAGS if tag in data.server_only]
    row: dict[str, Any] = {"Model": SERVER_MODEL_NAME}
    columns = ["Model"]
    if data.machine.gpus:
        # NOTE: CheckpointData.server_only stores one value per metric, so with
        # several GPUs the row shows their combined value under all UUIDs.
        row["GPU UUID"] = ",".join(gpu.uuid for gpu in data.machine.gpus)
        columns.append("GPU UUID")
    for tag in tags:
        row[METRICS[tag].header] = data.server_only[tag]
        columns.append(METRICS[tag].header)
    rows = [row] if data.server_only else []
    return pd.DataFrame(rows, columns=columns)


def instance_group_text(variant: Variant | None, gpu_count: int) -> str | None:
    """Write the instance group as Model Analyzer does, like ``2:GPU`` or ``1:CPU``.

    A KIND_GPU group without a ``gpus`` list places ``count`` instances on
    every GPU, as Triton does, so its count is multiplied by ``gpu_count``.
    """
    if variant is None:
        return None
    counts: dict[str, int] = {}
    for group in variant.config.get("instance_group") or [{}]:
        kind = str(group.get("kind", "KIND_CPU")).removeprefix("KIND_")
        count = int(group.get("count", 1))
        if kind == "GPU":
            count *= len(group.get("gpus") or []) or max(gpu_count, 1)
        counts[kind] = counts.get(kind, 0) + count
    return " + ".join(f"{count}:{kind}" for kind, count in counts.items())


def _instance_group_texts(data: CheckpointData) -> dict[str, str | None]:
    """Write the instance group of every variant once, for tables of many rows."""
    gpu_count = len(data.machine.gpus)
    return {
        name: instance_group_text(variant, gpu_count)
        for name, variant in data.variants.items()
    }


def _load_column(data: CheckpointData) -> str:
    uses_rate = any(m.request_rate is not None for m in data.measurements)
    uses_concurrency = any(m.concurrency is not None for m in data.measurements)
    return "Request Rate" if uses_rate and not uses_concurrency else "Concurrency"


def _load_value(measurement: Measurement, column: str) -> float | int | None:
    if column == "Request Rate":
        return measurement.request_rate
    return measurement.concurrency


def round_like_model_analyzer(frame: pd.DataFrame) -> pd.DataFrame:
    """Round floats to one decimal with Python's ``round``, as Model Analyzer does.

    ``DataFrame.round`` scales by ten before rounding, so it differs on values
    such as 3988.65, whose binary form is slightly above the halfway point.
    """
    rounded = frame.copy()
    for column in rounded.columns:
        values = rounded[column]
        if pd.api.types.is_float_dtype(values.dtype):
            # tolist() yields Python floats, so round() is Python's.
            rounded[column] = [round(value, 1) for value in values.tolist()]
        elif values.dtype == object:
            rounded[column] = [
                round(value, 1) if isinstance(value, float) else value
                for value in values.tolist()
            ]
    return rounded


def table_file_names(index: int | None = None) -> dict[str, str]:
    """Return the CSV file name of each table, with ``-ckpt<N>`` before ``.csv``."""
    names = {
        "inference": INFERENCE_FILE,
        "gpu": GPU_FILE,
        "server_only": SERVER_ONLY_FILE,
    }
    if index is None:
        return names
    return {
        key: name.replace(".csv", f"-ckpt{index}.csv") for key, name in names.items()
    }


def write_tables(
    data: CheckpointData,
    export_path: Path,
    ranking: RankingSettings | None = None,
    index: int | None = None,
    rankings: dict[str, ModelRanking] | None = None,
) -> dict[str, Path]:
    """Write the CSV tables under ``<export_path>/results/`` and return their paths.

    Without ``index`` the files get Model Analyzer's names; with it, the names
    end in ``-ckpt<index>.csv`` so reports of different checkpoints do not
    overwrite each other. The GPU table is written only when there is GPU data.
    ``rankings`` works as in ``inference_table``.
    """
    directory = Path(export_path) / "results"
    directory.mkdir(parents=True, exist_ok=True)
    names = table_file_names(index)
    if rankings is None:
        rankings = rank_all(data, ranking)
    frames = {
        "inference": inference_table(data, rankings=rankings),
        "gpu": gpu_table(data, rankings=rankings),
        "server_only": server_only_table(data),
    }
    paths = {}
    for key, frame in frames.items():
        if frame is None:
            continue
        path = directory / names[key]
        csv_text = round_like_model_analyzer(frame).to_csv(index=False)
        write_atomically(path, csv_text.encode())
        logger.info("Wrote %s", path)
        paths[key] = path
    return paths
