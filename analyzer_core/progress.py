"""The status file a profiling run keeps up to date, for the dashboard to read.

``python -m analyzer_core profile --status-file PATH`` rewrites PATH atomically
after every change of state and every measurement, so any reader, in any
process, reads a whole document.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import asdict, dataclass, field
from enum import Enum
from pathlib import Path

from analyzer_core.files import write_atomically

logger = logging.getLogger(__name__)


class JobState(Enum):
    STARTING = "starting"
    RUNNING = "running"
    STOPPING = (
        "stopping"  # a stop request: the current perf_analyzer run finishes first
    )
    STOPPING_NOW = "stopping_now"  # the third stop request: save and exit at once
    FINISHED = "finished"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def active(self) -> bool:
        return self in (
            JobState.STARTING,
            JobState.RUNNING,
            JobState.STOPPING,
            JobState.STOPPING_NOW,
        )


@dataclass
class JobStatus:
    state: JobState = JobState.STARTING
    pid: int = field(default_factory=os.getpid)
    started_at: float = field(default_factory=time.time)
    updated_at: float = field(default_factory=time.time)
    planned: int = 0
    done: int = 0
    skipped: int = 0
    failed: int = 0
    model: str | None = None
    variant: str | None = None
    concurrency: int | None = None
    request_rate: float | None = None
    batch_size: int | None = None
    checkpoint_path: str | None = None
    message: str | None = None

    def to_json(self) -> dict:
        data = asdict(self)
        data["state"] = self.state.value
        return data

    @classmethod
    def from_json(cls, data: dict) -> JobStatus:
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        known["state"] = JobState(known.get("state", "starting"))
        return cls(**known)


def write_status(path: Path, status: JobStatus) -> None:
    """Rewrite the status file; a failure (a full disk) is logged, not raised.

    The status file only informs the dashboard, so it must not stop a run.
    """
    status.updated_at = time.time()
    try:
        write_atomically(path, json.dumps(status.to_json()).encode())
    except OSError as error:
        logger.warning(
            "Writing status file %s failed: %s", path, error.strerror or error
        )


def read_status(path: Path) -> JobStatus | None:
    """Read a status file; None when it is missing or not (yet) readable."""
    try:
        return JobStatus.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        return None
