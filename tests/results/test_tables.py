"""Measurement frames and Model Analyzer's CSV tables from synthetic checkpoints."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from analyzer_core.metrics.catalog import METRICS
from analyzer_core.results.ranking import RankingSettings
from analyzer_core.results.synthetic import synthetic_checkpoint
from analyzer_core.results.tables import (
    gpu_table,
    inference_table,
    measurements_frame,
    rank_all,
    round_like_model_analyzer,
    server_only_table,
    write_tables,
)


def test_measurements_frame_columns() -> None:
    data = synthetic_checkpoint({"resnet": 2}, concurrencies=(1, 2))

    frame = measurements_frame(data)

    assert len(frame) == len(data.measurements)
    assert list(frame.columns[:10]) == [
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
    ]
    assert set(METRICS) <= set(frame.columns)
    assert frame["gpu_used_memory"].isna().all()


def test_inference_table_best_variant_first() -> None:
    data = synthetic_checkpoint({"resnet": 6}, concurrencies=(1, 8))

    table = inference_table(data)

    best_per_variant = table.groupby("Model Config Path", sort=False)[
        "Throughput (infer/sec)"
    ].max()
    assert list(best_per_variant) == sorted(best_per_variant, reverse=True)
    assert table.columns[-2:].tolist() == ["Throughput (infer/sec)", "p99 Latency (ms)"]


def test_inference_table_marks_failing_rows() -> None:
    data = synthetic_checkpoint({"resnet": 2}, concurrencies=(1, 32))
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 10.0}})

    table = inference_table(data, settings)

    over_budget = table["p99 Latency (ms)"] > 10.0
    assert (table.loc[over_budget, "Satisfies Constraints"] == "No").all()
    assert (table.loc[~over_budget, "Satisfies Constraints"] == "Yes").all()


def test_gpu_table_none_without_gpu() -> None:
    assert gpu_table(synthetic_checkpoint({"resnet": 1})) is None


def test_gpu_table_row_per_gpu() -> None:
    data = synthetic_checkpoint({"resnet": 1}, gpu=True, concurrencies=(1, 2))

    table = gpu_table(data)

    assert len(table) == len(data.measurements)
    assert table["GPU UUID"].nunique() == 1
    assert table["Instance Group"].iloc[0].endswith(":GPU")


def test_server_only_table_cpu_run() -> None:
    table = server_only_table(synthetic_checkpoint({"resnet": 1}))

    assert list(table.columns) == [
        "Model",
        "CPU Utilization (%)",
        "Triton Resident Memory (MB)",
    ]
    assert table["Model"].tolist() == ["triton-server"]


def test_write_tables_index_in_names(tmp_path: Path) -> None:
    data = synthetic_checkpoint({"resnet": 1})

    paths = write_tables(data, tmp_path, index=4)

    assert sorted(path.name for path in paths.values()) == [
        "metrics-model-inference-ckpt4.csv",
        "metrics-server-only-ckpt4.csv",
    ]
    assert all(path.parent == tmp_path / "results" for path in paths.values())


def test_rounding_matches_python_round() -> None:
    frame = pd.DataFrame({"value": [3988.65, 6109.95, 4.25], "name": ["a", "b", "c"]})

    rounded = round_like_model_analyzer(frame)

    assert rounded["value"].tolist() == [3988.7, 6109.9, 4.2]
    assert rounded["name"].tolist() == ["a", "b", "c"]


def test_rounding_mixed_object_column() -> None:
    frame = pd.DataFrame(
        {"mixed": [3988.65, None, "n/a", 7], "count": [1, 2, 3, 4]}, dtype=object
    )
    frame["count"] = frame["count"].astype(int)

    rounded = round_like_model_analyzer(frame)

    assert rounded["mixed"].tolist() == [3988.7, None, "n/a", 7]
    assert rounded["count"].tolist() == [1, 2, 3, 4]
    assert frame["mixed"].tolist()[0] == 3988.65


def test_tables_reuse_given_rankings() -> None:
    data = synthetic_checkpoint({"resnet": 3, "bert": 2}, concurrencies=(1, 32))
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 10.0}})
    rankings = rank_all(data, settings)

    from_rankings = inference_table(data, rankings=rankings)
    ranked_here = inference_table(data, settings)

    pd.testing.assert_frame_equal(from_rankings, ranked_here)
    assert set(from_rankings["Satisfies Constraints"]) == {"Yes", "No"}


def test_tables_rank_only_given_models() -> None:
    data = synthetic_checkpoint({"resnet": 1, "bert": 1}, gpu=True)
    only_bert = {"bert": rank_all(data)["bert"]}

    inference = inference_table(data, rankings=only_bert)
    gpu = gpu_table(data, rankings=only_bert)

    assert set(inference["Model"]) == {"bert"}
    assert set(gpu["Model"]) == {"bert"}
