"""Reading Model Analyzer checkpoints: the real fixture and damaged documents."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pandas as pd
import pytest

from analyzer_core.checkpoints.model_analyzer import convert_model_analyzer_checkpoint
from analyzer_core.checkpoints.store import load_checkpoint, read_checkpoint_file
from analyzer_core.errors import CheckpointError, CheckpointFormatError
from analyzer_core.records import model_from_variant_name
from analyzer_core.results.tables import write_tables

FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "fixtures"
    / "model-analyzer-single-model-ckpt"
)
CHECKPOINT = FIXTURE / "0.ckpt"
GOLDEN_TABLES = {
    "inference": "golden-metrics-model-inference.csv",
    "gpu": "golden-metrics-model-gpu.csv",
    "server_only": "golden-metrics-server-only.csv",
}

pytestmark = pytest.mark.skipif(
    not CHECKPOINT.is_file(), reason=f"Model Analyzer fixture missing: {CHECKPOINT}"
)


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(CHECKPOINT.read_text())


@pytest.mark.parametrize("kind", sorted(GOLDEN_TABLES))
def test_tables_match_golden_csv(kind: str, tmp_path: Path) -> None:
    data = read_checkpoint_file(CHECKPOINT)
    paths = write_tables(data, tmp_path)

    written = pd.read_csv(paths[kind])
    golden = pd.read_csv(FIXTURE / GOLDEN_TABLES[kind])

    assert list(written.columns) == list(golden.columns)
    assert len(written) == len(golden)
    pd.testing.assert_frame_equal(written, golden, check_dtype=False, check_exact=True)


def test_tables_keep_model_analyzer_file_names(tmp_path: Path) -> None:
    paths = write_tables(read_checkpoint_file(CHECKPOINT), tmp_path)

    assert paths["inference"] == tmp_path / "results" / "metrics-model-inference.csv"
    assert paths["gpu"] == tmp_path / "results" / "metrics-model-gpu.csv"
    assert paths["server_only"] == tmp_path / "results" / "metrics-server-only.csv"


def test_fixture_converts_variants_and_machine() -> None:
    data = read_checkpoint_file(CHECKPOINT)

    assert data.source == "model_analyzer"
    assert data.models() == ["add_sub"]
    assert len(data.variants) == 5
    assert len(data.measurements) == 16
    assert data.variants["add_sub_config_default"].is_default
    assert data.variants["add_sub_config_default"].max_batch_size == 8
    assert data.variants["add_sub_config_3"].instance_count == 2
    assert data.variants["add_sub_config_3"].dynamic_batching
    assert [gpu.name for gpu in data.machine.gpus] == ["NVIDIA TITAN RTX"]
    assert data.server_only["gpu_used_memory"] == pytest.approx(870.0)


def test_fixture_measurement_metrics() -> None:
    data = read_checkpoint_file(CHECKPOINT)
    first = next(
        m
        for m in data.measurements
        if m.variant == "add_sub_config_default"
        and m.batch_size == 1
        and m.concurrency == 1
    )

    assert first.metrics["perf_throughput"] == pytest.approx(2508.04)
    assert first.metrics["perf_latency_p99"] == pytest.approx(0.539)
    assert first.metrics["gpu_used_memory"] == pytest.approx(872.415232)
    assert set(first.gpu_metrics) == {"GPU-8557549f-9c89-4384-8bd6-1fd823c342e0"}


def test_store_loads_model_analyzer_directory() -> None:
    loaded = load_checkpoint(FIXTURE)

    assert loaded is not None
    assert loaded.index == 0
    assert loaded.data.models() == ["add_sub"]


def test_variant_name_maps_to_model(document: dict) -> None:
    renamed = copy.deepcopy(document)
    results = renamed["ResultManager.results"]["_results"]
    pair = results["add_sub"].pop("add_sub_config_3")
    pair[0]["_model_run_configs"][0]["_model_config_variant"]["variant_name"] = (
        "ocr_config_v2_config_3"
    )
    results["ocr_config_v2"] = {"ocr_config_v2_config_3": pair}

    data = convert_model_analyzer_checkpoint(renamed)

    assert model_from_variant_name("ocr_config_v2_config_3") == "ocr_config_v2"
    assert data.variants["ocr_config_v2_config_3"].model == "ocr_config_v2"
    assert {m.model for m in data.measurements_of("ocr_config_v2_config_3")} == {
        "ocr_config_v2"
    }


def _damage(document: dict, change) -> dict:
    damaged = copy.deepcopy(document)
    change(damaged)
    return damaged


def _first_measurement(document: dict) -> dict:
    pair = document["ResultManager.results"]["_results"]["add_sub"]["add_sub_config_0"]
    return next(iter(pair[1].values()))


DAMAGES = {
    "missing server-only data": lambda d: d.pop("ResultManager.server_only_data"),
    "results not an object": lambda d: d.__setitem__("ResultManager.results", []),
    "variant not a pair": lambda d: d["ResultManager.results"]["_results"][
        "add_sub"
    ].__setitem__("add_sub_config_0", {"x": 1}),
    "record without value": lambda d: _first_measurement(d)[
        "_model_config_measurements"
    ][0]["_non_gpu_data"][0][1].pop("_value"),
    "no model config measurements": lambda d: _first_measurement(d).__setitem__(
        "_model_config_measurements", []
    ),
    "batch size not an integer": lambda d: _first_measurement(d)[
        "_model_config_measurements"
    ][0]["_model_specific_pa_params"].__setitem__("batch-size", "many"),
}


def _first_params(document: dict) -> dict:
    part = _first_measurement(document)["_model_config_measurements"][0]
    return part["_model_specific_pa_params"]


def _first_model_config(document: dict) -> dict:
    pair = document["ResultManager.results"]["_results"]["add_sub"]["add_sub_config_0"]
    return pair[0]["_model_run_configs"][0]["_model_config_variant"]["model_config"]


def _set_gpu_memory(document: dict, value: object) -> None:
    for info in document["MetricsManager.gpus"].values():
        info["total_memory"] = value


# Numbers that overflow float() or int() in the reader, by the field they sit in,
# with text the error must contain.
OVERFLOWS = {
    "GPU total memory": (
        lambda d: _set_gpu_memory(d, 10**400),
        "total_memory",
    ),
    "enum set to infinity": (
        lambda d: _first_model_config(d)["input"][0].__setitem__(
            "dataType", float("inf")
        ),
        "add_sub_config_0",
    ),
    "record value": (
        lambda d: _first_measurement(d)["_model_config_measurements"][0][
            "_non_gpu_data"
        ][0][1].__setitem__("_value", 10**400),
        "perf_latency_avg",
    ),
    "GPU record value": (
        lambda d: next(iter(_first_measurement(d)["_gpu_data"].values()))[0][
            1
        ].__setitem__("_value", -(10**400)),
        "gpu_used_memory",
    ),
    "request rate": (
        lambda d: _first_params(d).__setitem__("request-rate-range", 10**400),
        "request-rate-range",
    ),
    "batch size number": (
        lambda d: _first_params(d).__setitem__("batch-size", 10**400),
        "batch-size",
    ),
    "batch size digits": (
        lambda d: _first_params(d).__setitem__("batch-size", "9" * 400),
        "batch-size",
    ),
    "batch size past digit limit": (
        lambda d: _first_params(d).__setitem__("batch-size", "9" * 5000),
        "batch-size",
    ),
    "concurrency superscript digit": (
        lambda d: _first_params(d).__setitem__("concurrency-range", "\u00b2"),
        "concurrency-range",
    ),
}


@pytest.mark.parametrize("fault", sorted(OVERFLOWS))
def test_huge_number_raises_format_error(document: dict, fault: str) -> None:
    change, text = OVERFLOWS[fault]
    damaged = _damage(document, change)

    with pytest.raises(CheckpointFormatError) as raised:
        convert_model_analyzer_checkpoint(damaged)

    assert text in str(raised.value)


@pytest.mark.parametrize("fault", sorted(OVERFLOWS))
def test_store_names_file_with_huge_number(
    document: dict, tmp_path: Path, fault: str
) -> None:
    change, text = OVERFLOWS[fault]
    path = tmp_path / "0.ckpt"
    path.write_text(json.dumps(_damage(document, change)))

    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)

    assert str(path) in str(raised.value)
    assert text in str(raised.value)


def test_gpu_memory_not_a_number_is_unknown(document: dict) -> None:
    for value in (True, "24 GB", None):
        data = convert_model_analyzer_checkpoint(
            _damage(document, lambda d, value=value: _set_gpu_memory(d, value))
        )
        assert data.machine.gpus[0].memory_total_mb is None


@pytest.mark.parametrize("damage", sorted(DAMAGES))
def test_damaged_document_raises_format_error(document: dict, damage: str) -> None:
    damaged = _damage(document, DAMAGES[damage])

    with pytest.raises(CheckpointFormatError):
        convert_model_analyzer_checkpoint(damaged)


def test_store_names_damaged_file(document: dict, tmp_path: Path) -> None:
    damaged = _damage(document, DAMAGES["record without value"])
    (tmp_path / "0.ckpt").write_text(json.dumps(damaged))

    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(tmp_path / "0.ckpt")

    assert "0.ckpt" in str(raised.value)
    assert "_value" in str(raised.value)
