"""Helpers the dashboard pages share: paths, cached checkpoints, job state, text.

The checkpoint directory is one setting for every page. ``app.py`` draws its
text input in the sidebar under the session-state key ``checkpoint_directory``.
"""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import streamlit as st

from analyzer_core import jobs
from analyzer_core.access import (
    AccessError,
    allowed_roots,
    display_path,
    resolve_allowed,
)
from analyzer_core.checkpoints.lock import find_holder
from analyzer_core.checkpoints.store import CheckpointFile, read_checkpoint_file
from analyzer_core.errors import CheckpointError
from analyzer_core.records import CheckpointData, Measurement, Variant
from analyzer_core.results.tables import (
    gpu_table,
    inference_table,
    measurements_frame,
    server_only_table,
)

logger = logging.getLogger(__name__)

CHECKPOINT_DIRECTORY_KEY = "checkpoint_directory"
DEFAULT_CHECKPOINT_DIRECTORY = "checkpoints"
# How often a page redraws its job status or results while a job runs.
REFRESH_SECONDS = 2.0


def working_folder() -> Path:
    """Return the folder the dashboard was started in; relative paths start here."""
    return Path.cwd()


def roots() -> list[Path]:
    return allowed_roots(working_folder())


def default_checkpoint_directory() -> str:
    """Return the newest job's checkpoint directory, else ``checkpoints``.

    A new tab then opens on the directory that a running job writes to.
    """
    folder = working_folder()
    job = jobs.current_job(folder)
    if job is None:
        return DEFAULT_CHECKPOINT_DIRECTORY
    return display_path(Path(job.record.checkpoint_directory), folder)


def checkpoint_directory() -> Path | None:
    """Resolve the sidebar's checkpoint directory, or show the error and return None.

    A directory that does not exist yet is accepted, because a profile run
    creates it. A path that is a file, or lies under one, is rejected.
    """
    text = st.session_state.get(CHECKPOINT_DIRECTORY_KEY, DEFAULT_CHECKPOINT_DIRECTORY)
    try:
        directory = resolve_allowed(
            text, working_folder(), roots(), "Checkpoint directory"
        )
    except AccessError as error:
        st.error(str(error))
        return None

    blocker = find_non_directory(directory)
    if blocker is None:
        return directory
    if blocker == directory:
        st.error(
            f"Checkpoint directory {show_path(directory)} is a file, not a "
            "directory. Choose a directory in the sidebar."
        )
    else:
        st.error(
            f"Checkpoint directory {show_path(directory)} is inside "
            f"{show_path(blocker)}, which is a file, not a directory. Choose a "
            "directory in the sidebar."
        )
    return None


def find_non_directory(path: Path) -> Path | None:
    """Return ``path`` or its nearest existing ancestor if that is not a directory.

    Returns None when the nearest existing one is a directory, or when a
    permission error hides it.
    """
    for candidate in (path, *path.parents):
        try:
            if candidate.exists():
                return None if candidate.is_dir() else candidate
        except OSError:
            return None
    return None


def show_path(path: Path) -> str:
    return display_path(path, working_folder())


# Parsed checkpoints kept per server process and shared by every session. The
# Compare page needs two at once. Parsing the 100,000-measurement checkpoint of
# bench/dashboard_bench.py raised the process RSS by about 195 MB, so the bound
# keeps switching between checkpoints from growing the server without limit.
PARSED_CHECKPOINTS_KEPT = 3
# Per-model tables kept per process. One model's tables are small unless that
# model alone has tens of thousands of measurements.
MODEL_TABLES_KEPT = 8
# Measurement counts are a few bytes each, so labels of many checkpoints stay
# cached after their parsed data has been evicted.
SUMMARIES_KEPT = 512


@dataclass(frozen=True)
class LoadedCheckpoint:
    """A parsed checkpoint and its per-model parts (see ``split_by_model``).

    Both are shared between sessions and threads, so callers must not change
    them. They live in one cache entry, so the parts never refer to the
    measurements of an evicted copy of ``data``.
    """

    data: CheckpointData
    parts: dict[str, CheckpointData]


@dataclass(frozen=True)
class CheckpointSummary:
    """Counts and save time shown in checkpoint labels, or the parse error of a
    damaged file."""

    measurements: int = 0
    failed: int = 0
    error: str | None = None
    saved_at: float | None = None


@st.cache_resource(max_entries=PARSED_CHECKPOINTS_KEPT, show_spinner=False)
def _load_checkpoint(
    path: str, modified_at: float, size_bytes: int
) -> LoadedCheckpoint | CheckpointError:
    """Parse a checkpoint once per (path, mtime, size), caching errors as well."""
    logger.info("Parsing checkpoint %s (%d bytes)", path, size_bytes)
    try:
        data = read_checkpoint_file(Path(path))
    except CheckpointError as error:
        return error
    return LoadedCheckpoint(data, split_by_model(data))


def load_checkpoint(item: CheckpointFile) -> LoadedCheckpoint:
    """Return the parsed checkpoint and its per-model parts, cached per file version.

    Raises CheckpointError if the file does not parse.
    """
    result = _load_checkpoint(str(item.path), item.modified_at, item.size_bytes)
    if isinstance(result, CheckpointError):
        raise result
    return result


def read_checkpoint(item: CheckpointFile) -> CheckpointData:
    """Return the parsed checkpoint, from the cache when the file is unchanged."""
    return load_checkpoint(item).data


@st.cache_resource(max_entries=SUMMARIES_KEPT, show_spinner=False)
def _summarize_checkpoint(
    path: str, modified_at: float, size_bytes: int
) -> CheckpointSummary:
    result = _load_checkpoint(path, modified_at, size_bytes)
    if isinstance(result, CheckpointError):
        return CheckpointSummary(error=str(result))
    measurements = result.data.measurements
    failed = sum(1 for measurement in measurements if not measurement.ok)
    return CheckpointSummary(
        measurements=len(measurements), failed=failed, saved_at=result.data.saved_at
    )


def summarize_checkpoint(item: CheckpointFile) -> CheckpointSummary:
    """Count the measurements of a checkpoint, cached per file version."""
    return _summarize_checkpoint(str(item.path), item.modified_at, item.size_bytes)


def split_by_model(data: CheckpointData) -> dict[str, CheckpointData]:
    """Split ``data`` into one checkpoint per model, in the order of ``models()``.

    Each part has the model's variants and measurements, and shares the
    machine and server-only metrics of ``data``. Figures, ranking and tables of
    one model give the same result on its part as on the whole checkpoint,
    without a pass over every other model's measurements.
    """
    variants: dict[str, dict[str, Variant]] = defaultdict(dict)
    for name, variant in data.variants.items():
        variants[variant.model][name] = variant
    measurements: dict[str, list[Measurement]] = defaultdict(list)
    for measurement in data.measurements:
        measurements[measurement.model].append(measurement)
    return {
        model: CheckpointData(
            machine=data.machine,
            variants=variants[model],
            measurements=measurements[model],
            server_only=data.server_only,
            created_at=data.created_at,
            saved_at=data.saved_at,
            source=data.source,
        )
        for model in data.models()
    }


# Builders of the data tables, by the stem of their CSV file name. The GPU
# table builder returns None without GPU data.
TABLE_BUILDERS: dict[str, Callable[[CheckpointData], pd.DataFrame | None]] = {
    "measurements": measurements_frame,
    "metrics-model-inference": inference_table,
    "metrics-model-gpu": gpu_table,
    "metrics-server-only": server_only_table,
}


@st.cache_resource(max_entries=MODEL_TABLES_KEPT, show_spinner=False)
def _model_tables(
    path: str, modified_at: float, size_bytes: int, model: str, _part: CheckpointData
) -> dict[str, pd.DataFrame | None]:
    return {stem: build(_part) for stem, build in TABLE_BUILDERS.items()}


def model_tables(
    item: CheckpointFile, model: str, part: CheckpointData
) -> dict[str, pd.DataFrame | None]:
    """Return the cached data tables of one model's part of a checkpoint.

    The frames are shared between sessions and threads, so callers must treat
    them as read-only: select or copy rows, never assign into them.
    """
    key = (str(item.path), item.modified_at, item.size_bytes)
    return _model_tables(*key, model, part)


# Tables that list each model's rows together, in the order of models().
MODEL_ORDERED_TABLES = ("metrics-model-inference", "metrics-model-gpu")


def whole_table(
    stem: str, data: CheckpointData, parts: dict[str, CheckpointData]
) -> pd.DataFrame | None:
    """Build the table ``stem`` of the whole checkpoint, for a CSV download.

    The inference and GPU tables rank every model, and ranking one model on
    the whole checkpoint passes over every measurement. For the bench's
    100,000-measurement checkpoint of 200 models, that took 9.5 s on a shared
    2-core machine. The two tables are therefore joined from the
    per-model ``parts`` instead, unless the parts disagree on the columns
    (one model measured by request rate, another by concurrency), where the
    whole table's load column could differ from theirs.
    """
    build = TABLE_BUILDERS[stem]
    if stem not in MODEL_ORDERED_TABLES:
        return build(data)
    frames = [build(part) for part in parts.values()]
    if any(frame is None for frame in frames):
        return build(data)
    if len({tuple(frame.columns) for frame in frames}) > 1:
        return build(data)
    filled = [frame for frame in frames if not frame.empty]
    if not filled:
        return frames[0] if frames else build(data)
    return pd.concat(filled, ignore_index=True)


def download_name(path: Path, prefix_folder: bool) -> str:
    """Return the saved file name of ``path``. With ``prefix_folder`` it starts
    with the model or variant folder, so downloads of reports of different
    models or variants do not overwrite each other."""
    return f"{path.parent.name}-{path.name}" if prefix_folder else path.name


def directory_key(name: str, items: list[CheckpointFile]) -> str:
    """Return a widget key that changes with the checkpoint directory.

    A checkpoint selector keyed only by ``name`` keeps its chosen index and its
    old label when the user switches directories, so each directory gets its
    own widget, which starts at its default choice.
    """
    directory = items[0].path.parent if items else ""
    return f"{name}:{directory}"


def keep_valid_choice(key: str, options: list) -> None:
    """Forget a widget's stored choice that is no longer among its options."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def describe_checkpoint(item: CheckpointFile) -> str:
    """Label a checkpoint with its index, save time and measurement count.

    The save time is the one recorded in the file, which a copy keeps. A
    damaged file, or one without it, shows its modification time.
    """
    summary = summarize_checkpoint(item)
    saved_at = summary.saved_at if summary.saved_at is not None else item.modified_at
    saved = format_time(saved_at)
    if summary.error is not None:
        return f"{item.index} · saved {saved} · damaged"
    count = summary.measurements
    plural = "" if count == 1 else "s"
    return f"{item.index} · saved {saved} · {count} measurement{plural}"


def loadable(items: list[CheckpointFile]) -> list[CheckpointFile]:
    """Keep the checkpoints that parse."""
    return [item for item in items if summarize_checkpoint(item).error is None]


def active_job_on(directory: Path) -> jobs.Job | None:
    """Return the running job that writes to ``directory``, if any."""
    job = jobs.current_job(working_folder(), directory)
    if job is not None and job.snapshot(log_lines=0).active:
        return job
    return None


def directory_busy(directory: Path) -> bool:
    """Tell whether a profile run writes to ``directory``.

    Besides this dashboard's jobs, that includes a run started from the command
    line, found by the lock it holds on the directory.
    """
    return active_job_on(directory) is not None or find_holder(directory) is not None


def refresh_interval(directory: Path) -> float | None:
    """Redraw every few seconds while a profile run writes to ``directory``."""
    return REFRESH_SECONDS if directory_busy(directory) else None


def format_time(timestamp: float) -> str:
    moment = datetime.datetime.fromtimestamp(timestamp)
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float) -> str:
    """Write a duration as ``1 h 02 min 05 s``, ``2 min 05 s`` or ``7 s``."""
    total = int(round(seconds))
    hours, remainder = divmod(total, 3600)
    minutes, secs = divmod(remainder, 60)
    if hours:
        return f"{hours} h {minutes:02d} min {secs:02d} s"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"
