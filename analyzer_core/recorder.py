"""A run's measurements, its checkpoint saves and its status file, kept together.

Every change goes through :class:`RunRecorder`, so the checkpoint and the status
file that the dashboard reads never disagree for long: a measurement marks the
data changed and updates the status; a save writes the run's one new index.
"""

from __future__ import annotations

import logging
from pathlib import Path

from analyzer_core.checkpoints.store import CheckpointWriter
from analyzer_core.progress import JobState, JobStatus, write_status
from analyzer_core.records import CheckpointData, Measurement

logger = logging.getLogger(__name__)


class RunRecorder:
    def __init__(
        self, data: CheckpointData, writer: CheckpointWriter, status_file: Path | None
    ) -> None:
        self.data = data
        self.writer = writer
        self.status_file = status_file
        self.status = JobStatus()
        self.changed = False
        # Successful measurements by key, so resuming a large checkpoint does not
        # scan every measurement for each load point.
        self._successes = {m.key: m for m in data.measurements if m.ok}

    def find(self, key: tuple) -> Measurement | None:
        """Return the successful measurement with this key, if any."""
        return self._successes.get(key)

    def record(self, measurement: Measurement) -> None:
        """Add a measurement, replacing an earlier failed one with the same key."""
        self.data.measurements = [
            m for m in self.data.measurements if m.ok or m.key != measurement.key
        ]
        self.data.measurements.append(measurement)
        if measurement.ok:
            self._successes.setdefault(measurement.key, measurement)
        self.changed = True

    def best_throughput(self, variant: str) -> float:
        values = [
            m.metrics.get("perf_throughput", 0.0)
            for m in self.data.measurements_of(variant)
            if m.ok
        ]
        return max(values, default=0.0)

    def save(self) -> Path | None:
        """Save to this run's index if anything changed; return the path written."""
        if not self.changed:
            return None
        path = self.writer.save(self.data)
        self.changed = False
        self.status.checkpoint_path = str(path)
        self.write_status()
        return path

    def progress(self, done: int = 0, skipped: int = 0, failed: int = 0) -> None:
        self.status.done += done
        self.status.skipped += skipped
        self.status.failed += failed
        self.write_status()

    def set_state(self, state: JobState, message: str | None = None) -> None:
        self.status.state = state
        self.status.message = message
        self.write_status()

    def write_status(self) -> None:
        if self.status_file is not None:
            write_status(self.status_file, self.status)
