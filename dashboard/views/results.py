"""Results page: charts and tables of one checkpoint, redrawn while a job runs."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd
import streamlit as st

from analyzer_core.checkpoints.store import CheckpointFile, list_checkpoints
from analyzer_core.errors import CheckpointError
from analyzer_core.records import CheckpointData
from analyzer_core.reports.figures import (
    latency_breakdown_figure,
    memory_latency_figure,
    throughput_latency_figure,
)
from dashboard import shared

logger = logging.getLogger(__name__)

LATEST = "latest"
INDEX_KEY = "results_index"


def choose_checkpoint(items: list[CheckpointFile]) -> CheckpointFile:
    """Draw the index choice, "latest" first, and return the chosen file."""
    by_index = {item.index: item for item in items}
    options = [LATEST, *sorted(by_index, reverse=True)]
    shared.keep_valid_choice(INDEX_KEY, options)

    def label(option: str | int) -> str:
        if option == LATEST:
            return f"Latest: {shared.describe_checkpoint(items[-1])}"
        return shared.describe_checkpoint(by_index[option])

    choice = st.selectbox(
        "Checkpoint",
        options,
        format_func=label,
        key=INDEX_KEY,
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
    failed = sum(1 for measurement in data.measurements if not measurement.ok)
    columns = st.columns(4)
    columns[0].metric("Checkpoint index", item.index)
    columns[1].metric("Measurements", len(data.measurements))
    columns[2].metric("Failed measurements", failed)
    columns[3].metric("Variants", len(data.variants))
    st.caption(
        f"Saved {shared.format_time(item.modified_at)} · "
        f"{shared.show_path(item.path)} · {data.machine.describe()}"
    )


def draw_charts(data: CheckpointData, model: str) -> None:
    show_all = st.toggle(
        "Show every variant",
        key="results_all_variants",
        help="Off: the top 3 variants by throughput and the default config.",
    )
    measured = [v.name for v in data.variants_of(model) if data.measurements_of(v.name)]
    variants = measured if show_all else None

    throughput = throughput_latency_figure(data, model, variants=variants)
    memory = memory_latency_figure(data, model, variants=variants)
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
        format_func=lambda name: f"{name}: {data.variants[name].describe()}",
        key=f"results_variant:{model}",
    )
    st.plotly_chart(latency_breakdown_figure(data, variant), key="results_breakdown")


TABLE_TITLES = {
    "measurements": "Measurements",
    "metrics-model-inference": "Inference",
    "metrics-model-gpu": "GPU",
    "metrics-server-only": "Server only",
}


def draw_tables(item: CheckpointFile, data: CheckpointData) -> None:
    """Draw a tab per data table. The GPU table exists only with GPU data."""
    tables = shared.checkpoint_tables(
        str(item.path), item.modified_at, item.size_bytes, data
    )
    present = {stem: frame for stem, frame in tables.items() if frame is not None}
    titles = [TABLE_TITLES[stem] for stem in present]
    for tab, (stem, frame) in zip(st.tabs(titles), present.items(), strict=True):
        with tab:
            draw_table(frame, f"{stem}-ckpt{item.index}.csv", TABLE_TITLES[stem])


def draw_table(frame: pd.DataFrame, file_name: str, title: str) -> None:
    if frame.empty:
        st.caption(f"The {title.lower()} table is empty for this checkpoint.")
        return
    st.dataframe(frame, hide_index=True)
    st.download_button(
        f"Download {file_name}",
        shared.csv_bytes(frame),
        file_name=file_name,
        mime="text/csv",
        key=f"download:{file_name}",
        on_click="ignore",
    )


def draw_results(directory: Path, refreshing: bool) -> None:
    if refreshing and shared.active_job_on(directory) is None:
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
        data = shared.read_checkpoint(item)
    except CheckpointError as error:
        draw_damaged(error, items)
        return

    draw_summary(item, data)
    models = data.models()
    if not data.measurements or not models:
        st.info(f"Checkpoint {item.index} holds no measurement yet.")
        return
    shared.keep_valid_choice("results_model", models)
    model = st.selectbox("Model", models, key="results_model")
    draw_charts(data, model)
    draw_tables(item, data)


def main() -> None:
    st.title("Results")
    directory = shared.checkpoint_directory()
    if directory is None:
        return

    interval = shared.refresh_interval(directory)
    if interval is not None:
        st.caption(
            f"A job is writing to {shared.show_path(directory)}; this page "
            f"refreshes every {interval:g} s."
        )
    results = st.fragment(run_every=interval)(draw_results)
    results(directory, refreshing=interval is not None)


main()
