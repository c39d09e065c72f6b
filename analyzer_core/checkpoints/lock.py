"""One writer per checkpoint directory.

The lock file records the writer's process id and host. The writer also holds an
``flock`` on it for its whole life, so a lock whose holder died (even by
``kill -9``) is recognised as stale: the kernel released the ``flock`` with it.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from pathlib import Path

from analyzer_core.checkpoints.store import LOCK_FILE_NAME
from analyzer_core.errors import CheckpointError

logger = logging.getLogger(__name__)


class CheckpointLock:
    def __init__(self, directory: Path) -> None:
        self.path = directory / LOCK_FILE_NAME
        self._descriptor: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            raise CheckpointError(
                f"Another profile run (pid {holder.get('pid', '?')} on host "
                f"{holder.get('host', '?')}) is writing to {self.path.parent}; stop it "
                "first or use another --checkpoint-directory."
            ) from None
        previous = _read_holder(descriptor)
        if previous:
            logger.warning(
                "Taking over the lock of %s left by pid %s on host %s, which is no longer running",
                self.path.parent,
                previous.get("pid", "?"),
                previous.get("host", "?"),
            )
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(record).encode(), 0)
        self._descriptor = descriptor

    def release(self) -> None:
        if self._descriptor is None:
            return
        os.ftruncate(self._descriptor, 0)
        fcntl.flock(self._descriptor, fcntl.LOCK_UN)
        os.close(self._descriptor)
        self._descriptor = None

    def __enter__(self) -> CheckpointLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()


def _read_holder(descriptor: int) -> dict:
    try:
        raw = os.pread(descriptor, 4096, 0)
        holder = json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
