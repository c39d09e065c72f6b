"""Helpers for the checkpoint tests: sample data, damaged files, file digests.

A module, not a ``conftest.py``, because test modules import the top-level
``conftest`` by name and a second one here would shadow it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

from analyzer_core.checkpoints.store import save_checkpoint
from analyzer_core.metrics.machine import describe_machine
from analyzer_core.records import (
    CheckpointData,
    GpuInfo,
    MachineInfo,
    Measurement,
    Variant,
)

SAMPLE_MACHINE = MachineInfo(
    cpu_model="Test CPU 9000",
    triton_version="2.51.0",
    gpus=[GpuInfo("NVIDIA T4", "GPU-0f0e0d0c-0000-1111-2222-333344445555", 15360.0)],
)


def sample_data(
    measurement_count: int = 3, machine: MachineInfo | None = None
) -> CheckpointData:
    """Build checkpoint data with one variant and ``measurement_count`` measurements."""
    data = CheckpointData(machine=machine or SAMPLE_MACHINE, created_at=1_700_000_000.0)
    variant = Variant(
        "model_a_config_0",
        "model_a",
        {"max_batch_size": 4, "instance_group": [{"count": 2, "kind": "KIND_GPU"}]},
    )
    data.variants[variant.name] = variant
    for concurrency in range(1, measurement_count + 1):
        data.measurements.append(
            Measurement(
                model="model_a",
                variant=variant.name,
                batch_size=1,
                concurrency=concurrency,
                metrics={
                    "perf_throughput": 100.0 * concurrency,
                    "perf_latency_p99": 2.5,
                },
                gpu_metrics={SAMPLE_MACHINE.gpus[0].uuid: {"gpu_utilization": 40.0}},
                timestamp=1_700_000_100.0 + concurrency,
            )
        )
    return data


def this_machine_data(measurement_count: int = 3) -> CheckpointData:
    """Sample data recorded on this machine, so a profile run may resume from it."""
    return sample_data(measurement_count, describe_machine(triton_version="2.51.0"))


def save_sample(directory: Path, index: int, measurement_count: int = 3) -> Path:
    return save_checkpoint(directory, index, sample_data(measurement_count))


def sample_bytes(measurement_count: int = 3) -> bytes:
    """Return the bytes of a valid checkpoint file."""
    document = sample_data(measurement_count).to_json()
    return json.dumps(document, separators=(",", ":")).encode()


def version_1_document(data: CheckpointData) -> dict:
    """Return ``data`` as schema version 1 wrote it: metrics keyed by name per measurement."""
    document = data.to_json()
    measurements = []
    for measurement in data.measurements:
        item = {
            "model": measurement.model,
            "variant": measurement.variant,
            "batch_size": measurement.batch_size,
            "concurrency": measurement.concurrency,
            "time": round(measurement.timestamp, 3),
            "metrics": measurement.metrics,
        }
        if measurement.request_rate is not None:
            item["request_rate"] = measurement.request_rate
        if measurement.gpu_metrics:
            item["gpu_metrics"] = measurement.gpu_metrics
        if not measurement.ok:
            item["status"] = measurement.status.value
        if measurement.error_log:
            item["error_log"] = measurement.error_log
        measurements.append(item)
    for table in ("metric_names", "gpu_uuids", "gpu_metric_names"):
        del document[table]
    document["schema_version"] = 1
    document["measurements"] = measurements
    return document


def version_1_bytes(measurement_count: int = 3) -> bytes:
    """Return the bytes of a valid schema-1 checkpoint file."""
    document = version_1_document(sample_data(measurement_count))
    return json.dumps(document, separators=(",", ":")).encode()


def digests(directory: Path) -> dict[str, str]:
    """Map each file name in ``directory`` to the SHA-256 of its content."""
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(directory.iterdir())
        if path.is_file()
    }


def mount(*arguments: str) -> bool:
    """Run ``mount`` (root only); return True when it succeeded."""
    if os.geteuid() != 0:
        return False
    finished = subprocess.run(["mount", *arguments], capture_output=True)
    return finished.returncode == 0


def mount_small_tmpfs(directory: Path) -> bool:
    """Mount a 64 KiB tmpfs on ``directory``, so a test can fill the disk for real."""
    return mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(directory))


def mount_read_only(directory: Path) -> bool:
    """Bind-mount ``directory`` read-only onto itself."""
    if not mount("--bind", str(directory), str(directory)):
        return False
    if mount("-o", "remount,bind,ro", str(directory)):
        return True
    unmount(directory)
    return False


def unmount(directory: Path) -> None:
    """Detach a test mount, lazily so a file still open in it cannot keep it."""
    subprocess.run(["umount", "--lazy", str(directory)], capture_output=True)


def measurement_keys(data: CheckpointData) -> set[tuple]:
    return {measurement.key for measurement in data.measurements}


def _replace_created_at(value: bytes) -> bytes:
    document = sample_data().to_json()
    document["created_at"] = "PLACEHOLDER"
    return json.dumps(document).encode().replace(b'"PLACEHOLDER"', value)


# Damaged contents of a checkpoint file, by kind.
DAMAGED_CONTENTS: dict[str, bytes] = {
    "empty": b"",
    "whitespace": b" \n\t\n",
    "truncated": sample_bytes()[:-40],
    "half": sample_bytes()[: len(sample_bytes()) // 2],
    "not_json": b"checkpoint of model_a, see notes\n",
    "binary": bytes(range(256)),
    "nul_bytes": b"\0" * 512,
    "json_list": b"[1, 2, 3]",
    "json_string": b'"0.ckpt"',
    "json_null": b"null",
    "missing_measurements": json.dumps(
        {k: v for k, v in sample_data().to_json().items() if k != "measurements"}
    ).encode(),
    "measurements_not_list": json.dumps(
        dict(sample_data().to_json(), measurements={"a": 1})
    ).encode(),
    "metric_not_number": sample_bytes().replace(b"100.0", b'"fast"', 1),
    "schema_version_zero": json.dumps(
        dict(sample_data().to_json(), schema_version=0)
    ).encode(),
    "schema_version_text": json.dumps(
        dict(sample_data().to_json(), schema_version="1")
    ).encode(),
    "deep_nesting": b"[" * 100_000 + b"]" * 100_000,
    "float_overflow": _replace_created_at(b"9" * 400),
    "digit_limit": _replace_created_at(b"9" * 5000),
    "latin1": '{"schema_version": 1, "note": "caf\u00e9"}'.encode("latin-1"),
}
