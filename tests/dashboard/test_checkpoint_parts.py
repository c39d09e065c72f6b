"""Per-model parts of a checkpoint and the whole-checkpoint tables built from them."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from analyzer_core.records import CheckpointData
from analyzer_core.reports.figures import (
    latency_breakdown_figure,
    memory_latency_figure,
    throughput_latency_figure,
)
from analyzer_core.results.synthetic import synthetic_checkpoint
from analyzer_core.results.tables import gpu_table, inference_table
from dashboard import shared

MODELS = {"add_sub": 3, "dense": 2, "resnet": 4}


def three_models(gpu: bool = False) -> CheckpointData:
    return synthetic_checkpoint(MODELS, gpu=gpu, concurrencies=(1, 2, 4), seed=3)


def test_parts_hold_one_model_each() -> None:
    data = three_models()

    parts = shared.split_by_model(data)

    assert list(parts) == data.models()
    for model, part in parts.items():
        assert {m.model for m in part.measurements} == {model}
        assert {v.model for v in part.variants.values()} == {model}
        expected = [m for m in data.measurements if m.model == model]
        assert part.measurements == expected
        assert part.machine is data.machine
        assert part.server_only is data.server_only
    assert sum(len(part.measurements) for part in parts.values()) == len(
        data.measurements
    )


def test_parts_draw_same_figures() -> None:
    data = three_models(gpu=True)
    parts = shared.split_by_model(data)

    for model, part in parts.items():
        assert (
            throughput_latency_figure(part, model).to_dict()
            == throughput_latency_figure(data, model).to_dict()
        )
        assert (
            memory_latency_figure(part, model).to_dict()
            == memory_latency_figure(data, model).to_dict()
        )
        variant = next(iter(part.variants))
        assert (
            latency_breakdown_figure(part, variant).to_dict()
            == latency_breakdown_figure(data, variant).to_dict()
        )


@pytest.mark.parametrize("gpu", [False, True])
def test_whole_inference_table_matches_core(gpu: bool) -> None:
    data = three_models(gpu=gpu)
    parts = shared.split_by_model(data)

    joined = shared.whole_table("metrics-model-inference", data, parts)

    pd.testing.assert_frame_equal(joined, inference_table(data))


def test_whole_gpu_table_matches_core() -> None:
    data = three_models(gpu=True)
    parts = shared.split_by_model(data)

    joined = shared.whole_table("metrics-model-gpu", data, parts)

    pd.testing.assert_frame_equal(joined, gpu_table(data))


def test_whole_table_mixed_load_columns() -> None:
    """One model measured by request rate and one by concurrency."""
    data = three_models()
    rate_model = "dense"
    data.measurements = [
        dataclasses.replace(m, concurrency=None, request_rate=100.0 * m.concurrency)
        if m.model == rate_model
        else m
        for m in data.measurements
    ]
    parts = shared.split_by_model(data)

    part_table = shared.TABLE_BUILDERS["metrics-model-inference"](parts[rate_model])
    joined = shared.whole_table("metrics-model-inference", data, parts)

    assert "Request Rate" in part_table.columns
    pd.testing.assert_frame_equal(joined, inference_table(data))


def test_whole_measurements_in_checkpoint_order() -> None:
    data = three_models()
    data.measurements = data.measurements[::-1]
    parts = shared.split_by_model(data)

    whole = shared.whole_table("measurements", data, parts)

    assert list(whole["variant"]) == [m.variant for m in data.measurements]
    assert list(whole["concurrency"]) == [m.concurrency for m in data.measurements]
