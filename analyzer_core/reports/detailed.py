"""The detailed report of one variant: where its latency goes at each load level.

Settings and rank first, then the latency breakdown with throughput, memory
and utilization against p99 latency, a row per measurement (failed ones
included, with their error), and the variant's config.pbtxt.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from analyzer_core.metrics.catalog import LATENCY_BREAKDOWN_TAGS
from analyzer_core.records import Measurement, Variant
from analyzer_core.reports import figures
from analyzer_core.reports.context import ReportContext
from analyzer_core.reports.pbtxt import ModelConfigError, config_pbtxt
from analyzer_core.reports.pdf import (
    CHART_PIXELS,
    HALF_CHART_PIXELS,
    build_pdf,
    chart,
    chart_pair,
    code_block,
    data_table,
    heading,
    markup,
    spacer,
    text,
)
from analyzer_core.reports.render import ChartSession
from analyzer_core.reports.summary import missing_charts_note
from analyzer_core.results.ranking import ModelRanking, VariantRanking
from analyzer_core.results.tables import instance_group_text
from analyzer_core.results.values import metric_value

ERROR_LOG_CHARACTERS = 400
BREAKDOWN_HEADERS = (
    "Client (ms)",
    "Queue (ms)",
    "Input (ms)",
    "Infer (ms)",
    "Output (ms)",
)


def detailed_pdf(
    context: ReportContext, variant_name: str, charts: ChartSession
) -> bytes:
    """Lay out the detailed report of ``variant_name`` and return the PDF bytes."""
    data = context.data
    variant = data.variants.get(variant_name)
    measurements = context.measurements_of(variant_name)
    model = variant.model if variant else measurements[0].model
    ranking = context.ranking(model)
    entry = ranking.entry(variant_name)
    story = [
        text(f"Detailed report: {variant_name}", "title"),
        text(
            f"Model {model}. Checkpoint {context.index}, saved {context.time_text}.",
            "subtitle",
        ),
        spacer(),
        *_settings(context, variant, ranking, entry),
        spacer(2),
        *_charts(context, variant_name, measurements, ranking, charts),
        *heading("Measurements"),
        *_measurement_table(context, ranking, measurements),
        *_failures(measurements),
        *_config(variant),
    ]
    footer = f"Detailed report of {variant_name}, {context.checkpoint_text}"
    return build_pdf(story, title=f"Detailed report: {variant_name}", footer=footer)


def _settings(
    context: ReportContext,
    variant: Variant | None,
    ranking: ModelRanking,
    entry: VariantRanking | None,
) -> list:
    items = []
    if variant is not None:
        gpu_count = len(context.data.machine.gpus)
        items += [
            _labelled("Settings", variant.describe()),
            _labelled("Instance group", instance_group_text(variant, gpu_count) or "-"),
            _labelled("Dynamic batching", _dynamic_batching_text(variant)),
        ]
    else:
        items.append(_labelled("Settings", "the model config is not in the checkpoint"))
    items.append(_labelled("Rank", _rank_text(ranking, entry)))
    items.append(_labelled("Hardware", context.hardware_text()))
    return items


def _labelled(label: str, value: str):
    return markup(f"<b>{escape(label)}:</b> {escape(value)}")


def _dynamic_batching_text(variant: Variant) -> str:
    settings = variant.config.get("dynamic_batching")
    if settings is None:
        return "off"
    details = [f"{key} {value}" for key, value in settings.items()]
    return "on" + (f" ({', '.join(details)})" if details else "")


def _rank_text(ranking: ModelRanking, entry: VariantRanking | None) -> str:
    if entry is None:
        return (
            f"not ranked: no successful measurement of this variant of {ranking.model}"
        )
    position = ranking.position(entry.name)
    total = len(ranking.entries)
    if entry.passes:
        return (
            f"{position:,} of {total:,} variants of {ranking.model}; meets the "
            "constraints"
        )
    problems = "; ".join(entry.violations)
    return (
        f"{position:,} of {total:,} variants of {ranking.model}; fails the constraints "
        f"at every load level (closest: {problems})"
    )


def _charts(
    context: ReportContext,
    variant_name: str,
    measurements: list[Measurement],
    ranking: ModelRanking,
    charts: ChartSession,
) -> list:
    width, height = CHART_PIXELS
    data, model, only = context.data, ranking.model, [variant_name]
    breakdown = figures.latency_breakdown_figure(data, variant_name, measurements)
    memory = figures.memory_latency_figure(data, model, ranking, only)
    utilization = figures.utilization_latency_figure(data, model, ranking, only)
    half_width, half_height = HALF_CHART_PIXELS
    images = charts.pngs(
        [
            (breakdown, width, height),
            (memory, half_width, half_height),
            (utilization, half_width, half_height),
        ]
    )
    if charts.error is not None:
        return [text(missing_charts_note(charts.error), "note")]
    breakdown_caption = (
        "Average latency split into its parts (bars) and throughput (line)."
    )
    return [
        chart(images[0], breakdown_caption),
        chart_pair(images[1], images[2], "Memory and utilization at each load level."),
    ]


def _measurement_table(
    context: ReportContext, ranking: ModelRanking, measurements: list[Measurement]
):
    memory_tag = figures.memory_tag(context.data, ranking.model, ranking)
    utilization_tag = next(
        (
            tag
            for tag in figures.UTILIZATION_TAGS
            if any(metric_value(m, tag) is not None for m in measurements)
        ),
        None,
    )
    ordered = sorted(
        measurements,
        key=lambda m: (m.batch_size, m.concurrency or 0, m.request_rate or 0),
    )
    header = [
        "Batch",
        "Conc.",
        "Throughput (infer/sec)",
        "p99 (ms)",
        "Avg (ms)",
        *BREAKDOWN_HEADERS,
        "Memory (MB)",
        "Util. (%)",
        "Meets constraints",
    ]
    rows, failing = [], set()
    for row_index, measurement in enumerate(ordered):
        problems = ranking.violations(measurement) if measurement.ok else ["failed"]
        if problems:
            failing.add(row_index)
        rows.append(
            _measurement_row(measurement, memory_tag, utilization_tag, problems)
        )
    widths = [0.05, 0.05, 0.095, 0.06, 0.06, 0.065, 0.065, 0.06, 0.06, 0.065]
    widths += [0.075, 0.055, 0.255]
    caption = (
        "Conc.: concurrency (or request rate per second). Client, Queue, Input, "
        "Infer, Output: client send/recv, server queue and server compute times "
        "per request; with Avg they show where the latency goes."
    )
    table = data_table(header, rows, widths, failing=failing)
    return [table, text(caption, "subtitle")]


def _measurement_row(
    measurement: Measurement,
    memory_tag: str | None,
    utilization_tag: str | None,
    problems: list[str],
) -> list[object]:
    load = (
        f"{measurement.request_rate:g}/s"
        if measurement.request_rate is not None
        else measurement.concurrency
    )
    values = [
        _number(metric_value(measurement, "perf_throughput"), 1),
        _number(metric_value(measurement, "perf_latency_p99"), 2),
        _number(metric_value(measurement, "perf_latency_avg"), 2),
        *(_number(metric_value(measurement, tag), 2) for tag in LATENCY_BREAKDOWN_TAGS),
        _number(metric_value(measurement, memory_tag) if memory_tag else None, 0),
        _number(
            metric_value(measurement, utilization_tag) if utilization_tag else None, 1
        ),
    ]
    verdict = "Yes" if not problems else "No: " + "; ".join(problems)
    return [measurement.batch_size, load, *values, verdict]


def _load_text(measurement: Measurement) -> str:
    if measurement.request_rate is not None:
        return f"request rate {measurement.request_rate:g}/s"
    return f"concurrency {measurement.concurrency}"


def _number(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}"


def _failures(measurements: list[Measurement]) -> list:
    failed = [m for m in measurements if not m.ok]
    if not failed:
        return []
    items = [text("Failed measurements", "heading")]
    for measurement in failed:
        log = (measurement.error_log or "no error output recorded").strip()
        if len(log) > ERROR_LOG_CHARACTERS:
            log = log[:ERROR_LOG_CHARACTERS] + " …"
        label = f"Batch {measurement.batch_size}, {_load_text(measurement)}"
        items.append(_labelled(label, log))
    return items


def _config(variant: Variant | None) -> list:
    if variant is None or not variant.config:
        return []
    try:
        source = config_pbtxt(variant)
    except ModelConfigError as error:
        return [text("config.pbtxt", "heading"), text(str(error))]
    return [text("config.pbtxt", "heading"), code_block(source)]
