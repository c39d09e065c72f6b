"""Reports page: rank the variants of a checkpoint and download the PDF reports.

The PDFs come from ``analyzer_core.reports.generate.generate_reports``, the same
function behind ``python -m analyzer_core report``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import streamlit as st

from analyzer_core.checkpoints.store import CheckpointFile, list_checkpoints
from analyzer_core.errors import AnalyzerError, CheckpointError
from analyzer_core.reports.generate import ReportOutput, generate_reports
from analyzer_core.results.ranking import RankingSettings
from dashboard import shared

logger = logging.getLogger(__name__)

OUTPUT_KEY = "report_output"
OBJECTIVES = {
    "perf_throughput": "Maximum throughput",
    "perf_latency_p99": "Minimum p99 latency",
}


@dataclass(frozen=True)
class ReportRequest:
    """The inputs of one report generation, to tell whether a result is current."""

    directory: Path
    index: int
    objective: str
    latency_budget_ms: float
    min_throughput: float
    top_n: int
    detailed: bool

    def settings(self) -> RankingSettings:
        constraints: dict[str, dict[str, float]] = {}
        if self.latency_budget_ms > 0:
            constraints["perf_latency_p99"] = {"max": self.latency_budget_ms}
        if self.min_throughput > 0:
            constraints["perf_throughput"] = {"min": self.min_throughput}
        return RankingSettings(
            objectives={self.objective: 1.0},
            constraints=constraints,
            top_n=self.top_n,
        )


def choose_checkpoint(items: list[CheckpointFile]) -> CheckpointFile:
    by_index = {item.index: item for item in items}
    index = st.selectbox(
        "Checkpoint",
        sorted(by_index, reverse=True),
        format_func=lambda option: shared.describe_checkpoint(by_index[option]),
        key=shared.directory_key("reports_index", items),
    )
    return by_index[index]


def draw_settings(directory: Path, index: int) -> ReportRequest:
    """Draw the ranking settings, where a zero limit means no constraint."""
    columns = st.columns(4)
    objective = columns[0].selectbox(
        "Rank by", list(OBJECTIVES), format_func=OBJECTIVES.get, key="reports_objective"
    )
    budget = columns[1].number_input(
        "p99 latency budget (ms)",
        min_value=0.0,
        value=0.0,
        step=1.0,
        help="Variants whose p99 latency is above this fail the constraint. "
        "0: no budget.",
        key="reports_latency_budget",
    )
    minimum = columns[2].number_input(
        "Min throughput (infer/sec)",
        min_value=0.0,
        value=0.0,
        step=10.0,
        help="Variants below this throughput fail the constraint. 0: no minimum.",
        key="reports_min_throughput",
    )
    top_n = columns[3].number_input(
        "Top N variants",
        min_value=1,
        max_value=20,
        value=3,
        step=1,
        key="reports_top_n",
    )
    detailed = st.checkbox(
        "Detailed report of each variant",
        value=True,
        help="Off: only the summary report of each model, which is faster.",
        key="reports_detailed",
    )
    return ReportRequest(
        directory, index, objective, budget, minimum, int(top_n), detailed
    )


def generate(request: ReportRequest) -> None:
    """Generate the reports and keep the output, or the error, in session state."""
    st.session_state.pop(OUTPUT_KEY, None)
    try:
        with st.spinner("Rendering charts and writing PDF reports…"):
            output = generate_reports(
                request.directory,
                shared.working_folder().resolve(),
                index=request.index,
                settings=request.settings(),
                detailed=request.detailed,
            )
    except AnalyzerError as error:
        logger.warning("Reports of checkpoint %d failed: %s", request.index, error)
        st.session_state[OUTPUT_KEY] = (request, str(error))
        return
    except OSError as error:
        logger.exception("Writing reports of checkpoint %d failed", request.index)
        message = f"Writing the reports failed: {error}. Check free disk space."
        st.session_state[OUTPUT_KEY] = (request, message)
        return
    st.session_state[OUTPUT_KEY] = (request, output)


def draw_downloads(output: ReportOutput) -> None:
    for warning in output.warnings:
        st.warning(warning)

    st.subheader("Summary reports")
    for model, path in output.summaries.items():
        draw_download(
            f"Summary of {model}", path, f"summary:{model}", prefix_folder=True
        )

    if output.detailed:
        st.subheader("Detailed reports")
        for variant, path in output.detailed.items():
            draw_download(
                f"Details of {variant}", path, f"detailed:{variant}", prefix_folder=True
            )

    if output.configs:
        st.subheader("Best configurations")
        for model, path in output.configs.items():
            best = output.best_variants.get(model)
            label = (
                f"config.pbtxt of {best}, the best {model} variant"
                if best
                else f"config.pbtxt of the best {model} variant"
            )
            draw_download(label, path, f"config:{model}", mime="text/plain")

    if output.tables:
        st.subheader("Data tables")
        for name, path in output.tables.items():
            draw_download(path.name, path, f"table:{name}", mime="text/csv")


def draw_download(
    label: str,
    path: Path,
    key: str,
    mime: str = "application/pdf",
    prefix_folder: bool = False,
) -> None:
    """Draw a download button for ``path``; see ``shared.download_name``."""
    file_name = shared.download_name(path, prefix_folder)
    columns = st.columns([2, 3])
    columns[0].download_button(
        label,
        lambda: path.read_bytes(),
        file_name=file_name,
        mime=mime,
        key=f"download:{key}",
        on_click="ignore",
        icon=":material/download:",
    )
    columns[1].caption(shared.show_path(path))


def draw_result(request: ReportRequest) -> None:
    stored = st.session_state.get(OUTPUT_KEY)
    if stored is None:
        return
    made_for, result = stored
    if made_for != request:
        st.caption("The settings changed since the last report; generate again.")
        return
    if isinstance(result, str):
        st.error(result)
        return
    draw_downloads(result)


def main() -> None:
    st.title("Reports")
    directory = shared.checkpoint_directory()
    if directory is None:
        return

    items = list_checkpoints(directory)
    if not items:
        st.info(f"No checkpoint in {shared.show_path(directory)} yet.")
        return

    item = choose_checkpoint(items)
    try:
        shared.read_checkpoint(item)
    except CheckpointError as error:
        st.error(str(error))
        st.info("Pick another checkpoint index above.")
        return

    request = draw_settings(directory, item.index)
    st.caption(
        f"Reports go to `{shared.show_path(shared.working_folder() / 'reports')}` "
        f"and data tables to `{shared.show_path(shared.working_folder() / 'results')}`."
    )
    if st.button("Generate reports", type="primary"):
        generate(request)
    draw_result(request)


main()
