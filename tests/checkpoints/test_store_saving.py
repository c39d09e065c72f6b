"""Saving checkpoints: atomic replacement, one new index per run, disk errors."""

from __future__ import annotations

import errno
import json
import logging
import os
import random
import signal
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from checkpoint_helpers import (
    digests,
    mount_read_only,
    mount_small_tmpfs,
    sample_data,
    save_sample,
    unmount,
)

from analyzer_core.checkpoints.lock import CheckpointLock
from analyzer_core.checkpoints.schema import SCHEMA_VERSION
from analyzer_core.checkpoints.store import (
    CheckpointWriter,
    read_checkpoint_file,
    save_checkpoint,
)
from analyzer_core.errors import CheckpointError
from analyzer_core.files import write_atomically

IS_ROOT = os.geteuid() == 0


def temporary_files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.startswith(".tmp-"))


def fail_with(error_number: int):
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError(error_number, os.strerror(error_number))

    return fail


# -- mounts for real disk errors (root only) ---------------------------------------------


@pytest.fixture
def small_tmpfs(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs, so a test can fill the disk for real."""
    directory = tmp_path / "small"
    directory.mkdir()
    if not mount_small_tmpfs(directory):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield directory
    finally:
        unmount(directory)


@pytest.fixture
def read_only_directory(tmp_path: Path) -> Iterator[Path]:
    """A directory that rejects writes: a read-only bind mount as root, else mode 0555.

    It contains ``0.ckpt`` from before it became read-only.
    """
    directory = tmp_path / "read_only"
    directory.mkdir()
    save_sample(directory, 0)
    if IS_ROOT:
        if not mount_read_only(directory):
            pytest.skip("read-only bind mounts are not available")
        try:
            yield directory
        finally:
            unmount(directory)
    else:
        directory.chmod(0o555)
        try:
            yield directory
        finally:
            directory.chmod(0o755)


def fill_disk(directory: Path) -> None:
    """Write a filler file until the file system has no free block left."""
    with open(directory / "filler", "wb", buffering=0) as filler:
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC


# -- the file a save writes ---------------------------------------------------------------


def test_save_writes_plain_json(tmp_path):
    path = save_checkpoint(tmp_path, 0, sample_data(2))
    document = json.loads(path.read_bytes())
    assert document["schema_version"] == SCHEMA_VERSION
    assert len(document["measurements"]) == 2


def test_save_sets_saved_at(tmp_path):
    data = sample_data()
    before = time.time()
    save_checkpoint(tmp_path, 0, data)
    assert data.saved_at >= before
    assert read_checkpoint_file(tmp_path / "0.ckpt").saved_at == data.saved_at


def test_save_creates_missing_directory(tmp_path):
    path = save_checkpoint(tmp_path / "a" / "b", 3, sample_data())
    assert path == tmp_path / "a" / "b" / "3.ckpt"
    assert path.is_file()


def test_save_mode_follows_umask(tmp_path):
    previous = os.umask(0o027)
    try:
        path = save_checkpoint(tmp_path, 0, sample_data())
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_save_leaves_no_temporary_file(tmp_path):
    save_checkpoint(tmp_path, 0, sample_data())
    assert temporary_files(tmp_path) == []


# -- atomic replacement ----------------------------------------------------------------------


def test_save_order_is_fsync_rename_fsync(tmp_path, monkeypatch):
    save_sample(tmp_path, 0)
    calls: list[str] = []
    real_fsync, real_replace = os.fsync, os.replace

    def recording_fsync(descriptor: int) -> None:
        is_directory = stat.S_ISDIR(os.fstat(descriptor).st_mode)
        calls.append("fsync directory" if is_directory else "fsync file")
        real_fsync(descriptor)

    def recording_replace(source, destination) -> None:
        calls.append("rename")
        real_replace(source, destination)

    monkeypatch.setattr(os, "fsync", recording_fsync)
    monkeypatch.setattr(os, "replace", recording_replace)
    save_sample(tmp_path, 0, measurement_count=5)
    assert calls == ["fsync file", "rename", "fsync directory"]


def test_temporary_file_is_in_same_directory(tmp_path, monkeypatch):
    sources: list[Path] = []
    real_replace = os.replace

    def recording_replace(source, destination) -> None:
        sources.append(Path(source))
        real_replace(source, destination)

    monkeypatch.setattr(os, "replace", recording_replace)
    save_sample(tmp_path, 7)
    assert sources[0].parent == tmp_path
    assert sources[0].name.startswith(".tmp-7.ckpt-")


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_failed_save_keeps_previous_content(tmp_path, monkeypatch, failing):
    path = save_sample(tmp_path, 0, measurement_count=2)
    before = path.read_bytes()
    monkeypatch.setattr(os, failing, fail_with(errno.EIO))
    with pytest.raises(CheckpointError):
        save_sample(tmp_path, 0, measurement_count=9)
    assert path.read_bytes() == before
    assert temporary_files(tmp_path) == []


def test_failed_first_save_creates_no_file(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", fail_with(errno.EIO))
    with pytest.raises(CheckpointError):
        save_sample(tmp_path, 0)
    assert list(tmp_path.iterdir()) == []


def test_reader_never_sees_partial_file(tmp_path):
    path = tmp_path / "0.ckpt"
    payloads = [
        json.dumps({"n": n, "pad": "x" * (n * 50_000)}).encode() for n in range(4)
    ]
    write_atomically(path, payloads[0])
    done = threading.Event()
    seen: list[bytes] = []
    problems: list[str] = []

    def read_repeatedly() -> None:
        while not done.is_set():
            content = path.read_bytes()
            if content not in payloads:
                problems.append(f"read {len(content)} bytes matching no payload")
            seen.append(content[:10])

    reader = threading.Thread(target=read_repeatedly)
    reader.start()
    try:
        for round_number in range(200):
            write_atomically(path, payloads[round_number % len(payloads)])
    finally:
        done.set()
        reader.join()
    assert problems == []
    assert len(seen) > 50


KILLED_WRITER = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from analyzer_core.files import write_atomically

    path = Path(sys.argv[1])
    round_number = 0
    print("writing", flush=True)
    while True:
        round_number += 1
        size = (round_number % 5) * 40_000
        write_atomically(path, json.dumps({"round": round_number, "pad": "x" * size}).encode())
    """
)


def assert_whole_file(path: Path) -> None:
    document = json.loads(path.read_bytes())
    assert set(document) == {"round", "pad"}
    assert len(document["pad"]) == (document["round"] % 5) * 40_000


def test_stopped_writer_leaves_whole_file(tmp_path):
    """Freeze a saving process at 150 random instants, then kill it with SIGKILL.

    A process stopped by SIGSTOP leaves the files exactly as a SIGKILL at that
    instant would, so each freeze checks one crash point without a new process.
    """
    path = tmp_path / "0.ckpt"
    write_atomically(path, json.dumps({"round": 0, "pad": ""}).encode())
    generator = random.Random(7)
    writer = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert writer.stdout.readline() == "writing\n"
        for _ in range(150):
            time.sleep(generator.uniform(0.0, 0.01))
            writer.send_signal(signal.SIGSTOP)
            assert_whole_file(path)
            writer.send_signal(signal.SIGCONT)
        rounds_before_kill = json.loads(path.read_bytes())["round"]
    finally:
        writer.kill()
        writer.wait(timeout=10)
        writer.stdout.close()
    assert_whole_file(path)
    assert rounds_before_kill > 10


# -- one new index per run -----------------------------------------------------------------


def test_writer_takes_next_index(tmp_path):
    save_sample(tmp_path, 0)
    save_sample(tmp_path, 4)
    writer = CheckpointWriter(tmp_path, loaded_index=4)
    assert writer.index == 5


def test_writer_in_empty_directory_takes_zero(tmp_path):
    assert CheckpointWriter(tmp_path / "new", loaded_index=None).index == 0


def test_writer_later_saves_replace_same_file(tmp_path):
    save_sample(tmp_path, 0)
    before = digests(tmp_path)
    writer = CheckpointWriter(tmp_path, loaded_index=0)
    for count in (1, 2, 3):
        assert writer.save(sample_data(count)) == tmp_path / "1.ckpt"
    assert sorted(digests(tmp_path)) == ["0.ckpt", "1.ckpt"]
    assert digests(tmp_path)["0.ckpt"] == before["0.ckpt"]
    assert len(read_checkpoint_file(tmp_path / "1.ckpt").measurements) == 3


def test_writer_without_save_writes_nothing(tmp_path):
    save_sample(tmp_path, 0)
    before = digests(tmp_path)
    CheckpointWriter(tmp_path, loaded_index=0)
    assert digests(tmp_path) == before


def test_writer_logs_each_save(tmp_path, caplog):
    writer = CheckpointWriter(tmp_path, loaded_index=None)
    with caplog.at_level(logging.INFO, logger="analyzer_core.checkpoints.store"):
        writer.save(sample_data())
        writer.save(sample_data())
    saves = [r for r in caplog.records if r.getMessage().startswith("Saved checkpoint")]
    assert len(saves) == 2
    assert str(tmp_path / "0.ckpt") in saves[0].getMessage()


def test_writer_skips_index_taken_by_directory(tmp_path):
    save_sample(tmp_path, 0)
    (tmp_path / "1.ckpt").mkdir()
    assert CheckpointWriter(tmp_path, loaded_index=0).index == 2


def test_writer_above_chosen_older_index(tmp_path):
    for index in range(4):
        save_sample(tmp_path, index)
    assert CheckpointWriter(tmp_path, loaded_index=1).index == 4


def test_writer_rejects_file_that_appeared(tmp_path):
    writer = CheckpointWriter(tmp_path, loaded_index=None)
    (tmp_path / "0.ckpt").write_bytes(b"written by someone else")
    with pytest.raises(CheckpointError) as raised:
        writer.save(sample_data())
    assert "appeared" in str(raised.value)
    assert (tmp_path / "0.ckpt").read_bytes() == b"written by someone else"


def test_writer_removes_stale_temporary_files(tmp_path, caplog):
    save_sample(tmp_path, 0)
    (tmp_path / ".tmp-1.ckpt-0a1b2c3d4e5f").write_bytes(b'{"half')
    (tmp_path / ".tmp-status.json-0a1b").write_bytes(b"{}")
    with caplog.at_level(logging.INFO, logger="analyzer_core.checkpoints.store"):
        CheckpointWriter(tmp_path, loaded_index=0)
    assert temporary_files(tmp_path) == [".tmp-status.json-0a1b"]
    assert ".tmp-1.ckpt-0a1b2c3d4e5f" in caplog.text


# -- full disk and read-only directory -------------------------------------------------------


def test_full_disk_message_names_path_and_cause(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "fsync", fail_with(errno.ENOSPC))
    with pytest.raises(CheckpointError) as raised:
        save_sample(tmp_path, 3)
    message = str(raised.value)
    assert str(tmp_path / "3.ckpt") in message
    assert "the disk is full" in message
    assert "Free disk space" in message


def test_real_full_disk_keeps_previous_content(small_tmpfs):
    path = save_sample(small_tmpfs, 0, measurement_count=1)
    before = path.read_bytes()
    fill_disk(small_tmpfs)
    with pytest.raises(CheckpointError) as raised:
        save_sample(small_tmpfs, 0, measurement_count=40)
    assert "the disk is full" in str(raised.value)
    assert str(path) in str(raised.value)
    assert path.read_bytes() == before
    assert temporary_files(small_tmpfs) == []


def test_real_full_disk_creates_no_new_index(small_tmpfs):
    save_sample(small_tmpfs, 0, measurement_count=1)
    fill_disk(small_tmpfs)
    with pytest.raises(CheckpointError):
        save_sample(small_tmpfs, 1, measurement_count=40)
    assert not (small_tmpfs / "1.ckpt").exists()
    assert read_checkpoint_file(small_tmpfs / "0.ckpt").measurements


def test_read_only_directory_message(read_only_directory):
    with pytest.raises(CheckpointError) as raised:
        save_sample(read_only_directory, 1)
    message = str(raised.value)
    assert str(read_only_directory / "1.ckpt") in message
    expected = "read-only" if IS_ROOT else "permission denied"
    assert expected in message


def test_read_only_directory_keeps_checkpoint(read_only_directory):
    before = digests(read_only_directory)
    with pytest.raises(CheckpointError):
        save_sample(read_only_directory, 0, measurement_count=9)
    assert digests(read_only_directory) == before
    assert len(read_checkpoint_file(read_only_directory / "0.ckpt").measurements) == 3


def test_read_only_directory_still_loads(read_only_directory):
    writer_free = read_checkpoint_file(read_only_directory / "0.ckpt")
    assert len(writer_free.measurements) == 3


def test_lock_in_read_only_directory_names_lock_file(read_only_directory):
    with pytest.raises(CheckpointError) as raised:
        CheckpointLock(read_only_directory).acquire()
    assert str(read_only_directory / ".analyzer_core.lock") in str(raised.value)


def test_save_into_file_path_names_it(tmp_path):
    blocker = tmp_path / "not_a_directory"
    blocker.write_text("a file")
    with pytest.raises(CheckpointError) as raised:
        save_sample(blocker, 0)
    assert str(blocker / "0.ckpt") in str(raised.value)
