"""Child processes in their own session, with output to a log file.

A child in its own session does not receive the terminal's Ctrl-C, so the
profiler alone decides when perf_analyzer and Triton stop. Output goes to a
file, never a pipe, so a child that writes megabytes cannot block on a full pipe.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)


def start_process(
    command: list[str],
    log_path: Path,
    environment: dict[str, str] | None = None,
    end_with_parent: bool = False,
) -> subprocess.Popen:
    """Start ``command`` (an argument list, never a shell line) logging to ``log_path``.

    With ``end_with_parent`` the child gets SIGTERM when the thread that started
    it dies (Linux's parent-death signal), so start such children from the main
    thread: a worker thread's exit would end them too.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    logger.debug("Starting %s", subprocess.list2cmdline(command))
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=environment,
            start_new_session=True,
            preexec_fn=_end_with_parent if end_with_parent else None,
        )


_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None


def _end_with_parent() -> None:
    """Ask Linux to send the child SIGTERM when the profiler dies, even by SIGKILL.

    Runs in the child between fork and exec, so it only calls into libc, which
    was loaded before the fork.
    """
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_process_group(
    process: subprocess.Popen, name: str, grace_seconds: float = 5.0
) -> None:
    """End ``process`` and its whole process group: SIGTERM, wait, then SIGKILL."""
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            logger.warning(
                "%s (pid %d) ignored SIGTERM for %.0f s; killing it",
                name,
                process.pid,
                grace_seconds,
            )
    # The leader may be gone while children in its group live on (Python-backend stubs).
    _signal_group(process, signal.SIGKILL)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        logger.error("%s (pid %d) did not exit after SIGKILL", name, process.pid)


def _signal_group(process: subprocess.Popen, signal_number: int) -> None:
    try:
        os.killpg(process.pid, signal_number)
    except (ProcessLookupError, PermissionError):
        pass


def read_tail(path: Path, max_bytes: int = 4000) -> str:
    """Return the end of a log file as text, replacing bytes that are not UTF-8."""
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - max_bytes))
            return handle.read().decode("utf-8", errors="replace")
    except OSError:
        return ""
