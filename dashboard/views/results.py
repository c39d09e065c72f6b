"""Results page: charts and tables of one checkpoint, redrawn while a job runs."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from analyzer_core.checkpoints.store import CheckpointFile, list_checkpoints
from analyzer_core.errors import CheckpointError
from analyzer_core.metrics.catalog import METRICS
from analyzer_core.records import CheckpointData
from analyzer_core.reports.figures import (
    latency_breakdown_figure,
    memory_latency_figure,
    throughput_latency_figure,
)
from dashboard import shared, table_view

logger = logging.getLogger(__name__)

LATEST = "latest"
INDEX_KEY = "results_index"


def choose_checkpoint(items: list[CheckpointFile]) -> CheckpointFile:
    """Draw the index choice, "latest" first, and return the chosen file."""
    by_index = {item.index: item for item in items}
    options = [LATEST, *sorted(by_index, reverse=True)]
    key = shared.directory_key(INDEX_KEY, items)
    shared.keep_valid_choice(key, options)

    def label(option: str | int) -> str:
        if option == LATEST:
            return f"Latest: {shared.describe_checkpoint(items[-1])}"
        return shared.describe_checkpoint(by_index[option])

    choice = st.selectbox(
        "Checkpoint",
        options,
        format_func=label,
        key=key,
        help="Latest follows new checkpoints while a job runs.",
    )
    return items[-1] if choice == LATEST else by_index[choice]


def draw_damaged(error: CheckpointError, items: list[CheckpointFile]) -> None:
    st.error(str(error))
    usable = [str(item.index) for item in shared.loadable(items)]
    if usable:
        st.info(f"Pick another checkpoint above; these load: {', '.join(usable)}.")
    else:
        st.info("No checkpoint in this directory loads; start a new run.")


def draw_summary(item: CheckpointFile, data: CheckpointData) -> None:
    summary = shared.summarize_checkpoint(item)
    columns = st.columns(4)
    columns[0].metric("Checkpoint index", item.index)
    columns[1].metric("Measurements", summary.measurements)
    columns[2].metric("Failed measurements", summary.failed)
    columns[3].metric("Variants", len(data.variants))
    # The time the profiler recorded in the file, which a copy keeps, and the
    # file's modification time for checkpoints without one.
    saved = data.saved_at if data.saved_at is not None else item.modified_at
    st.caption(
        f"Saved {shared.format_time(saved)} · "
        f"{shared.show_path(item.path)} · {data.machine.describe()}"
    )


def best_variant(item: CheckpointFile, part: CheckpointData, model: str) -> str | None:
    """Name the variant ranked first by throughput, as the summary report does.

    The inference table lists variants best first, so its first row is read
    from the cached table instead of ranking the measurements again.
    """
    inference = shared.model_tables(item, model, part).get("metrics-model-inference")
    if inference is None or inference.empty:
        return None
    best = inference.iloc[0]
    name = str(best["Model Config Path"])
    throughput = best[METRICS["perf_throughput"].header]
    variant = part.variants.get(name)
    described = f" ({variant.describe()})" if variant is not None else ""
    st.markdown(
        f"Best variant by throughput: **{name}**{described}, "
        f"{throughput:,.1f} infer/sec"
    )
    return name


def draw_charts(part: CheckpointData, model: str, best: str | None) -> None:
    """Draw the charts of ``model`` from its part of the checkpoint."""
    show_all = st.toggle(
        "Show every variant",
        key="results_all_variants",
        help="Off: the top 3 variants by throughput and the default config.",
    )
    measured_variants = {m.variant for m in part.measurements}
    measured = [v.name for v in part.variants_of(model) if v.name in measured_variants]
    variants = measured if show_all else None

    throughput = throughput_latency_figure(part, model, variants=variants)
    memory = memory_latency_figure(part, model, variants=variants)
    left, right = st.columns(2) if memory is not None else (st.container(), None)
    left.plotly_chart(throughput, key="results_throughput")
    if right is not None:
        right.plotly_chart(memory, key="results_memory")

    if not measured:
        return
    shared.keep_valid_choice(f"results_variant:{model}", measured)
    variant = st.selectbox(
        "Variant for the latency breakdown",
        measured,
        index=measured.index(best) if best in measured else 0,
        format_func=lambda name: f"{name}: {part.variants[name].describe()}",
        key=f"results_variant:{model}",
    )
    st.plotly_chart(latency_breakdown_figure(part, variant), key="results_breakdown")


TABLE_TITLES = {
    "measurements": "Measurements",
    "metrics-model-inference": "Inference",
    "metrics-model-gpu": "GPU",
    "metrics-server-only": "Server only",
}


def draw_tables(
    item: CheckpointFile,
    data: CheckpointData,
    parts: dict[str, CheckpointData],
    model: str,
) -> None:
    """Draw a tab per data table with the rows of ``model``.

    The GPU table exists only with GPU data. Each tab offers the model's rows
    and the whole checkpoint's table as CSV, both built when clicked.
    """
    tables = shared.model_tables(item, model, parts[model])
    present = {stem: frame for stem, frame in tables.items() if frame is not None}
    titles = [TABLE_TITLES[stem] for stem in present]
    for tab, (stem, frame) in zip(st.tabs(titles), present.items(), strict=True):
        with tab:
            draw_table(item, data, parts, model, stem, frame)


def draw_table(
    item: CheckpointFile,
    data: CheckpointData,
    parts: dict[str, CheckpointData],
    model: str,
    stem: str,
    frame: pd.DataFrame,
) -> None:
    title = TABLE_TITLES[stem]
    if frame.empty:
        st.caption(f"The {title.lower()} table of {model} is empty in this checkpoint.")
    else:
        table_view.draw_paged_table(frame, key=f"results:{stem}")

    whole_name = f"{stem}-ckpt{item.index}.csv"
    if stem == "metrics-server-only":
        # The server-only table does not depend on the model.
        if not frame.empty:
            table_view.draw_csv_download(
                f"Download {whole_name}", whole_name, lambda: frame
            )
        return

    left, right = st.columns(2)
    with left:
        table_view.draw_csv_download(
            f"Download {whole_name}",
            whole_name,
            lambda: shared.whole_table(stem, data, parts),
        )
    if not frame.empty:
        model_name = f"{stem}-{model}-ckpt{item.index}.csv"
        with right:
            table_view.draw_csv_download(
                f"Download {model_name}", model_name, lambda: frame
            )


def draw_results(directory: Path, refreshing: bool) -> None:
    if refreshing and not shared.directory_busy(directory):
        st.rerun()

    items = list_checkpoints(directory)
    if not items:
        st.info(
            f"No checkpoint in {shared.show_path(directory)} yet. Start a run on the "
            "Profile page, or set another checkpoint directory in the sidebar."
        )
        return

    item = choose_checkpoint(items)
    try:
        loaded = shared.load_checkpoint(item)
    except CheckpointError as error:
        draw_damaged(error, items)
        return

    data, parts = loaded.data, loaded.parts
    draw_summary(item, data)
    models = list(parts)
    if not data.measurements or not models:
        st.info(f"Checkpoint {item.index} holds no measurement yet.")
        return
    shared.keep_valid_choice("results_model", models)
    model = st.selectbox(
        "Model",
        models,
        key="results_model",
        help="The charts and tables show this model's variants and measurements.",
    )
    best = best_variant(item, parts[model], model)
    draw_charts(parts[model], model, best)
    draw_tables(item, data, parts, model)


def main() -> None:
    st.title("Results")
    directory = shared.checkpoint_directory()
    if directory is None:
        return

    interval = shared.refresh_interval(directory)
    if interval is not None:
        st.caption(
            f"A profile run is writing to {shared.show_path(directory)}, so this "
            f"page refreshes every {interval:g} s."
        )
    results = st.fragment(run_every=interval)(draw_results)
    results(directory, refreshing=interval is not None)


main()
