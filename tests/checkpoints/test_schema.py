"""Schema version 2: name tables, value lists, the upgrade of version 1, field checks."""

from __future__ import annotations

import copy
import json
import logging
import random
from pathlib import Path

import pytest
from checkpoint_helpers import (
    SAMPLE_MACHINE,
    digests,
    sample_data,
    version_1_document,
)

from analyzer_core.checkpoints.schema import upgrade_from_version_1
from analyzer_core.checkpoints.store import (
    CheckpointWriter,
    load_checkpoint,
    read_checkpoint_file,
    save_checkpoint,
)
from analyzer_core.errors import CheckpointError
from analyzer_core.records import (
    CheckpointData,
    GpuInfo,
    MachineInfo,
    Measurement,
    MeasurementStatus,
    Variant,
)

STORE_LOGGER = "analyzer_core.checkpoints.store"
GPU_A = "GPU-aaaaaaaa-0000-1111-2222-333344445555"
GPU_B = "GPU-bbbbbbbb-0000-1111-2222-333344445555"
REMOTE_GPU = "GPU-cccccccc-0000-1111-2222-333344445555"

# A checkpoint as schema version 1 wrote it, typed out rather than generated,
# with GPU metrics for a GPU the machine lacks, keys in another order, a
# request rate, a failed measurement and a null gpu_metrics.
VERSION_1_DOCUMENT = {
    "schema_version": 1,
    "created_at": 1700000000.0,
    "saved_at": 1700000500.25,
    "machine": {
        "cpu_model": "Test CPU 9000",
        "triton_version": "2.51.0",
        "gpus": [{"name": "NVIDIA T4", "uuid": GPU_A, "memory_total_mb": 15360.0}],
    },
    "variants": [
        {
            "name": "model_a_config_0",
            "model": "model_a",
            "config": {"max_batch_size": 4},
            "is_default": False,
        }
    ],
    "measurements": [
        {
            "model": "model_a",
            "variant": "model_a_config_0",
            "batch_size": 1,
            "concurrency": 1,
            "time": 1700000101.0,
            "metrics": {"perf_throughput": 100.0, "perf_latency_p99": 2.5},
            "gpu_metrics": {
                GPU_A: {"gpu_utilization": 40.0, "gpu_used_memory": 812.5},
                REMOTE_GPU: {"gpu_utilization": 7.0},
            },
        },
        {
            "model": "model_a",
            "variant": "model_a_config_0",
            "batch_size": 2,
            "concurrency": None,
            "request_rate": 50.0,
            "time": 1700000102.0,
            "metrics": {
                "cpu_utilization": 20.0,
                "perf_latency_p99": 3.5,
                "perf_throughput": 180.0,
            },
        },
        {
            "model": "model_a",
            "variant": "model_a_config_0",
            "batch_size": 1,
            "concurrency": 4,
            "time": 1700000103.0,
            "metrics": {},
            "gpu_metrics": None,
            "status": "failed",
            "error_log": "logs/perf_analyzer-3.log",
        },
    ],
    "server_only": {"gpu_used_memory": 500.0},
}

VERSION_1_MEASUREMENTS = [
    Measurement(
        model="model_a",
        variant="model_a_config_0",
        batch_size=1,
        concurrency=1,
        metrics={"perf_throughput": 100.0, "perf_latency_p99": 2.5},
        gpu_metrics={
            GPU_A: {"gpu_utilization": 40.0, "gpu_used_memory": 812.5},
            REMOTE_GPU: {"gpu_utilization": 7.0},
        },
        timestamp=1700000101.0,
    ),
    Measurement(
        model="model_a",
        variant="model_a_config_0",
        batch_size=2,
        concurrency=None,
        request_rate=50.0,
        metrics={
            "cpu_utilization": 20.0,
            "perf_latency_p99": 3.5,
            "perf_throughput": 180.0,
        },
        timestamp=1700000102.0,
    ),
    Measurement(
        model="model_a",
        variant="model_a_config_0",
        batch_size=1,
        concurrency=4,
        metrics={},
        timestamp=1700000103.0,
        status=MeasurementStatus.FAILED,
        error_log="logs/perf_analyzer-3.log",
    ),
]


def write_json(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document, allow_nan=True))
    return path


def saved_document(tmp_path: Path, data: CheckpointData) -> dict:
    return json.loads(save_checkpoint(tmp_path, 0, data).read_bytes())


def two_gpu_machine() -> MachineInfo:
    gpus = [GpuInfo("NVIDIA T4", GPU_A, 15360.0), GpuInfo("NVIDIA T4", GPU_B, 15360.0)]
    return MachineInfo("Test CPU 9000", "2.51.0", gpus)


def measurement(concurrency: int, metrics: dict, gpu_metrics: dict) -> Measurement:
    return Measurement(
        model="model_a",
        variant="model_a_config_0",
        batch_size=1,
        concurrency=concurrency,
        metrics=metrics,
        gpu_metrics=gpu_metrics,
        timestamp=1700000100.0 + concurrency,
    )


# -- the schema-2 layout --------------------------------------------------------------------


def test_metric_names_stored_once(tmp_path):
    path = save_checkpoint(tmp_path, 0, sample_data(50))
    content = path.read_bytes()
    assert content.count(b'"perf_throughput"') == 1
    assert content.count(b'"perf_latency_p99"') == 1
    assert content.count(b'"gpu_utilization"') == 1


def test_values_follow_name_tables(tmp_path):
    document = saved_document(tmp_path, sample_data(2))
    assert document["metric_names"] == ["perf_throughput", "perf_latency_p99"]
    assert document["gpu_uuids"] == [SAMPLE_MACHINE.gpus[0].uuid]
    assert document["gpu_metric_names"] == ["gpu_utilization"]
    second = document["measurements"][1]
    assert second["metrics"] == [200.0, 2.5]
    assert second["gpu_metrics"] == [[40.0]]


def test_gpu_index_follows_machine_order(tmp_path):
    data = CheckpointData(two_gpu_machine(), created_at=1.0)
    data.measurements.append(measurement(1, {}, {GPU_B: {"gpu_utilization": 9.0}}))
    document = saved_document(tmp_path, data)
    assert document["gpu_uuids"] == [GPU_A, GPU_B]
    assert document["measurements"][0]["gpu_metrics"] == [None, [9.0]]


def test_gpu_missing_from_machine_appended(tmp_path):
    data = CheckpointData(two_gpu_machine(), created_at=1.0)
    per_gpu = {REMOTE_GPU: {"gpu_power_usage": 70.0}, GPU_A: {"gpu_utilization": 5.0}}
    data.measurements.append(measurement(1, {}, per_gpu))
    document = saved_document(tmp_path, data)
    assert document["gpu_uuids"] == [GPU_A, GPU_B, REMOTE_GPU]
    assert document["measurements"][0]["gpu_metrics"] == [[None, 5.0], None, [70.0]]
    loaded = read_checkpoint_file(tmp_path / "0.ckpt")
    assert loaded.measurements == data.measurements


def test_differing_metric_sets_round_trip(tmp_path):
    data = CheckpointData(two_gpu_machine(), created_at=1.0)
    data.measurements += [
        measurement(1, {"a": 1.0, "b": 2.0}, {GPU_A: {"x": 1.0}}),
        measurement(2, {"b": 3.0, "c": 4.0}, {GPU_B: {"y": 2.0, "x": 3.0}}),
        measurement(3, {"c": 5.0}, {}),
        measurement(4, {}, {GPU_A: {}}),
    ]
    document = saved_document(tmp_path, data)
    assert document["metric_names"] == ["a", "b", "c"]
    assert [m["metrics"] for m in document["measurements"]] == [
        [1.0, 2.0],
        [None, 3.0, 4.0],
        [None, None, 5.0],
        [],
    ]
    loaded = read_checkpoint_file(tmp_path / "0.ckpt")
    assert loaded.measurements == data.measurements


def test_exotic_values_round_trip(tmp_path):
    metrics = {"nan": float("nan"), "inf": float("inf"), "integer": 7, "big": 1e308}
    data = CheckpointData(two_gpu_machine(), created_at=1.0)
    data.measurements.append(measurement(1, metrics, {}))
    save_checkpoint(tmp_path, 0, data)
    loaded = read_checkpoint_file(tmp_path / "0.ckpt").measurements[0].metrics
    assert list(loaded) == ["nan", "inf", "integer", "big"]
    assert loaded["nan"] != loaded["nan"]
    assert loaded["inf"] == float("inf")
    assert loaded["integer"] == 7
    assert loaded["big"] == 1e308


def test_failed_measurement_round_trip(tmp_path):
    data = CheckpointData(two_gpu_machine(), created_at=1.0)
    data.measurements.append(VERSION_1_MEASUREMENTS[2])
    document = saved_document(tmp_path, data)
    stored = document["measurements"][0]
    assert stored["metrics"] == []
    assert stored["status"] == "failed"
    assert "gpu_metrics" not in stored
    assert read_checkpoint_file(tmp_path / "0.ckpt").measurements == data.measurements


def perf_analyzer_like(
    position: int, gpu_count: int, rng: random.Random
) -> Measurement:
    """A measurement with perf_analyzer's 16 metrics and 4 metrics per GPU."""
    metrics = {"perf_throughput": round(rng.uniform(10, 20000), 2)}
    for name in ("avg", "p50", "p90", "p95", "p99", "a", "b", "c", "d", "e", "f"):
        metrics[f"perf_latency_{name}"] = rng.randint(5, 200_000) * 1e-3
    for name in ("cpu_utilization", "cpu_used_ram", "cpu_available_ram", "rss"):
        metrics[name] = rng.uniform(0, 100_000)
    gpu_metrics = {
        f"GPU-{index:08x}-5d1c-4b6e-9f3a-0c2d7e8f9a1b": {
            "gpu_utilization": rng.uniform(0, 100),
            "gpu_power_usage": rng.uniform(20, 400),
            "gpu_used_memory": rng.randint(10**8, 8 * 10**10) * 1e-6,
            "gpu_total_memory": 81_559.2,
        }
        for index in range(gpu_count)
    }
    return Measurement(
        "model_a", f"model_a_config_{position // 20}", 1, position % 20 + 1,
        metrics, gpu_metrics=gpu_metrics, timestamp=1.7e9 + position * 0.5,
    )  # fmt: skip


@pytest.mark.parametrize("gpu_count", [0, 1, 8])
def test_size_under_1000_bytes_per_measurement(tmp_path, gpu_count):
    rng = random.Random(gpu_count)
    data = CheckpointData(MachineInfo("Test CPU 9000", "2.51.0"), created_at=1.0)
    data.measurements = [perf_analyzer_like(i, gpu_count, rng) for i in range(200)]
    path = save_checkpoint(tmp_path, 0, data)
    assert path.stat().st_size / len(data.measurements) < 1000
    assert read_checkpoint_file(path).measurements == data.measurements


# -- reading schema version 1 ----------------------------------------------------------------


def test_version_1_loads_same_records(tmp_path):
    path = write_json(tmp_path / "0.ckpt", VERSION_1_DOCUMENT)
    data = read_checkpoint_file(path)
    assert data.measurements == VERSION_1_MEASUREMENTS
    assert data.machine == MachineInfo(
        "Test CPU 9000", "2.51.0", [GpuInfo("NVIDIA T4", GPU_A, 15360.0)]
    )
    assert data.variants == {
        "model_a_config_0": Variant(
            "model_a_config_0", "model_a", {"max_batch_size": 4}
        )
    }
    assert data.server_only == {"gpu_used_memory": 500.0}
    assert data.created_at == 1700000000.0
    assert data.saved_at == 1700000500.25


def test_version_1_keeps_first_seen_metric_order(tmp_path):
    # A measurement's own key order follows the name table after the upgrade,
    # but the order in which names first appear across measurements is kept.
    path = write_json(tmp_path / "0.ckpt", VERSION_1_DOCUMENT)
    loaded = read_checkpoint_file(path).measurements
    first_seen = list(dict.fromkeys(name for m in loaded for name in m.metrics))
    assert first_seen == ["perf_throughput", "perf_latency_p99", "cpu_utilization"]


def test_version_1_of_sample_equals_version_2(tmp_path):
    data = sample_data(4)
    path = write_json(tmp_path / "0.ckpt", version_1_document(data))
    assert read_checkpoint_file(path).to_json() == data.to_json()


def test_version_1_upgrade_logged(tmp_path, caplog):
    path = write_json(tmp_path / "0.ckpt", VERSION_1_DOCUMENT)
    with caplog.at_level(logging.INFO, logger=STORE_LOGGER):
        read_checkpoint_file(path)
    assert "schema version 1 as version 2" in caplog.text


def test_version_1_file_left_unchanged(tmp_path):
    write_json(tmp_path / "0.ckpt", VERSION_1_DOCUMENT)
    before = digests(tmp_path)
    loaded = load_checkpoint(tmp_path)
    writer = CheckpointWriter(tmp_path, loaded.index)
    writer.save(loaded.data)
    after = digests(tmp_path)
    assert after["0.ckpt"] == before["0.ckpt"]
    resaved = json.loads((tmp_path / "1.ckpt").read_bytes())
    assert resaved["schema_version"] == 2
    assert read_checkpoint_file(tmp_path / "1.ckpt").measurements == (
        VERSION_1_MEASUREMENTS
    )


def test_upgrade_leaves_parsed_document_alone():
    document = copy.deepcopy(VERSION_1_DOCUMENT)
    upgraded = upgrade_from_version_1(document)
    assert document == VERSION_1_DOCUMENT
    assert upgraded["gpu_uuids"] == [GPU_A, REMOTE_GPU]
    assert upgraded["measurements"][0]["gpu_metrics"] == [[40.0, 812.5], [7.0]]


# -- wrongly typed fields ---------------------------------------------------------------------

DELETE = object()


def edited(document: dict, path: tuple, value: object) -> dict:
    document = copy.deepcopy(document)
    parent = document
    for step in path[:-1]:
        parent = parent[step]
    if value is DELETE:
        del parent[path[-1]]
    elif isinstance(parent, list) and path[-1] == len(parent):
        parent.append(value)
    else:
        parent[path[-1]] = value
    return document


# Edits that break either version: (path, value, texts the error must contain).
EDITS_OF_BOTH_VERSIONS = {
    "saved_at text": (("saved_at",), "yesterday", ["saved_at"]),
    "saved_at list": (("saved_at",), [1], ["saved_at"]),
    "saved_at huge": (("saved_at",), 10**400, ["saved_at"]),
    "error_log number": (
        ("measurements", 0, "error_log"), 17, ["measurements[0]", "error_log"]
    ),
    "error_log object": (
        ("measurements", 0, "error_log"), {"path": "x"}, ["error_log"]
    ),
    "memory_total_mb text": (
        ("machine", "gpus", 0, "memory_total_mb"), "16 GB",
        ["machine.gpus[0]", "memory_total_mb"],
    ),
    "memory_total_mb huge": (
        ("machine", "gpus", 0, "memory_total_mb"), 10**400, ["memory_total_mb"]
    ),
    "is_default text": (
        ("variants", 0, "is_default"), "no", ["variants[0]", "is_default"]
    ),
    "instance_group text": (
        ("variants", 0, "config", "instance_group"), "two", ["instance_group"]
    ),
    "instance count huge": (
        ("variants", 0, "config", "instance_group", 0, "count"), 10**400,
        ["instance_group"],
    ),
    "instance gpus number": (
        ("variants", 0, "config", "instance_group", 0, "gpus"), 5, ["gpus"]
    ),
    "max_batch_size infinite": (
        ("variants", 0, "config", "max_batch_size"), float("inf"), ["max_batch_size"]
    ),
    "max_batch_size huge": (
        ("variants", 0, "config", "max_batch_size"), 10**400, ["max_batch_size"]
    ),
    "dynamic_batching number": (
        ("variants", 0, "config", "dynamic_batching"), 5, ["dynamic_batching"]
    ),
    "batch_size huge": (("measurements", 0, "batch_size"), 10**400, ["batch_size"]),
    "concurrency huge": (("measurements", 0, "concurrency"), -(10**400), ["concurrency"]),
    "request_rate huge": (("measurements", 0, "request_rate"), 10**400, ["request_rate"]),
    "status number": (("measurements", 0, "status"), 1, ["status"]),
    "status list": (("measurements", 0, "status"), ["ok"], ["status"]),
    "server_only huge": (("server_only", "gpu_used_memory"), 10**400, ["server_only"]),
}  # fmt: skip

EDITS_OF_VERSION_2 = {
    "metric text": (("measurements", 0, "metrics", 0), "fast", ["perf_throughput"]),
    "metric boolean": (("measurements", 0, "metrics", 1), True, ["perf_latency_p99"]),
    "metric huge": (("measurements", 0, "metrics", 0), 10**400, ["perf_throughput"]),
    "metrics beyond table": (("measurements", 0, "metrics", 2), 1.0, ["metric_names"]),
    "metrics object": (("measurements", 0, "metrics"), {"a": 1.0}, ["metrics"]),
    "metrics missing": (("measurements", 0, "metrics"), DELETE, ["metrics"]),
    "metric name repeated": (("metric_names", 1), "perf_throughput", ["twice"]),
    "metric name number": (("metric_names", 0), 7, ["metric_names"]),
    "metric names missing": (("metric_names",), DELETE, ["metric_names"]),
    "gpu uuids missing": (("gpu_uuids",), DELETE, ["gpu_uuids"]),
    "gpu names object": (("gpu_metric_names",), {}, ["gpu_metric_names"]),
    "gpu entry text": (("measurements", 0, "gpu_metrics", 0), "hot", ["gpu_metrics"]),
    "gpu beyond table": (("measurements", 0, "gpu_metrics", 1), [1.0], ["gpu_uuids"]),
    "gpu value text": (("measurements", 0, "gpu_metrics", 0, 0), "x", ["gpu_utilization"]),
    "gpu value huge": (("measurements", 0, "gpu_metrics", 0, 0), 10**400, ["gpu_utilization"]),
    "gpu values beyond table": (
        ("measurements", 0, "gpu_metrics", 0, 1), 1.0, ["gpu_metric_names"]
    ),
    "gpu metrics object": (("measurements", 0, "gpu_metrics"), {GPU_A: {}}, ["gpu_metrics"]),
}  # fmt: skip

EDITS_OF_VERSION_1 = {
    "metrics list": (("measurements", 0, "metrics"), [1.0], ["metrics"]),
    "metric null": (
        ("measurements", 0, "metrics", "perf_throughput"), None, ["perf_throughput"]
    ),
    "metric text": (
        ("measurements", 0, "metrics", "perf_throughput"), "fast", ["perf_throughput"]
    ),
    "gpu metrics list": (("measurements", 0, "gpu_metrics"), [1.0], ["gpu_metrics"]),
    "gpu entry text": (
        ("measurements", 0, "gpu_metrics", SAMPLE_MACHINE.gpus[0].uuid), "hot",
        ["gpu_metrics"],
    ),
    "gpu value null": (
        ("measurements", 0, "gpu_metrics", SAMPLE_MACHINE.gpus[0].uuid,
         "gpu_utilization"), None, ["gpu_utilization"],
    ),
}  # fmt: skip


def version_2_cases() -> list:
    edits = {**EDITS_OF_BOTH_VERSIONS, **EDITS_OF_VERSION_2}
    return [pytest.param(*edit, id=label) for label, edit in edits.items()]


def version_1_cases() -> list:
    edits = {**EDITS_OF_BOTH_VERSIONS, **EDITS_OF_VERSION_1}
    return [pytest.param(*edit, id=label) for label, edit in edits.items()]


def assert_rejected_naming(path: Path, texts: list[str]) -> None:
    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)
    message = str(raised.value)
    assert str(path) in message
    for text in texts:
        assert text in message


@pytest.mark.parametrize(("field_path", "value", "texts"), version_2_cases())
def test_version_2_wrong_field_rejected(tmp_path, field_path, value, texts):
    document = edited(sample_data().to_json(), field_path, value)
    path = write_json(tmp_path / "0.ckpt", document)
    assert_rejected_naming(path, texts)


@pytest.mark.parametrize(("field_path", "value", "texts"), version_1_cases())
def test_version_1_wrong_field_rejected(tmp_path, field_path, value, texts):
    document = edited(version_1_document(sample_data()), field_path, value)
    path = write_json(tmp_path / "0.ckpt", document)
    assert_rejected_naming(path, texts)


@pytest.mark.parametrize(
    ("field_path", "value"),
    [
        (("saved_at",), None),
        (("measurements", 0, "error_log"), None),
        (("measurements", 0, "error_log"), "logs/run.log"),
        (("machine", "gpus", 0, "memory_total_mb"), None),
        (("machine", "gpus", 0, "memory_total_mb"), 16384),
        (("variants", 0, "is_default"), True),
        (("measurements", 0, "gpu_metrics"), None),
        (("measurements", 0, "metrics", 0), None),
    ],
)
def test_valid_optional_fields_load(tmp_path, field_path, value):
    document = edited(sample_data().to_json(), field_path, value)
    path = write_json(tmp_path / "0.ckpt", document)
    assert len(read_checkpoint_file(path).measurements) == 3
