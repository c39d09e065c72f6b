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
    process: subprocess.Popen,
    name: str,
    grace_seconds: float = 5.0,
    shared_memory_prefix: str | None = None,
) -> None:
    """End ``process`` and its whole process group: SIGTERM, wait, then SIGKILL.

    A killed process cannot remove its POSIX shared memory, so with
    ``shared_memory_prefix`` the files under /dev/shm with that prefix that a
    member of the group maps at the time of SIGKILL are removed afterwards.
    """
    if process.poll() is None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=grace_seconds)
        except subprocess.TimeoutExpired:
            logger.warning(
                "%s (pid %d) still runs %.1f s after SIGTERM; sending SIGKILL",
                name,
                process.pid,
                grace_seconds,
            )
    left_in_shm: set[Path] = set()
    if shared_memory_prefix is not None and _group_exists(process.pid):
        # Stopped members cannot create a region between the scan and SIGKILL.
        _signal_group(process, signal.SIGSTOP)
        left_in_shm = mapped_shared_memory(process.pid, shared_memory_prefix)
    # The leader may be gone while children in its group live on (Python-backend stubs).
    _signal_group(process, signal.SIGKILL)
    try:
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        logger.error("%s (pid %d) did not exit after SIGKILL", name, process.pid)
    for path in sorted(left_in_shm):
        try:
            path.unlink()
        except FileNotFoundError:
            continue
        except OSError as error:
            logger.warning(
                "Removing %s, left by the killed %s, failed: %s", path, name, error
            )
            continue
        logger.info("Removed %s, left by the killed %s", path, name)


def _group_exists(process_group: int) -> bool:
    try:
        os.killpg(process_group, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def mapped_shared_memory(process_group: int, prefix: str) -> set[Path]:
    """Return the files under /dev/shm starting with ``prefix`` that a process
    in ``process_group`` maps, read from /proc (Linux only; elsewhere empty)."""
    found: set[Path] = set()
    try:
        entries = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return found
    path_prefix = f"/dev/shm/{prefix}"
    for entry in entries:
        pid = int(entry)
        try:
            if os.getpgid(pid) != process_group:
                continue
            with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as maps:
                for line in maps:
                    fields = line.rstrip("\n").split(maxsplit=5)
                    # A name already unlinked shows as "PATH (deleted)".
                    if len(fields) == 6 and fields[5].startswith(path_prefix):
                        if not fields[5].endswith(" (deleted)"):
                            found.add(Path(fields[5]))
        except OSError:
            continue
    return found


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
