"""Ranking variants by objectives under constraints, and the settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer_core.errors import ConfigError
from analyzer_core.records import (
    CheckpointData,
    MachineInfo,
    Measurement,
    MeasurementStatus,
    Variant,
    variant_name,
)
from analyzer_core.results.ranking import (
    RankingSettings,
    load_ranking_settings,
    rank_model,
)


def make_checkpoint(
    points: dict[str, list[tuple[float, float]]], model: str = "resnet"
) -> CheckpointData:
    """Build a CPU-only checkpoint: variant name -> [(p99 ms, infer/sec), ...]."""
    data = CheckpointData(machine=MachineInfo("test CPU", "2.51.0"))
    for name, measurements in points.items():
        is_default = name.endswith("_default")
        config = {"max_batch_size": 4, "instance_group": [{"count": 1}]}
        data.variants[name] = Variant(name, model, config, is_default)
        for concurrency, (latency, throughput) in enumerate(measurements, start=1):
            data.measurements.append(
                Measurement(
                    model=model,
                    variant=name,
                    batch_size=1,
                    concurrency=concurrency,
                    metrics={
                        "perf_latency_p99": latency,
                        "perf_throughput": throughput,
                        "triton_rss": 500.0,
                    },
                )
            )
    return data


def test_throughput_orders_variants() -> None:
    data = make_checkpoint(
        {
            "resnet_config_default": [(4.0, 100.0), (6.0, 150.0)],
            "resnet_config_0": [(3.0, 300.0)],
            "resnet_config_1": [(5.0, 200.0)],
        }
    )

    ranking = rank_model(data, "resnet", RankingSettings())

    assert [e.name for e in ranking.entries] == [
        "resnet_config_0",
        "resnet_config_1",
        "resnet_config_default",
    ]
    assert ranking.best.name == "resnet_config_0"
    assert ranking.notes == []


def test_best_measurement_meets_constraints() -> None:
    data = make_checkpoint({"resnet_config_0": [(4.0, 100.0), (9.0, 400.0)]})
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 5.0}})

    entry = rank_model(data, "resnet", settings).entries[0]

    assert entry.passes
    assert entry.best.metrics["perf_throughput"] == 100.0


def test_all_over_budget_listed_failing() -> None:
    data = make_checkpoint(
        {
            "resnet_config_2": [(20.0, 900.0)],
            "resnet_config_0": [(12.0, 500.0)],
            "resnet_config_1": [(15.0, 700.0)],
        }
    )
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 5.0}})

    ranking = rank_model(data, "resnet", settings)

    assert [e.name for e in ranking.entries] == [
        "resnet_config_0",
        "resnet_config_1",
        "resnet_config_2",
    ]
    assert not any(entry.passes for entry in ranking.entries)
    assert ranking.best is None
    assert ranking.entries[0].violations == ["p99 latency 12.0 ms > 5.0 ms"]
    assert any(note.startswith("No variant of resnet meets") for note in ranking.notes)


def test_top_three_with_one_variant() -> None:
    data = make_checkpoint({"resnet_config_0": [(3.0, 300.0)]})

    ranking = rank_model(data, "resnet", RankingSettings(top_n=3))

    assert len(ranking.top()) == 1
    assert any("Only 1 variant was measured" in note for note in ranking.notes)
    assert any("top 3" in note for note in ranking.notes)


def test_gpu_constraint_cpu_run_reported() -> None:
    data = make_checkpoint({"resnet_config_0": [(3.0, 300.0)]})
    settings = RankingSettings(constraints={"gpu_used_memory": {"max": 1000.0}})

    ranking = rank_model(data, "resnet", settings)

    assert ranking.unchecked_constraints == {"gpu_used_memory": {"max": 1000.0}}
    assert ranking.constraints == {}
    assert ranking.entries[0].passes
    assert any(
        note.startswith("Not checked: GPU memory usage") for note in ranking.notes
    )


def test_weighted_objectives_trade_latency() -> None:
    data = make_checkpoint(
        {
            "resnet_config_0": [(10.0, 1000.0)],
            "resnet_config_1": [(2.0, 900.0)],
        }
    )
    throughput_only = RankingSettings()
    mostly_latency = RankingSettings(
        objectives={"perf_throughput": 1, "perf_latency_p99": 3}
    )

    first = rank_model(data, "resnet", throughput_only).entries[0].name
    second = rank_model(data, "resnet", mostly_latency).entries[0].name

    assert first == "resnet_config_0"
    assert second == "resnet_config_1"


def test_failed_and_unmeasured_variants() -> None:
    data = make_checkpoint({"resnet_config_0": [(3.0, 300.0)]})
    data.variants["resnet_config_1"] = Variant("resnet_config_1", "resnet", {})
    failed = Measurement("resnet", "resnet_config_2", 1, 1, metrics={})
    failed.status = MeasurementStatus.FAILED
    data.measurements.append(failed)

    ranking = rank_model(data, "resnet", RankingSettings())

    assert [entry.name for entry in ranking.entries] == ["resnet_config_0"]
    assert ranking.unmeasured == ["resnet_config_1", "resnet_config_2"]
    assert any("not ranked" in note for note in ranking.notes)


def test_gain_over_default() -> None:
    data = make_checkpoint(
        {
            variant_name("resnet", None): [(4.0, 100.0)],
            variant_name("resnet", 0): [(3.0, 150.0)],
        }
    )

    gains = rank_model(data, "resnet", RankingSettings()).gain_over_default()

    assert gains == {"perf_throughput": pytest.approx(50.0)}


def test_model_constraints_override_global() -> None:
    settings = RankingSettings(
        constraints={"perf_latency_p99": {"max": 5.0}, "perf_throughput": {"min": 1}},
        model_constraints={"bert": {"perf_latency_p99": {"max": 50.0}}},
    )

    assert settings.constraints_for("bert") == {
        "perf_latency_p99": {"max": 50.0},
        "perf_throughput": {"min": 1},
    }
    assert settings.constraints_for("resnet")["perf_latency_p99"] == {"max": 5.0}


def test_settings_yaml_model_analyzer_keys(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "objectives:\n"
        "  perf_throughput: 2\n"
        "  perf_latency_p99: 1\n"
        "constraints:\n"
        "  perf_latency_p99:\n"
        "    max: 20\n"
        "num_configs_per_model: 5\n"
        "profile_models:\n"
        "  resnet:\n"
        "    objectives: [perf_latency_p99]\n"
        "    constraints:\n"
        "      gpu_used_memory:\n"
        "        max: 4000\n"
        "  bert: {}\n"
        "perf_analyzer_flags:\n"
        "  percentile: 95\n"
    )

    settings = load_ranking_settings(path)

    assert settings.objectives == {"perf_throughput": 2, "perf_latency_p99": 1}
    assert settings.top_n == 5
    assert settings.models == ["resnet", "bert"]
    assert settings.objectives_for("resnet") == {"perf_latency_p99": 1.0}
    assert settings.objectives_for("bert") == settings.objectives
    assert settings.constraints_for("resnet") == {
        "perf_latency_p99": {"max": 20},
        "gpu_used_memory": {"max": 4000},
    }


def test_settings_yaml_model_list(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text("profile_models: resnet, bert\n")

    assert load_ranking_settings(path).models == ["resnet", "bert"]


@pytest.mark.parametrize(
    "content, expected",
    [
        ("objectives: [latency]\n", "unknown metric 'latency'"),
        ("constraints:\n  perf_latency_p99: 5\n", "must be a mapping"),
        ("constraints:\n  perf_latency_p99: {below: 5}\n", "use min or max"),
        ("objectives: {perf_throughput: -1}\n", "must be above 0"),
        ("num_configs_per_model: 0\n", "less than 1"),
        ("- a list\n", "mapping at the top"),
        ("objectives: [\n", "not valid YAML"),
    ],
)
def test_settings_yaml_rejects(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(content)

    with pytest.raises(ConfigError) as raised:
        load_ranking_settings(path)

    assert expected in str(raised.value)
    assert str(path) in str(raised.value)


def test_settings_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_ranking_settings(tmp_path / "absent.yaml")

    assert "absent.yaml" in str(raised.value)


def test_unmeasured_note_counts_long_list() -> None:
    data = make_checkpoint({"resnet_config_0": [(3.0, 300.0)]})
    for index in range(1, 16):
        name = variant_name("resnet", index)
        data.variants[name] = Variant(name, "resnet", {})

    ranking = rank_model(data, "resnet", RankingSettings())

    note = next(note for note in ranking.notes if "not ranked" in note)
    assert note.startswith("15 variant(s) of resnet have no successful measurement")
    assert "resnet_config_10" in note
    assert "resnet_config_11" not in note
    assert note.endswith("resnet_config_10 and 5 more.")


def test_position_and_entry_lookup() -> None:
    data = make_checkpoint(
        {
            "resnet_config_0": [(3.0, 100.0)],
            "resnet_config_1": [(3.0, 300.0)],
            "resnet_config_2": [(3.0, 200.0)],
        }
    )

    ranking = rank_model(data, "resnet", RankingSettings())

    assert ranking.position("resnet_config_1") == 1
    assert ranking.position("resnet_config_0") == 3
    assert ranking.position("resnet_config_9") is None
    assert ranking.entry("resnet_config_2") is ranking.entries[1]
    assert ranking.entry("resnet_config_9") is None


def test_passing_measurements_come_first() -> None:
    data = make_checkpoint(
        {"resnet_config_0": [(12.0, 900.0), (4.0, 300.0), (15.0, 950.0), (5.0, 400.0)]}
    )
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 10.0}})

    entry = rank_model(data, "resnet", settings).entries[0]

    assert entry.passing_count == 2
    latencies = [m.metrics["perf_latency_p99"] for m in entry.measurements]
    assert latencies == [5.0, 4.0, 15.0, 12.0]
    assert entry.best.metrics["perf_latency_p99"] == 5.0


def test_ranking_keeps_collected_tags() -> None:
    data = make_checkpoint({"resnet_config_0": [(3.0, 300.0)]})

    ranking = rank_model(data, "resnet", RankingSettings())

    assert ranking.collected == {"perf_latency_p99", "perf_throughput", "triton_rss"}


@pytest.mark.parametrize("limit", [float("nan"), float("inf")])
def test_non_finite_constraint_rejected(limit):
    from analyzer_core.errors import ConfigError
    from analyzer_core.results.settings import validate_constraints

    with pytest.raises(ConfigError, match="not finite"):
        validate_constraints({"perf_latency_p99": {"max": limit}}, "constraints")
