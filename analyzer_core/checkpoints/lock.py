"""One writer per checkpoint directory.

The lock file records the writer's process id and host. The writer also holds an
``flock`` on it for its whole life, so a lock whose holder died (even by
``kill -9``) is recognised as stale: the kernel released the ``flock`` with it.
Readers of checkpoints need no lock, because every save is an atomic rename.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from analyzer_core.checkpoints.store import LOCK_FILE_NAME
from analyzer_core.errors import CheckpointError

logger = logging.getLogger(__name__)

# A new holder truncates the file before it writes its record, so a reader may
# briefly see an empty file. The reader retries for up to this long.
_RECORD_WAIT_SECONDS = 0.5
# A child that the holder was starting when it died (between fork and exec)
# shares the lock until its exec closes the descriptor. Waiting this long for
# such a child lets a run started right after a kill -9 take the lock over.
_DEAD_HOLDER_WAIT_SECONDS = 2.0
_RETRY_SECONDS = 0.02


@dataclass(frozen=True)
class LockHolder:
    """The process that holds a checkpoint directory's lock, from its record.

    ``pid`` and ``host`` are None when the record lacks them. ``exited`` is
    True when the recorded process ran on this host and has exited, so a
    process it started still keeps the lock file open.
    """

    pid: int | None
    host: str | None
    exited: bool


def find_holder(directory: Path) -> LockHolder | None:
    """Return the holder of ``directory``'s lock, or None when no process holds it.

    This does not take the lock. A lock file with a record gets a non-blocking
    shared ``flock`` probe that is released at once.

    NOTE: a ``CheckpointLock.acquire`` in another process that falls within
    that probe fails, unless the stale record names an exited process on this
    host (then it retries). A run that is taking the lock but has not yet
    written its record counts as no holder.
    """
    try:
        descriptor = os.open(directory / LOCK_FILE_NAME, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        # No lock file, or a directory that is missing or not a directory. An
        # unreadable lock file also lands here, and then acquire reports it.
        return None
    try:
        # A released lock leaves an empty file, so only a record needs a probe.
        record = _read_holder(descriptor)
        if not record:
            return None
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            # A new holder may have replaced the record since the first read.
            return _describe_holder(_read_holder(descriptor) or record)
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)


def _describe_holder(record: dict) -> LockHolder:
    pid = record.get("pid")
    host = record.get("host")
    return LockHolder(
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        host=host if isinstance(host, str) else None,
        exited=_is_dead_here(record),
    )


class CheckpointLock:
    """An exclusive, non-blocking lock on a checkpoint directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.path = directory / LOCK_FILE_NAME
        self._descriptor: int | None = None

    def acquire(self) -> None:
        """Take the lock, or raise CheckpointError naming the running holder."""
        descriptor = self._open()
        holder = _lock_or_read_holder(descriptor)
        if holder is not None:
            os.close(descriptor)
            raise CheckpointError(self._held_message(holder))
        try:
            self._record_holder(descriptor)
        except OSError as error:
            os.close(descriptor)
            raise CheckpointError(
                f"Cannot write the lock file {self.path}: {error.strerror}. Make "
                "the checkpoint directory writable or free disk space."
            ) from error
        self._descriptor = descriptor

    def _open(self) -> int:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            return os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as error:
            raise CheckpointError(
                f"Cannot create the lock file {self.path}: {error.strerror}. The "
                "checkpoint directory must be a writable directory; fix it or pick "
                "another --checkpoint-directory."
            ) from error

    def _held_message(self, holder: dict) -> str:
        pid, host = holder.get("pid", "?"), holder.get("host", "?")
        if _is_dead_here(holder):
            return (
                f"The lock file {self.path} is held open, but the profile run that "
                f"took it (pid {pid} on host {host}) is no longer running; a process "
                "it started may still hold the file. End that process (fuser "
                f"{self.path} lists it) or use another --checkpoint-directory."
            )
        return (
            f"Another profile run (pid {pid} on host {host}) is writing to "
            f"{self.directory}; stop it first or use another --checkpoint-directory."
        )

    def _record_holder(self, descriptor: int) -> None:
        previous = _read_holder(descriptor)
        if previous:
            logger.warning(
                "Taking over the lock on %s left by pid %s on host %s, which is no "
                "longer running",
                self.directory,
                previous.get("pid", "?"),
                previous.get("host", "?"),
            )
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.time(),
        }
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, json.dumps(record).encode(), 0)

    def release(self) -> None:
        """Empty the lock file and drop the lock; a second call does nothing."""
        if self._descriptor is None:
            return
        descriptor, self._descriptor = self._descriptor, None
        try:
            os.ftruncate(descriptor, 0)
        except OSError as error:
            logger.warning("Cannot empty the lock file %s: %s", self.path, error)
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)
            os.close(descriptor)

    def __enter__(self) -> CheckpointLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def _lock_or_read_holder(descriptor: int) -> dict | None:
    """Take the flock; if another process has it, return the holder's record.

    While the recorded holder is a dead process on this host, retry for up to
    _DEAD_HOLDER_WAIT_SECONDS before giving up.
    """
    deadline = time.monotonic() + _DEAD_HOLDER_WAIT_SECONDS
    while True:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return None
        except BlockingIOError:
            holder = _wait_for_holder(descriptor)
        if not _is_dead_here(holder) or time.monotonic() >= deadline:
            return holder
        time.sleep(_RETRY_SECONDS)


def _is_dead_here(holder: dict) -> bool:
    """True when the record names a process on this host that has exited.

    A zombie (exited, not yet reaped by its parent) counts as exited, because
    the kernel closed its files when it exited.
    """
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname():
        return False
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _wait_for_holder(descriptor: int) -> dict:
    deadline = time.monotonic() + _RECORD_WAIT_SECONDS
    holder = _read_holder(descriptor)
    while not holder and time.monotonic() < deadline:
        time.sleep(0.02)
        holder = _read_holder(descriptor)
    return holder


def _read_holder(descriptor: int) -> dict:
    try:
        raw = os.pread(descriptor, 4096, 0)
        holder = json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}
