"""Compare page: what changed between two checkpoints of one directory."""

from __future__ import annotations

import logging

import pandas as pd
import streamlit as st

from analyzer_core.checkpoints.store import CheckpointFile, list_checkpoints
from analyzer_core.records import CheckpointData
from dashboard import shared, table_view
from dashboard.comparison import Comparison, compare_checkpoints

logger = logging.getLogger(__name__)

NUMBER = st.column_config.NumberColumn
COLUMNS = {
    "model": "Model",
    "variant": "Variant",
    "batch_size": "Batch size",
    "concurrency": "Concurrency",
    "request_rate": "Request rate",
    "throughput": NUMBER("Throughput (infer/sec)", format="%.1f"),
    "p99_latency_ms": NUMBER("p99 latency (ms)", format="%.2f"),
    "throughput_before": NUMBER("Throughput before", format="%.1f"),
    "throughput_after": NUMBER("Throughput after", format="%.1f"),
    "throughput_change_pct": NUMBER("Throughput change (%)", format="%+.1f"),
    "p99_ms_before": NUMBER("p99 before (ms)", format="%.2f"),
    "p99_ms_after": NUMBER("p99 after (ms)", format="%.2f"),
    "p99_ms_change_pct": NUMBER("p99 change (%)", format="%+.1f"),
}


def choose_pair(
    items: list[CheckpointFile],
) -> tuple[CheckpointFile, CheckpointFile]:
    """Draw the two index choices: by default the second newest and the newest."""
    by_index = {item.index: item for item in items}
    indices = sorted(by_index)
    columns = st.columns(2)
    before = columns[0].selectbox(
        "Before",
        indices,
        index=len(indices) - 2,
        format_func=lambda option: shared.describe_checkpoint(by_index[option]),
        key=shared.directory_key("compare_before", items),
    )
    after = columns[1].selectbox(
        "After",
        indices,
        index=len(indices) - 1,
        format_func=lambda option: shared.describe_checkpoint(by_index[option]),
        key=shared.directory_key("compare_after", items),
    )
    return by_index[before], by_index[after]


@st.cache_resource(max_entries=2, show_spinner=False)
def _compare(
    before_key: tuple[str, float, int],
    after_key: tuple[str, float, int],
    _old: CheckpointData,
    _new: CheckpointData,
) -> Comparison:
    return compare_checkpoints(_old, _new)


def cached_comparison(
    before: CheckpointFile,
    after: CheckpointFile,
    old: CheckpointData,
    new: CheckpointData,
) -> Comparison:
    """Compare two checkpoints once per pair of file versions, for every session.

    The result is shared between sessions, so its frames must be treated as
    read-only.
    """
    before_key = (str(before.path), before.modified_at, before.size_bytes)
    after_key = (str(after.path), after.modified_at, after.size_bytes)
    return _compare(before_key, after_key, old, new)


def draw_overview(result: Comparison) -> None:
    columns = st.columns(4)
    columns[0].metric("Variants added", len(result.variants_added))
    columns[1].metric("Measurements added", len(result.added))
    columns[2].metric("Measured in both", len(result.changed))
    median = result.changed["throughput_change_pct"].median()
    shown = "–" if pd.isna(median) else f"{median:+.1f} %"
    columns[3].metric("Median throughput change", shown)

    if result.variants_added:
        st.markdown("**Variants added:** " + ", ".join(result.variants_added))
    if result.variants_removed:
        st.markdown(
            "**Variants only in Before:** " + ", ".join(result.variants_removed)
        )


def draw_frames(result: Comparison, before: int, after: int) -> None:
    sections = [
        ("Measured in both", result.changed, "changed"),
        ("Added measurements", result.added, "added"),
        ("Measurements only in Before", result.removed, "removed"),
    ]
    for title, frame, stem in sections:
        st.subheader(title)
        if frame.empty:
            st.caption("None.")
            continue
        # Concurrency and request rate: a sweep uses one, so the other is empty.
        filled_columns = [name for name in frame.columns if frame[name].notna().any()]
        table_view.draw_paged_table(
            frame,
            key=f"compare:{stem}",
            column_config=COLUMNS,
            column_order=filled_columns,
        )
        file_name = f"compare-{stem}-ckpt{before}-ckpt{after}.csv"
        table_view.draw_csv_download(
            f"Download {file_name}", file_name, lambda frame=frame: frame
        )


def warn_about_hardware(before: CheckpointData, after: CheckpointData) -> None:
    if before.machine.same_hardware(after.machine):
        return
    st.warning(
        "The two checkpoints were measured on different hardware "
        f"(before: {before.machine.describe()}; after: {after.machine.describe()}), "
        "so their numbers are not like for like."
    )


def main() -> None:
    st.title("Compare")
    directory = shared.checkpoint_directory()
    if directory is None:
        return

    items = shared.loadable(list_checkpoints(directory))
    if len(items) < 2:
        st.info(
            f"{shared.show_path(directory)} holds {len(items)} checkpoint(s) that "
            "load; comparing needs two. Each profile run saves a new index."
        )
        return

    before, after = choose_pair(items)
    if before.index == after.index:
        st.info("Choose two different checkpoints.")
        return
    old = shared.read_checkpoint(before)
    new = shared.read_checkpoint(after)
    warn_about_hardware(old, new)
    result = cached_comparison(before, after, old, new)
    draw_overview(result)
    draw_frames(result, before.index, after.index)


main()
