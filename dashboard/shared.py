"""Helpers the dashboard pages share: paths, cached checkpoints, job state, text.

The checkpoint directory is one setting for every page. ``app.py`` draws its
text input in the sidebar under the session-state key ``checkpoint_directory``.
"""

from __future__ import annotations

import datetime
import logging
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
from analyzer_core.checkpoints.store import CheckpointFile, read_checkpoint_file
from analyzer_core.errors import CheckpointError
from analyzer_core.records import CheckpointData
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
    """Resolve the sidebar's checkpoint directory, or show the error and return None."""
    text = st.session_state.get(CHECKPOINT_DIRECTORY_KEY, DEFAULT_CHECKPOINT_DIRECTORY)
    try:
        return resolve_allowed(text, working_folder(), roots(), "Checkpoint directory")
    except AccessError as error:
        st.error(str(error))
        return None


def show_path(path: Path) -> str:
    return display_path(path, working_folder())


@st.cache_resource(max_entries=32, show_spinner=False)
def _parse_checkpoint(
    path: str, modified_at: float, size_bytes: int
) -> CheckpointData | CheckpointError:
    """Parse a checkpoint once per (path, mtime, size), caching errors as well.

    The returned data is shared between sessions, so callers must not change it.
    """
    logger.info("Parsing checkpoint %s (%d bytes)", path, size_bytes)
    try:
        return read_checkpoint_file(Path(path))
    except CheckpointError as error:
        return error


def read_checkpoint(item: CheckpointFile) -> CheckpointData:
    """Return the parsed checkpoint, from the cache when the file is unchanged."""
    result = _parse_checkpoint(str(item.path), item.modified_at, item.size_bytes)
    if isinstance(result, CheckpointError):
        raise result
    return result


@st.cache_data(max_entries=16, show_spinner=False)
def checkpoint_tables(
    path: str, modified_at: float, size_bytes: int, _data: CheckpointData
) -> dict[str, pd.DataFrame | None]:
    """Build the data tables of a checkpoint once per (path, mtime, size)."""
    return {
        "measurements": measurements_frame(_data),
        "metrics-model-inference": inference_table(_data),
        "metrics-model-gpu": gpu_table(_data),
        "metrics-server-only": server_only_table(_data),
    }


def keep_valid_choice(key: str, options: list) -> None:
    """Forget a widget's stored choice that is no longer among its options."""
    if key in st.session_state and st.session_state[key] not in options:
        del st.session_state[key]


def describe_checkpoint(item: CheckpointFile) -> str:
    """Label a checkpoint with its index, save time and measurement count."""
    saved = format_time(item.modified_at)
    try:
        data = read_checkpoint(item)
    except CheckpointError:
        return f"{item.index} · saved {saved} · damaged"
    count = len(data.measurements)
    plural = "" if count == 1 else "s"
    return f"{item.index} · saved {saved} · {count} measurement{plural}"


def loadable(items: list[CheckpointFile]) -> list[CheckpointFile]:
    """Keep the checkpoints that parse."""
    usable = []
    for item in items:
        try:
            read_checkpoint(item)
        except CheckpointError:
            continue
        usable.append(item)
    return usable


def active_job_on(directory: Path) -> jobs.Job | None:
    """Return the running job that writes to ``directory``, if any."""
    job = jobs.current_job(working_folder(), directory)
    if job is not None and job.snapshot(log_lines=0).active:
        return job
    return None


def refresh_interval(directory: Path) -> float | None:
    """Redraw every few seconds while a job writes to ``directory``, else never."""
    return REFRESH_SECONDS if active_job_on(directory) is not None else None


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


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()
