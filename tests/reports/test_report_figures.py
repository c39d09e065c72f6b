"""Plotly figures: traces, Pareto front, constraint lines (no rendering)."""

from __future__ import annotations

from analyzer_core.records import CheckpointData, MachineInfo, Measurement, Variant
from analyzer_core.reports.figures import (
    PALETTE,
    latency_breakdown_figure,
    memory_latency_figure,
    memory_tag,
    pareto_front,
    shown_variants,
    throughput_latency_figure,
    utilization_latency_figure,
    utilization_tag,
    variant_colour,
)
from analyzer_core.results.ranking import RankingSettings, rank_model
from analyzer_core.results.synthetic import synthetic_checkpoint


def point(variant: str, latency: float, throughput: float) -> Measurement:
    metrics = {"perf_latency_p99": latency, "perf_throughput": throughput}
    return Measurement("resnet", variant, 1, 1, metrics)


def test_pareto_front_drops_dominated() -> None:
    points = [
        point("a", 1.0, 100.0),
        point("b", 2.0, 90.0),
        point("c", 3.0, 300.0),
        point("d", 4.0, 250.0),
        point("e", 5.0, 400.0),
    ]

    front = pareto_front(points, "perf_throughput")

    assert [m.variant for m in front] == ["a", "c", "e"]


def test_pareto_front_lower_is_better() -> None:
    points = [point("a", 1.0, 0.0), point("b", 2.0, 0.0)]
    points[0].metrics["triton_rss"] = 500.0
    points[1].metrics["triton_rss"] = 400.0

    front = pareto_front(points, "triton_rss")

    assert [m.variant for m in front] == ["a", "b"]


def test_throughput_figure_traces() -> None:
    data = synthetic_checkpoint({"resnet": 6}, concurrencies=(1, 4, 16))
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 20.0}})

    figure = throughput_latency_figure(data, "resnet", settings)

    names = [trace.name for trace in figure.data]
    assert names[0] == "Pareto front"
    shown = shown_variants(rank_model(data, "resnet", settings))
    assert len(shown) == 4
    assert any(name.startswith("resnet_config_default") for name in names)
    assert [shape.x0 for shape in figure.layout.shapes] == [20.0]


def test_throughput_figure_named_variants() -> None:
    data = synthetic_checkpoint({"resnet": 6}, concurrencies=(1, 4))
    ranking = rank_model(data, "resnet", RankingSettings())

    figure = throughput_latency_figure(data, "resnet", ranking, ["resnet_config_5"])

    variant_traces = [t for t in figure.data if t.name != "Pareto front"]
    assert [t.name for t in variant_traces] == ["resnet_config_5"]
    assert len(variant_traces[0].x) == 2


def test_breakdown_figure_stacks_five_parts() -> None:
    data = synthetic_checkpoint({"resnet": 1}, concurrencies=(1, 2, 4))

    figure = latency_breakdown_figure(data, "resnet_config_0")

    bars = [trace for trace in figure.data if trace.type == "bar"]
    lines = [trace for trace in figure.data if trace.type == "scatter"]
    assert len(bars) == 5
    assert [list(bar.x) for bar in bars][0] == ["1", "2", "4"]
    assert [line.name for line in lines] == ["Throughput"]
    assert lines[0].yaxis == "y2"
    assert figure.layout.barmode == "stack"


def test_memory_figure_prefers_gpu() -> None:
    data = synthetic_checkpoint({"resnet": 2}, gpu=True)

    figure = memory_latency_figure(data, "resnet")

    assert figure.layout.yaxis.title.text == "GPU Memory Usage (MB)"


def test_resource_figures_none_without_data() -> None:
    data = CheckpointData(machine=MachineInfo("test CPU", "2.51.0"))
    data.variants["resnet_config_0"] = Variant("resnet_config_0", "resnet", {})
    data.measurements.append(point("resnet_config_0", 1.0, 100.0))

    assert memory_latency_figure(data, "resnet") is None
    assert utilization_latency_figure(data, "resnet") is None


def test_variant_colours_follow_rank() -> None:
    data = synthetic_checkpoint({"resnet": 6}, concurrencies=(1, 4))
    ranking = rank_model(data, "resnet", RankingSettings())
    names = [entry.name for entry in ranking.entries]

    throughput = throughput_latency_figure(data, "resnet", ranking)
    memory = memory_latency_figure(data, "resnet", ranking, names[1:3])

    variant_traces = [trace for trace in throughput.data if trace.legendgroup]
    assert [trace.line.color for trace in variant_traces[:3]] == PALETTE[:3]
    assert [trace.line.color for trace in memory.data] == PALETTE[1:3]
    assert variant_colour(ranking, "resnet_config_9") is None


def test_ranking_supplies_collected_tags() -> None:
    data = synthetic_checkpoint({"resnet": 2}, gpu=True)
    ranking = rank_model(data, "resnet", RankingSettings())

    assert memory_tag(data, "resnet", ranking) == "gpu_used_memory"
    assert memory_tag(data, "resnet") == "gpu_used_memory"
    assert utilization_tag(data, "resnet", ranking) == "gpu_utilization"

    ranking.collected = {"triton_rss"}
    assert memory_tag(data, "resnet", ranking) == "triton_rss"
    assert utilization_tag(data, "resnet", ranking) is None


def test_breakdown_figure_given_measurements() -> None:
    data = synthetic_checkpoint({"resnet": 1}, concurrencies=(1, 2, 4))
    measurements = data.measurements_of("resnet_config_0")[:2]

    figure = latency_breakdown_figure(data, "resnet_config_0", measurements)

    assert list(figure.data[0].x) == ["1", "2"]
