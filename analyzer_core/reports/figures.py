"""Plotly figures of a checkpoint, shared by the dashboard and the PDF reports.

Latency is on the x axis in ms. Each variant keeps one colour across charts,
taken from its place in the ranking, and the default config is drawn dashed.
Without ``variants`` the model charts show the top-N variants plus the default.
``ranking`` may be settings (the model is ranked here) or a ModelRanking that
the caller already computed.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable

import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from analyzer_core.metrics.catalog import LATENCY_BREAKDOWN_TAGS, METRICS
from analyzer_core.records import CheckpointData, Measurement
from analyzer_core.results.ranking import (
    ModelRanking,
    RankingSettings,
    VariantRanking,
    rank_model,
)
from analyzer_core.results.values import collected_tags, metric_label, metric_value

logger = logging.getLogger(__name__)

LATENCY_TAG = "perf_latency_p99"
THROUGHPUT_TAG = "perf_throughput"
MEMORY_TAGS = ("gpu_used_memory", "triton_rss", "cpu_used_ram")
UTILIZATION_TAGS = ("gpu_utilization", "cpu_utilization")
LOG_AXIS_SPAN = 20
PALETTE = qualitative.Plotly + qualitative.D3
FONT = {"family": "Helvetica, Arial, sans-serif", "size": 13}
BREAKDOWN_COLOURS = ("#9ecae1", "#fdae6b", "#c7e9c0", "#31a354", "#9e9ac8")


def throughput_latency_figure(
    data: CheckpointData,
    model: str,
    ranking: RankingSettings | ModelRanking | None = None,
    variants: list[str] | None = None,
) -> go.Figure:
    """Plot throughput against p99 latency, a line per variant over concurrency.

    The Pareto front (no other point has both higher throughput and lower
    latency) is drawn as a grey step line, and latency and throughput
    constraint limits as dashed red lines.
    """
    model_ranking = resolve_ranking(data, model, ranking)
    return _metric_latency_figure(
        data, model_ranking, THROUGHPUT_TAG, variants, pareto_higher_is_better=True
    )


def memory_latency_figure(
    data: CheckpointData,
    model: str,
    ranking: RankingSettings | ModelRanking | None = None,
    variants: list[str] | None = None,
) -> go.Figure | None:
    """Plot memory against p99 latency, or return None if no memory was collected.

    GPU memory is used when collected, else Triton's resident memory, else the
    host's used RAM.
    """
    tag = memory_tag(data, model, _known_ranking(ranking))
    if tag is None:
        return None
    model_ranking = resolve_ranking(data, model, ranking)
    return _metric_latency_figure(data, model_ranking, tag, variants)


def utilization_latency_figure(
    data: CheckpointData,
    model: str,
    ranking: RankingSettings | ModelRanking | None = None,
    variants: list[str] | None = None,
) -> go.Figure | None:
    """Plot GPU (else CPU) utilization against p99 latency, or return None."""
    tag = utilization_tag(data, model, _known_ranking(ranking))
    if tag is None:
        return None
    model_ranking = resolve_ranking(data, model, ranking)
    return _metric_latency_figure(data, model_ranking, tag, variants)


def resolve_ranking(
    data: CheckpointData,
    model: str,
    ranking: RankingSettings | ModelRanking | None,
) -> ModelRanking:
    """Return ``ranking`` if it is already a ModelRanking, else rank ``model``."""
    if isinstance(ranking, ModelRanking):
        return ranking
    return rank_model(data, model, ranking or RankingSettings())


def memory_tag(
    data: CheckpointData, model: str, ranking: ModelRanking | None = None
) -> str | None:
    """Return the memory metric the model's measurements carry, GPU memory first.

    With the model's ``ranking`` the tags it collected are reused, which
    saves a pass over every measurement of the checkpoint.
    """
    return _first_collected(data, model, MEMORY_TAGS, ranking)


def utilization_tag(
    data: CheckpointData, model: str, ranking: ModelRanking | None = None
) -> str | None:
    """Return the utilization metric the model's measurements carry, GPU first."""
    return _first_collected(data, model, UTILIZATION_TAGS, ranking)


def _known_ranking(
    ranking: RankingSettings | ModelRanking | None,
) -> ModelRanking | None:
    return ranking if isinstance(ranking, ModelRanking) else None


def _first_collected(
    data: CheckpointData,
    model: str,
    tags: Iterable[str],
    ranking: ModelRanking | None,
) -> str | None:
    if ranking is not None and ranking.collected is not None:
        collected = ranking.collected
    else:
        collected = collected_tags(data, model)
    return next((tag for tag in tags if tag in collected), None)


def shown_variants(model_ranking: ModelRanking) -> list[str]:
    """Return the top-N variant names, plus the default config when it is lower."""
    names = [entry.name for entry in model_ranking.top()]
    default = model_ranking.default
    if default is not None and default.name not in names:
        names.append(default.name)
    return names


def variant_colour(model_ranking: ModelRanking, name: str) -> str | None:
    """Give a variant a colour from its rank, so charts agree with each other.

    Returns None for a variant that is not ranked.
    """
    position = model_ranking.position(name)
    return None if position is None else PALETTE[(position - 1) % len(PALETTE)]


def _metric_latency_figure(
    data: CheckpointData,
    model_ranking: ModelRanking,
    tag: str,
    variants: list[str] | None,
    pareto_higher_is_better: bool | None = None,
) -> go.Figure:
    names = variants if variants is not None else shown_variants(model_ranking)
    figure = go.Figure()
    points: list[Measurement] = []
    for name in names:
        entry = model_ranking.entry(name)
        if entry is None:
            continue
        colour = variant_colour(model_ranking, name)
        for batch_size, series in _series_by_batch(entry.measurements):
            label = name if batch_size is None else f"{name} (batch {batch_size})"
            figure.add_trace(_variant_trace(series, tag, label, entry, colour))
            points.extend(series)
    if pareto_higher_is_better is not None:
        _add_pareto_front(figure, points, tag)
    log_latency = _latency_axis(figure, points)
    _add_constraint_lines(figure, model_ranking, tag, log_latency)
    subject = names[0] if len(names) == 1 else model_ranking.model
    label = metric_label(tag)
    label = label[:1].upper() + label[1:]
    _style(figure, title=f"{label} vs p99 latency: {subject}")
    figure.update_yaxes(title_text=METRICS[tag].header, rangemode="tozero")
    return figure


def _latency_axis(figure: go.Figure, points: list[Measurement]) -> bool:
    """Use a log latency axis when latencies span more than LOG_AXIS_SPAN times.

    Otherwise the low-latency variants, usually the interesting ones, would be
    squeezed against the y axis by one slow variant.
    """
    latencies = [metric_value(m, LATENCY_TAG) for m in points]
    positive = [value for value in latencies if value is not None and value > 0]
    title = METRICS[LATENCY_TAG].header
    if positive and max(positive) / min(positive) > LOG_AXIS_SPAN:
        figure.update_xaxes(title_text=f"{title}, log scale", type="log")
        return True
    figure.update_xaxes(title_text=title, rangemode="tozero")
    return False


def _series_by_batch(
    measurements: list[Measurement],
) -> list[tuple[int | None, list[Measurement]]]:
    batch_sizes = sorted({m.batch_size for m in measurements})
    series = []
    for batch_size in batch_sizes:
        selected = [m for m in measurements if m.batch_size == batch_size]
        selected.sort(key=lambda m: (m.concurrency or 0, m.request_rate or 0))
        series.append((batch_size if len(batch_sizes) > 1 else None, selected))
    return series


def _variant_trace(
    series: list[Measurement],
    tag: str,
    label: str,
    entry: VariantRanking,
    colour: str | None,
) -> go.Scatter:
    name = entry.name
    hover = [
        f"{name}<br>batch {m.batch_size}, {_load_text(m)}<br>"
        f"p99 {metric_value(m, LATENCY_TAG):.2f} ms<br>"
        f"{metric_label(tag)} {metric_value(m, tag) or 0:,.1f} {METRICS[tag].unit}"
        for m in series
    ]
    return go.Scatter(
        x=[metric_value(m, LATENCY_TAG) for m in series],
        y=[metric_value(m, tag) for m in series],
        mode="lines+markers",
        name=label + ("" if entry.passes else " (fails constraints)"),
        legendgroup=name,
        line={"color": colour, "dash": "dash" if entry.is_default else "solid"},
        marker={"size": 7},
        text=hover,
        hoverinfo="text",
    )


def _load_text(measurement: Measurement) -> str:
    if measurement.request_rate is not None:
        return f"request rate {measurement.request_rate:g}"
    return f"concurrency {measurement.concurrency}"


def pareto_front(measurements: list[Measurement], tag: str) -> list[Measurement]:
    """Return the measurements that no other beats on both p99 latency and ``tag``.

    A higher ``tag`` is better when the catalog marks it higher-is-better.
    The result is sorted by latency.
    """
    higher = METRICS[tag].higher_is_better
    points = []
    for m in measurements:
        latency, value = metric_value(m, LATENCY_TAG), metric_value(m, tag)
        if latency is not None and value is not None:
            points.append((latency, value if higher else -value, m))
    points.sort(key=lambda point: (point[0], -point[1]))
    front, best = [], float("-inf")
    for _latency, value, measurement in points:
        if value > best:
            front.append(measurement)
            best = value
    return front


def _add_pareto_front(figure: go.Figure, points: list[Measurement], tag: str) -> None:
    front = pareto_front(points, tag)
    if not front:
        return
    trace = go.Scatter(
        x=[metric_value(m, LATENCY_TAG) for m in front],
        y=[metric_value(m, tag) for m in front],
        mode="lines+markers",
        name="Pareto front",
        line={"color": "rgba(120,120,120,0.45)", "width": 8, "shape": "hv"},
        marker={"symbol": "circle-open", "size": 15, "color": "#333"},
        hoverinfo="skip",
    )
    # Drawn first, so the variant lines stay on top of the wide grey band.
    figure.add_trace(trace)
    figure.data = figure.data[-1:] + figure.data[:-1]


def _add_constraint_lines(
    figure: go.Figure, model_ranking: ModelRanking, tag: str, log_latency: bool
) -> None:
    """Draw latency limits as vertical and ``tag`` limits as horizontal lines.

    On a log axis plotly.js (the version bundled with plotly 7.1) places
    shapes by the value but annotations by its log10, so the annotation
    position is converted when ``log_latency`` is set.
    """
    line = {"color": "#d62728", "dash": "dash", "width": 2}
    font = {"color": "#d62728", "size": 12}
    for constrained, bounds in model_ranking.constraints.items():
        for bound, limit in bounds.items():
            label = f"{bound} {metric_label(constrained)} {limit:g} "
            label += METRICS[constrained].unit
            if constrained == LATENCY_TAG:
                x = math.log10(limit) if log_latency and limit > 0 else limit
                figure.add_shape(
                    type="line", xref="x", yref="paper", x0=limit, x1=limit, y0=0,
                    y1=1, line=line,
                )  # fmt: skip
                figure.add_annotation(
                    x=x, y=1, xref="x", yref="paper", text=label, showarrow=False,
                    xanchor="left", yanchor="bottom", font=font,
                )  # fmt: skip
            elif constrained == tag:
                figure.add_shape(
                    type="line", xref="paper", yref="y", x0=0, x1=1, y0=limit,
                    y1=limit, line=line,
                )  # fmt: skip
                figure.add_annotation(
                    x=0, y=limit, xref="paper", yref="y", text=label,
                    showarrow=False, xanchor="left", yanchor="bottom", font=font,
                )  # fmt: skip


def latency_breakdown_figure(
    data: CheckpointData,
    variant: str,
    measurements: list[Measurement] | None = None,
) -> go.Figure:
    """Stack the parts of the average latency per load level, with throughput.

    Bars: client send/recv, server queue and the server's compute input,
    infer and output times, in ms. Throughput is a line on the right axis.
    ``measurements`` are the variant's, when the caller has already found
    them in ``data``.
    """
    if measurements is None:
        measurements = data.measurements_of(variant)
    measurements = [m for m in measurements if m.ok]
    measurements.sort(
        key=lambda m: (m.batch_size, m.concurrency or 0, m.request_rate or 0)
    )
    several_batches = len({m.batch_size for m in measurements}) > 1
    labels = [_bar_label(m, several_batches) for m in measurements]
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    for tag, colour in zip(LATENCY_BREAKDOWN_TAGS, BREAKDOWN_COLOURS, strict=True):
        figure.add_trace(
            go.Bar(
                x=labels,
                y=[metric_value(m, tag) for m in measurements],
                name=METRICS[tag].header.removesuffix(" (ms)"),
                marker_color=colour,
            ),
            secondary_y=False,
        )
    figure.add_trace(
        go.Scatter(
            x=labels,
            y=[metric_value(m, THROUGHPUT_TAG) for m in measurements],
            name="Throughput",
            mode="lines+markers",
            line={"color": "#222", "width": 2},
        ),
        secondary_y=True,
    )
    figure.update_layout(barmode="stack")
    _style(figure, title=f"Latency breakdown and throughput: {variant}")
    x_title = "batch size, concurrency" if several_batches else "concurrency"
    if measurements and all(m.request_rate is not None for m in measurements):
        x_title = x_title.replace("concurrency", "request rate")
    figure.update_xaxes(title_text=x_title, type="category")
    figure.update_yaxes(title_text="Latency (ms)", secondary_y=False)
    figure.update_yaxes(
        title_text=METRICS[THROUGHPUT_TAG].header,
        secondary_y=True,
        rangemode="tozero",
        showgrid=False,
        tickmode="auto",
    )
    figure.update_layout(legend={"traceorder": "normal"})
    return figure


def _bar_label(measurement: Measurement, several_batches: bool) -> str:
    load = (
        f"{measurement.request_rate:g}/s"
        if measurement.request_rate is not None
        else str(measurement.concurrency)
    )
    return f"b{measurement.batch_size}, {load}" if several_batches else load


def _style(figure: go.Figure, title: str) -> None:
    figure.update_layout(
        title={"text": title, "x": 0.01, "font": {"size": 16}},
        font=FONT,
        template="plotly_white",
        legend={"orientation": "h", "yanchor": "top", "y": -0.25, "x": 0},
        margin={"l": 70, "r": 30, "t": 60, "b": 40},
        hovermode="closest",
    )
