"""The summary report of one model: which variant to deploy, and why.

Page one answers the question: hardware, objectives and constraints, one
sentence naming the best variant and its gain over the default config, the
ranking notes, and the throughput and memory charts. The table of every
variant at its best measurement and the best variant's config.pbtxt follow.
"""

from __future__ import annotations

import logging
from xml.sax.saxutils import escape

from analyzer_core.metrics.catalog import METRICS
from analyzer_core.reports import figures
from analyzer_core.reports.context import ReportContext
from analyzer_core.reports.pbtxt import ModelConfigError, config_pbtxt
from analyzer_core.reports.pdf import (
    CHART_PIXELS,
    build_pdf,
    chart,
    code_block,
    data_table,
    heading,
    markup,
    spacer,
    text,
)
from analyzer_core.reports.render import ChartSession
from analyzer_core.results.ranking import ModelRanking, VariantRanking
from analyzer_core.results.tables import table_file_names
from analyzer_core.results.values import (
    describe_constraints,
    format_metric,
    metric_label,
    metric_value,
)

logger = logging.getLogger(__name__)


def summary_pdf(context: ReportContext, model: str, charts: ChartSession) -> bytes:
    """Lay out the summary report of ``model`` and return the PDF bytes."""
    ranking = context.ranking(model)
    story = [
        text(f"Summary report: {model}", "title"),
        text(_subtitle(context, ranking), "subtitle"),
        spacer(),
        *_settings_section(context, ranking),
        markup(verdict_markup(ranking), "verdict"),
        *[text(note, "note") for note in ranking.notes],
        spacer(2),
        *_charts(context, ranking, charts),
        *heading("Variants at their best measurement"),
        *_variant_table(context, ranking),
        *_config_section(context, ranking),
    ]
    footer = f"Summary of {model}, {context.checkpoint_text}"
    return build_pdf(story, title=f"Summary report: {model}", footer=footer)


def _subtitle(context: ReportContext, ranking: ModelRanking) -> str:
    measured = sum(len(entry.measurements) for entry in ranking.entries)
    return (
        f"Checkpoint {context.index}, saved {context.time_text}. "
        f"{len(ranking.entries):,} variants measured with {measured:,} measurements."
    )


def _settings_section(context: ReportContext, ranking: ModelRanking) -> list:
    objectives = ", ".join(
        f"{METRICS[tag].header} (weight {weight:g})"
        for tag, weight in ranking.objectives.items()
    )
    items = [
        _labelled("Hardware", context.hardware_text()),
        _labelled("Objectives", objectives),
        _labelled("Constraints", describe_constraints(ranking.constraints)),
    ]
    if ranking.unchecked_constraints:
        unchecked = describe_constraints(ranking.unchecked_constraints)
        items.append(_labelled("Not checked (metric not collected)", unchecked))
    return items


def _labelled(label: str, value: str):
    return markup(f"<b>{escape(label)}:</b> {escape(value)}")


def verdict_markup(ranking: ModelRanking) -> str:
    """Write the verdict sentence: the best variant and its gain, as markup."""
    best = ranking.best
    if best is None:
        return _no_pass_markup(ranking)
    name = f"<b>{escape(best.name)}</b>"
    settings = f" ({escape(best.variant.describe())})" if best.variant else ""
    point = escape(_point_text(best))
    if best.is_default:
        return f"Best variant: {name}{settings}, the default config, at {point}."
    default = ranking.default
    if default is None or default.best is None:
        return (
            f"Best variant: {name}{settings}, at {point}. The default config was not "
            "measured, so there is no comparison with it."
        )
    gains = _gain_text(ranking)
    caveat = "" if default.passes else " (which fails the constraints)"
    return (
        f"Best variant: {name}{settings}, at {point}: {escape(gains)} the default "
        f"config{caveat} at {escape(_point_text(default))}."
    )


def _no_pass_markup(ranking: ModelRanking) -> str:
    closest = ranking.entries[0]
    problems = "; ".join(closest.violations)
    return (
        "<b>No variant meets the constraints.</b> The closest is "
        f"<b>{escape(closest.name)}</b> at {escape(_point_text(closest))}, "
        f"which misses them: {escape(problems)}."
    )


def _point_text(entry: VariantRanking) -> str:
    measurement = entry.best
    load = (
        f"request rate {measurement.request_rate:g}/s"
        if measurement.request_rate is not None
        else f"concurrency {measurement.concurrency}"
    )
    throughput = format_metric(
        "perf_throughput", metric_value(measurement, "perf_throughput")
    )
    latency = format_metric(
        "perf_latency_p99", metric_value(measurement, "perf_latency_p99")
    )
    batch = f"batch size {measurement.batch_size}"
    return f"{batch}, {load}: {throughput} with {latency} p99 latency"


def _gain_text(ranking: ModelRanking) -> str:
    parts = []
    for tag, gain in ranking.gain_over_default().items():
        label = metric_label(tag)
        if METRICS[tag].higher_is_better:
            word = "more" if gain >= 0 else "less"
        else:
            word = "lower" if gain >= 0 else "higher"
        parts.append(f"{abs(gain):.0f}% {word} {label}")
    if not parts:
        return "no measurable difference from"
    return " and ".join(parts) + " than"


def _charts(
    context: ReportContext, ranking: ModelRanking, charts: ChartSession
) -> list:
    width, height = CHART_PIXELS
    throughput = figures.throughput_latency_figure(context.data, ranking.model, ranking)
    memory = figures.memory_latency_figure(context.data, ranking.model, ranking)
    caption = (
        "Top variants and the default config (dashed), one point per load level; "
        "circled: the Pareto front; red dashed: constraint limits."
    )
    images = charts.pngs([(throughput, width, height), (memory, width, height)])
    if charts.error is not None:
        return [text(missing_charts_note(charts.error), "note")]
    return [
        chart(images[0], caption),
        chart(images[1], "Memory at each load level, same variants."),
    ]


def missing_charts_note(error: str) -> str:
    return f"Charts are missing from this report because rendering failed: {error}"


TABLE_HEADER = [
    "#",
    "Variant",
    "Max batch size",
    "Dynamic batching",
    "Instances",
    "Batch, conc.",
    "p99 (ms)",
    "Throughput (infer/sec)",
    "Memory (MB)",
    "Util. (%)",
    "Meets constraints",
]
TABLE_MAX_ROWS = 100
"""Ranked variants the summary table lists at most, besides the default config.

A longer table takes seconds per thousand rows to lay out, and pages to read.
The CSV tables list every variant."""
TABLE_WIDTHS = [0.035, 0.2, 0.07, 0.09, 0.085, 0.07, 0.065, 0.1, 0.08, 0.065, 0.14]


def _variant_table(context: ReportContext, ranking: ModelRanking):
    memory_tag = figures.memory_tag(context.data, ranking.model, ranking)
    utilization_tag = figures.utilization_tag(context.data, ranking.model, ranking)
    listed = listed_entries(ranking)
    rows = [
        _variant_row(position, entry, memory_tag, utilization_tag)
        for position, entry in listed
    ]
    top = {row for row, (position, _) in enumerate(listed) if position <= ranking.top_n}
    failing = {row for row, (_, entry) in enumerate(listed) if not entry.passes}
    table = data_table(
        TABLE_HEADER, rows, TABLE_WIDTHS, highlighted=top, failing=failing
    )
    caption = (
        f"Shaded: the top {ranking.top_n} charted above. Batch, conc.: client batch "
        "size and concurrency of the best measurement. Red: fails the constraints."
    )
    items = [table, text(caption, "subtitle")]
    left_out = table_cut_note(context, ranking, len(listed))
    if left_out is not None:
        items.insert(1, text(left_out, "note"))
    return items


def listed_entries(ranking: ModelRanking) -> list[tuple[int, VariantRanking]]:
    """Return the variants the summary table lists, with their 1-based ranks.

    These are the first TABLE_MAX_ROWS variants, and the default config
    after them when it ranks lower, because the verdict compares with it.
    """
    listed = list(enumerate(ranking.entries[:TABLE_MAX_ROWS], start=1))
    default = ranking.default
    if default is not None:
        position = ranking.position(default.name)
        if position is not None and position > TABLE_MAX_ROWS:
            listed.append((position, default))
    return listed


def table_cut_note(
    context: ReportContext, ranking: ModelRanking, listed: int
) -> str | None:
    """Say how many ranked variants the table leaves out, or return None."""
    left_out = len(ranking.entries) - listed
    if left_out <= 0:
        return None
    extra = " and the default config" if listed > TABLE_MAX_ROWS else ""
    inference_csv = table_file_names(context.index)["inference"]
    return (
        f"The table lists the top {TABLE_MAX_ROWS} of {len(ranking.entries):,} "
        f"ranked variants{extra}; the other {left_out:,} are left out. The CSV "
        f"table results/{inference_csv} that the report command writes lists "
        "every measurement of every variant."
    )


def _variant_row(
    position: int,
    entry: VariantRanking,
    memory_tag: str | None,
    utilization_tag: str | None,
) -> list[object]:
    variant, best = entry.variant, entry.best
    name = entry.name + (" (default)" if entry.is_default else "")
    load = best.concurrency if best.request_rate is None else f"{best.request_rate:g}/s"
    verdict = "Yes" if entry.passes else "No: " + "; ".join(entry.violations)
    settings = ["?", "?", "?"]
    if variant is not None:
        settings = [
            variant.max_batch_size,
            "Yes" if variant.dynamic_batching else "No",
            f"{variant.instance_count} {variant.instance_kind}",
        ]
    return [
        position,
        name,
        *settings,
        f"{best.batch_size}, {load}",
        _number(metric_value(best, "perf_latency_p99"), 2),
        _number(metric_value(best, "perf_throughput"), 1),
        _number(metric_value(best, memory_tag) if memory_tag else None, 0),
        _number(metric_value(best, utilization_tag) if utilization_tag else None, 1),
        verdict,
    ]


def _number(value: float | None, decimals: int) -> str:
    return "n/a" if value is None else f"{value:,.{decimals}f}"


def best_config_text(ranking: ModelRanking) -> str | None:
    """Return the best variant's config.pbtxt text, or None if it cannot be made."""
    best = ranking.best
    if best is None or best.variant is None or not best.variant.config:
        return None
    try:
        return config_pbtxt(best.variant)
    except ModelConfigError as error:
        logger.warning("%s", error)
        return None


def _config_section(context: ReportContext, ranking: ModelRanking) -> list:
    source = best_config_text(ranking)
    if source is None:
        reason = (
            "No variant meets the constraints, so no config is recommended."
            if ranking.best is None
            else "The best variant's model config is not in the checkpoint."
        )
        return [text("config.pbtxt", "heading"), text(reason)]
    return [
        text(f"config.pbtxt of {ranking.best.name}", "heading"),
        text(
            f"Also written to ckpt{context.index}/config.pbtxt beside this PDF.",
            "subtitle",
        ),
        spacer(1),
        code_block(source),
    ]
