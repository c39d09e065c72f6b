"""The one-writer lock on a checkpoint directory, held and left by real processes."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from checkpoint_helpers import save_sample

from analyzer_core.checkpoints.lock import CheckpointLock, find_holder
from analyzer_core.checkpoints.store import LOCK_FILE_NAME, load_checkpoint
from analyzer_core.errors import CheckpointError

LOCK_LOGGER = "analyzer_core.checkpoints.lock"

# Takes the lock, reports it on stdout, then waits until killed.
HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from analyzer_core.checkpoints.lock import CheckpointLock

    CheckpointLock(Path(sys.argv[1])).acquire()
    print("locked", flush=True)
    time.sleep(120)
    """
)


# Takes the lock, then forks a child that keeps the lock file open (as a child
# between fork and exec does) for argv[2] seconds after this process dies.
FORKING_HOLDER = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path
    from analyzer_core.checkpoints.lock import CheckpointLock

    CheckpointLock(Path(sys.argv[1])).acquire()
    if os.fork() == 0:
        time.sleep(float(sys.argv[2]))
        os._exit(0)
    print("locked", flush=True)
    time.sleep(120)
    """
)


def start_holder(directory: Path, *arguments: str) -> subprocess.Popen:
    script = FORKING_HOLDER if arguments else HOLDER
    holder = subprocess.Popen(
        [sys.executable, "-c", script, str(directory), *arguments],
        stdout=subprocess.PIPE,
        text=True,
    )
    line = holder.stdout.readline()
    assert line == "locked\n", f"lock holder failed to start: {line!r}"
    return holder


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen]:
    """A live process that holds the lock on ``tmp_path``."""
    process = start_holder(tmp_path)
    try:
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()


@pytest.fixture
def stale_lock(tmp_path: Path) -> int:
    """Leave a lock whose holder was killed with SIGKILL; return the dead pid."""
    process = start_holder(tmp_path)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=10)
    process.stdout.close()
    return process.pid


def kill_processes_holding(path: Path) -> None:
    for process in psutil.process_iter():
        try:
            if any(item.path == str(path) for item in process.open_files()):
                process.kill()
        except psutil.Error:
            continue


def killed_unreaped_holder(directory: Path, child_seconds: float) -> subprocess.Popen:
    """Kill a holder whose forked child keeps the lock; leave it a zombie."""
    process = start_holder(directory, str(child_seconds))
    process.send_signal(signal.SIGKILL)
    process.stdout.close()
    deadline = time.monotonic() + 10
    while psutil.Process(process.pid).status() != psutil.STATUS_ZOMBIE:
        assert time.monotonic() < deadline, "SIGKILL did not end the lock holder"
        time.sleep(0.01)
    return process


def test_lock_waits_for_child_of_dead_holder(tmp_path, caplog):
    holder = killed_unreaped_holder(tmp_path, child_seconds=0.5)
    try:
        with caplog.at_level(logging.WARNING, logger=LOCK_LOGGER):
            with CheckpointLock(tmp_path):
                record = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
    finally:
        holder.wait(timeout=10)
    assert record["pid"] == os.getpid()
    assert f"pid {holder.pid}" in caplog.text


def test_lock_kept_by_child_of_dead_holder(tmp_path):
    holder = killed_unreaped_holder(tmp_path, child_seconds=30)
    holder.wait(timeout=10)
    try:
        with pytest.raises(CheckpointError) as raised:
            CheckpointLock(tmp_path).acquire()
    finally:
        kill_processes_holding(tmp_path / LOCK_FILE_NAME)
    message = str(raised.value)
    assert f"pid {holder.pid}" in message
    assert "no longer running" in message
    assert str(tmp_path / LOCK_FILE_NAME) in message


def test_lock_records_pid_and_host(tmp_path):
    with CheckpointLock(tmp_path):
        record = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
    assert record["pid"] == os.getpid()
    assert record["host"] == socket.gethostname()


def test_release_empties_lock_file(tmp_path):
    with CheckpointLock(tmp_path):
        pass
    assert (tmp_path / LOCK_FILE_NAME).read_bytes() == b""


def test_release_twice_is_harmless(tmp_path):
    lock = CheckpointLock(tmp_path)
    lock.acquire()
    lock.release()
    lock.release()
    assert (tmp_path / LOCK_FILE_NAME).read_bytes() == b""


def test_lock_creates_missing_directory(tmp_path):
    with CheckpointLock(tmp_path / "new" / "checkpoints"):
        assert (tmp_path / "new" / "checkpoints" / LOCK_FILE_NAME).is_file()


def test_second_holder_refused_with_pid(tmp_path, holder):
    with pytest.raises(CheckpointError) as raised:
        CheckpointLock(tmp_path).acquire()
    message = str(raised.value)
    assert f"pid {holder.pid}" in message
    assert f"host {socket.gethostname()}" in message
    assert str(tmp_path) in message


def test_second_lock_in_same_process_refused(tmp_path):
    with CheckpointLock(tmp_path):
        with pytest.raises(CheckpointError) as raised:
            CheckpointLock(tmp_path).acquire()
    assert f"pid {os.getpid()}" in str(raised.value)


def test_refused_holder_keeps_its_record(tmp_path, holder):
    with pytest.raises(CheckpointError):
        CheckpointLock(tmp_path).acquire()
    record = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
    assert record["pid"] == holder.pid


def test_stale_lock_taken_over(tmp_path, stale_lock):
    with CheckpointLock(tmp_path):
        record = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
    assert record["pid"] == os.getpid()


def test_stale_lock_takeover_warns_with_pid(tmp_path, stale_lock, caplog):
    with caplog.at_level(logging.WARNING, logger=LOCK_LOGGER):
        with CheckpointLock(tmp_path):
            pass
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert f"pid {stale_lock}" in warnings[0]
    assert "no longer running" in warnings[0]


def test_clean_release_gives_no_warning(tmp_path, caplog):
    with CheckpointLock(tmp_path):
        pass
    with caplog.at_level(logging.WARNING, logger=LOCK_LOGGER):
        with CheckpointLock(tmp_path):
            pass
    assert caplog.records == []


def test_garbage_lock_file_taken_over(tmp_path):
    (tmp_path / LOCK_FILE_NAME).write_bytes(b"\xff\x00 not json")
    with CheckpointLock(tmp_path):
        record = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
    assert record["pid"] == os.getpid()


def test_reader_needs_no_lock(tmp_path, holder):
    save_sample(tmp_path, 0, measurement_count=2)
    loaded = load_checkpoint(tmp_path)
    assert loaded is not None
    assert len(loaded.data.measurements) == 2


def test_lock_file_is_not_a_checkpoint(tmp_path, holder, caplog):
    with caplog.at_level(logging.WARNING):
        assert load_checkpoint(tmp_path) is None
    assert LOCK_FILE_NAME not in caplog.text


def test_lock_fd_not_inherited(tmp_path):
    with CheckpointLock(tmp_path):
        child = subprocess.run(
            ["ls", "-l", "/proc/self/fd"], capture_output=True, text=True, check=True
        )
    assert LOCK_FILE_NAME not in child.stdout


def test_lock_on_file_path_names_it(tmp_path):
    blocker = tmp_path / "checkpoints"
    blocker.write_text("a file, not a directory")
    with pytest.raises(CheckpointError) as raised:
        CheckpointLock(blocker).acquire()
    assert str(blocker / LOCK_FILE_NAME) in str(raised.value)


def test_find_holder_names_running_holder(tmp_path, holder):
    found = find_holder(tmp_path)
    assert found is not None
    assert found.pid == holder.pid
    assert found.host == socket.gethostname()
    assert not found.exited


def test_find_holder_leaves_lock_held(tmp_path, holder):
    find_holder(tmp_path)
    with pytest.raises(CheckpointError):
        CheckpointLock(tmp_path).acquire()
    record = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
    assert record["pid"] == holder.pid


def test_find_holder_sees_lock_of_same_process(tmp_path):
    with CheckpointLock(tmp_path):
        found = find_holder(tmp_path)
    assert found is not None
    assert found.pid == os.getpid()


def test_find_holder_none_after_release(tmp_path):
    with CheckpointLock(tmp_path):
        pass
    assert find_holder(tmp_path) is None


def test_find_holder_none_without_lock_file(tmp_path):
    assert find_holder(tmp_path) is None
    assert find_holder(tmp_path / "missing") is None
    assert not (tmp_path / LOCK_FILE_NAME).exists()


def test_find_holder_none_under_file(tmp_path):
    blocker = tmp_path / "checkpoints"
    blocker.write_text("a file, not a directory")
    assert find_holder(blocker) is None


def test_find_holder_none_for_stale_lock(tmp_path, stale_lock):
    assert find_holder(tmp_path) is None
    with CheckpointLock(tmp_path):
        record = json.loads((tmp_path / LOCK_FILE_NAME).read_text())
    assert record["pid"] == os.getpid()


def test_find_holder_flags_exited_holder(tmp_path):
    holder = killed_unreaped_holder(tmp_path, child_seconds=30)
    holder.wait(timeout=10)
    try:
        found = find_holder(tmp_path)
    finally:
        kill_processes_holding(tmp_path / LOCK_FILE_NAME)
    assert found is not None
    assert found.pid == holder.pid
    assert found.exited
