"""Read a Triton Model Analyzer checkpoint into CheckpointData, read-only.

Model Analyzer saves its state as one JSON object. The parts read here:

- ``ResultManager.results._results``: model name to variant name to a pair
  ``[run config, measurements]``. The run config contains the model config as
  protobuf JSON (camelCase keys) under ``_model_run_configs[i]
  ._model_config_variant.model_config``. The measurements map a perf_analyzer
  command line to a record with per-GPU data (``_gpu_data``), GPU data
  averaged over GPUs (``_avg_gpu_data``) and, per model config,
  ``_model_specific_pa_params`` and ``_non_gpu_data``.
- ``ResultManager.server_only_data``: GPU UUID to the server's own records.
- ``MetricsManager.gpus``: GPU UUID to ``name`` and ``total_memory`` in bytes.
- ``ModelManager.model_variant_name_manager``: present in every Model Analyzer
  checkpoint but not needed, because each run config names its variant.

A record is a pair ``[tag, {"_value": number, ...}]``. Model Analyzer stores no
measurement time, so measurements get the checkpoint's time (0).
"""

from __future__ import annotations

import logging
from statistics import mean
from typing import Any

from google.protobuf import json_format
from tritonclient.grpc import model_config_pb2

from analyzer_core.errors import CheckpointFormatError
from analyzer_core.records import (
    DEFAULT_VARIANT_SUFFIX,
    CheckpointData,
    GpuInfo,
    MachineInfo,
    Measurement,
    Variant,
    model_from_variant_name,
)

logger = logging.getLogger(__name__)

SOURCE = "model_analyzer"
REQUIRED_KEYS = ("ResultManager.results", "ResultManager.server_only_data")
_BYTES_PER_MB = 1_000_000


def convert_model_analyzer_checkpoint(document: dict[str, Any]) -> CheckpointData:
    """Convert a parsed Model Analyzer checkpoint, raising CheckpointFormatError."""
    for key in REQUIRED_KEYS:
        if key not in document:
            raise CheckpointFormatError(f"Model Analyzer checkpoint without {key!r}")
    results = _mapping(document["ResultManager.results"], "ResultManager.results")
    per_model = _mapping(results.get("_results"), "ResultManager.results._results")

    data = CheckpointData(machine=_machine(document), created_at=0.0)
    data.source = SOURCE
    for model, variants in per_model.items():
        _add_model(data, str(model), _mapping(variants, f"results of model {model!r}"))
    data.server_only = _server_only(document["ResultManager.server_only_data"])
    return data


def _machine(document: dict[str, Any]) -> MachineInfo:
    gpus = _mapping(document.get("MetricsManager.gpus") or {}, "MetricsManager.gpus")
    infos = []
    for uuid, info in gpus.items():
        where = f"MetricsManager.gpus[{uuid!r}]"
        info = _mapping(info, where)
        memory_mb = _memory_mb(info.get("total_memory"), where)
        infos.append(
            GpuInfo(str(info.get("name", "unknown GPU")), str(uuid), memory_mb)
        )
    # Model Analyzer does not record the CPU model or the Triton version.
    return MachineInfo(cpu_model="unknown", triton_version="unknown", gpus=infos)


def _memory_mb(total: Any, where: str) -> float | None:
    """Convert ``total_memory`` in bytes to MB, or return None for a non-number."""
    if isinstance(total, bool) or not isinstance(total, (int, float)):
        return None
    try:
        return total / _BYTES_PER_MB
    except OverflowError:
        raise CheckpointFormatError(
            f"{where} total_memory is too large a number"
        ) from None


def _add_model(data: CheckpointData, model: str, variants: dict[str, Any]) -> None:
    for name, pair in variants.items():
        where = f"results of variant {name!r}"
        if not isinstance(pair, list) or len(pair) != 2:
            raise CheckpointFormatError(
                f"{where} is not a [run config, measurements] pair"
            )
        run_variants = _run_config_variants(pair[0], model, str(name))
        for variant in run_variants:
            data.variants.setdefault(variant.name, variant)
        measurements = _mapping(pair[1], f"measurements of variant {name!r}")
        for key, record in measurements.items():
            data.measurements.extend(_measurements(run_variants, key, record))


def _run_config_variants(run_config: Any, model: str, name: str) -> list[Variant]:
    """Return one Variant per model of a run config; concurrent runs have several."""
    where = f"run config of variant {name!r}"
    configs = _mapping(run_config, where).get("_model_run_configs")
    if not isinstance(configs, list) or not configs:
        raise CheckpointFormatError(f"{where} has no _model_run_configs list")
    variants = []
    for item in configs:
        variant = _mapping(_mapping(item, where).get("_model_config_variant"), where)
        variant_name = variant.get("variant_name") or name
        if not isinstance(variant_name, str):
            raise CheckpointFormatError(f"{where}: variant_name {variant_name!r}")
        derived = model_from_variant_name(variant_name)
        variants.append(
            Variant(
                name=variant_name,
                model=derived if derived != variant_name else model,
                config=_model_config(variant.get("model_config"), variant_name),
                is_default=variant_name.endswith(DEFAULT_VARIANT_SUFFIX),
            )
        )
    return variants


def _model_config(raw: Any, name: str) -> dict[str, Any]:
    """Convert protobuf JSON (camelCase) to the snake_case form of config.pbtxt."""
    raw = _mapping(raw, f"model config of variant {name!r}")
    try:
        message = json_format.ParseDict(
            raw, model_config_pb2.ModelConfig(), ignore_unknown_fields=True
        )
    except (json_format.ParseError, OverflowError) as error:
        # protobuf 4.25 raises OverflowError for an enum field set to infinity.
        raise CheckpointFormatError(
            f"model config of variant {name!r} is not a Triton ModelConfig: {error}"
        ) from error
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def _measurements(variants: list[Variant], key: str, record: Any) -> list[Measurement]:
    where = f"measurement {key!r}"
    record = _mapping(record, where)
    gpu_data = _mapping(record.get("_gpu_data") or {}, f"{where} _gpu_data")
    gpu_metrics = {
        str(uuid): _records(records, f"{where} GPU {uuid}")
        for uuid, records in gpu_data.items()
    }
    averaged = _records(record.get("_avg_gpu_data") or [], f"{where} GPU average")
    if not averaged and gpu_metrics:
        averaged = _average(gpu_metrics)
    parts = record.get("_model_config_measurements")
    if not isinstance(parts, list) or len(parts) != len(variants):
        raise CheckpointFormatError(
            f"{where} needs a _model_config_measurements list with one entry per "
            f"model of its run config ({len(variants)})"
        )
    return [
        _measurement(variant, part, gpu_metrics, averaged, where)
        for variant, part in zip(variants, parts, strict=True)
    ]


def _measurement(
    variant: Variant,
    part: Any,
    gpu_metrics: dict[str, dict[str, float]],
    averaged: dict[str, float],
    where: str,
) -> Measurement:
    part = _mapping(part, where)
    params = _mapping(part.get("_model_specific_pa_params") or {}, f"{where} params")
    metrics = _records(part.get("_non_gpu_data") or [], f"{where} metrics")
    metrics.update(averaged)
    return Measurement(
        model=variant.model,
        variant=variant.name,
        batch_size=_integer(params.get("batch-size", 1), f"{where} batch-size"),
        concurrency=_optional_integer(params.get("concurrency-range"), where),
        request_rate=_optional_number(params.get("request-rate-range"), where),
        metrics=metrics,
        gpu_metrics=gpu_metrics,
        timestamp=0.0,
    )


def _records(records: Any, where: str) -> dict[str, float]:
    if not isinstance(records, list):
        raise CheckpointFormatError(f"{where} is not a list of [tag, record] pairs")
    values = {}
    for item in records:
        if not isinstance(item, list) or len(item) != 2:
            raise CheckpointFormatError(
                f"{where} contains {item!r}, not a [tag, record] pair"
            )
        tag, record = item
        value = record.get("_value") if isinstance(record, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise CheckpointFormatError(
                f"{where}: record {tag!r} has no numeric _value"
            )
        values[str(tag)] = _float(value, f"{where}: _value of record {tag!r}")
    return values


def _average(gpu_metrics: dict[str, dict[str, float]]) -> dict[str, float]:
    tags = {tag for values in gpu_metrics.values() for tag in values}
    return {
        tag: mean(values[tag] for values in gpu_metrics.values() if tag in values)
        for tag in tags
    }


def _server_only(value: Any) -> dict[str, float]:
    per_gpu = {
        str(uuid): _records(records, f"server-only data of GPU {uuid}")
        for uuid, records in _mapping(
            value or {}, "ResultManager.server_only_data"
        ).items()
    }
    # NOTE: CheckpointData.server_only has no per-GPU layout, so several GPUs
    # are averaged, as Model Analyzer averages GPUs in its measurements.
    return _average(per_gpu) if per_gpu else {}


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise CheckpointFormatError(
            f"{where} is a {type(value).__name__}, expected an object"
        )
    return value


def _float(value: int | float, where: str) -> float:
    """Convert a number to float, rejecting integers too large for one."""
    try:
        return float(value)
    except OverflowError:
        raise CheckpointFormatError(f"{where} is too large a number") from None


def _integer(value: Any, where: str) -> int:
    """Return an integer given as a JSON number or a string of ASCII digits.

    Tables convert the result to float, so it must fit one.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = _digits(value, where)
    if isinstance(value, bool) or not isinstance(value, int):
        raise CheckpointFormatError(f"{where} {value!r:.40} is not an integer")
    _float(value, where)
    return value


def _digits(text: str, where: str) -> int:
    try:
        return int(text)
    except ValueError:
        # More digits than Python converts by default (sys.get_int_max_str_digits).
        raise CheckpointFormatError(f"{where} has too many digits") from None


def _optional_integer(value: Any, where: str) -> int | None:
    return None if value is None else _integer(value, f"{where} concurrency-range")


def _optional_number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise CheckpointFormatError(
            f"{where} request-rate-range {value!r} is not a number"
        )
    return _float(value, f"{where} request-rate-range")
