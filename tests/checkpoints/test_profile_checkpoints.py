"""Checkpoint rules of a whole ``profile`` run, against the stand-in Triton.

``analyzer_core.cli.main`` runs in this process with the profiler's server
replaced by the stand-in in ``tests/fakes`` and perf_analyzer by the stand-in
script there, so each run takes about a second. A few tests start the real
command line as a child process; they stop before Triton would start.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from checkpoint_helpers import (
    DAMAGED_CONTENTS,
    digests,
    measurement_keys,
    mount_read_only,
    mount_small_tmpfs,
    sample_data,
    this_machine_data,
    unmount,
)
from fakes import stand_in_server
from fakes.profile_runs import profile_arguments
from fakes.stand_in_server import StandInServer

from analyzer_core.checkpoints.lock import CheckpointLock
from analyzer_core.checkpoints.store import (
    LOCK_FILE_NAME,
    read_checkpoint_file,
    save_checkpoint,
)
from analyzer_core.cli import main
from analyzer_core.errors import CheckpointError
from analyzer_core.metrics.machine import cpu_model

IS_ROOT = os.geteuid() == 0
EMPTY_FILE_DIGEST = hashlib.sha256(b"").hexdigest()
# Three variants of add_sub, two concurrency values each.
FULL_RUN_KEYS = {
    ("add_sub", variant, 1, concurrency, None)
    for variant in ("add_sub_config_default", "add_sub_config_0", "add_sub_config_1")
    for concurrency in (1, 2)
}


@pytest.fixture(autouse=True)
def stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    stand_in_server.install(monkeypatch)


@pytest.fixture(autouse=True)
def package_logger() -> Iterator[None]:
    """Undo the handler ``main`` puts on the package logger, which writes to the
    stream that capsys replaces and closes after the test."""
    package = logging.getLogger("analyzer_core")
    saved = (package.handlers[:], package.level, package.propagate)
    yield
    package.handlers[:], package.level, package.propagate = saved


@pytest.fixture
def checkpoints(tmp_path: Path) -> Path:
    return tmp_path / "checkpoints"


def run_profile(
    capsys: pytest.CaptureFixture, workdir: Path, *extra: str, concurrency: str = "1,2"
) -> tuple[int, str]:
    """Run ``profile`` in this process; return its exit status and its log."""
    capsys.readouterr()
    status = main([*profile_arguments(workdir, concurrency=concurrency), *extra])
    return status, capsys.readouterr().err


def saved_lines(log: str) -> list[str]:
    return [line for line in log.splitlines() if "Saved checkpoint to" in line]


def lock_is_free(directory: Path) -> bool:
    lock = CheckpointLock(directory)
    try:
        lock.acquire()
    except CheckpointError:
        return False
    lock.release()
    return True


# -- saving ---------------------------------------------------------------------------------


def test_fresh_run_writes_index_zero(tmp_path, checkpoints, capsys):
    status, log = run_profile(capsys, tmp_path)
    assert status == 0, log
    assert sorted(digests(checkpoints)) == [LOCK_FILE_NAME, "0.ckpt"]
    data = read_checkpoint_file(checkpoints / "0.ckpt")
    assert measurement_keys(data) == FULL_RUN_KEYS


def test_saves_after_each_measurement(tmp_path, capsys):
    _, log = run_profile(capsys, tmp_path)
    lines = log.splitlines()
    measured = [i for i, line in enumerate(lines) if "INFO Measured" in line]
    saved = [i for i, line in enumerate(lines) if "Saved checkpoint to" in line]
    assert len(saved) == len(measured)
    # Each save follows its measurement before the next one starts.
    for position, (measure_line, save_line) in enumerate(zip(measured, saved, strict=True)):
        assert measure_line < save_line
        if position + 1 < len(measured):
            assert save_line < measured[position + 1]


def test_unchanged_rerun_writes_nothing(tmp_path, checkpoints, capsys):
    run_profile(capsys, tmp_path)
    before = digests(checkpoints)
    status, log = run_profile(capsys, tmp_path)
    assert status == 0, log
    assert "No new measurements; no checkpoint written" in log
    assert saved_lines(log) == []
    assert digests(checkpoints) == before


def test_run_with_new_points_writes_next_index(tmp_path, checkpoints, capsys):
    run_profile(capsys, tmp_path)
    before = digests(checkpoints)
    status, log = run_profile(capsys, tmp_path, concurrency="1,2,4")
    assert status == 0, log
    after = digests(checkpoints)
    assert sorted(after) == [LOCK_FILE_NAME, "0.ckpt", "1.ckpt"]
    assert after["0.ckpt"] == before["0.ckpt"]
    assert all(str(checkpoints / "1.ckpt") in line for line in saved_lines(log))
    keys = measurement_keys(read_checkpoint_file(checkpoints / "1.ckpt"))
    assert FULL_RUN_KEYS < keys
    assert len(keys) == 9


def test_resumed_run_skips_measured_points(tmp_path, capsys):
    run_profile(capsys, tmp_path)
    _, log = run_profile(capsys, tmp_path, concurrency="1,2,4")
    assert log.count("INFO Measured") == 3
    assert "already measured" in log


def test_run_releases_lock(tmp_path, checkpoints, capsys):
    run_profile(capsys, tmp_path)
    assert (checkpoints / LOCK_FILE_NAME).read_bytes() == b""
    assert lock_is_free(checkpoints)


# -- damaged latest checkpoint ------------------------------------------------------------


@pytest.fixture
def damaged_latest(checkpoints: Path) -> Path:
    """0.ckpt from this machine, then a truncated 1.ckpt."""
    save_checkpoint(checkpoints, 0, this_machine_data(measurement_count=1))
    damaged = checkpoints / "1.ckpt"
    damaged.write_bytes(DAMAGED_CONTENTS["truncated"])
    return damaged


def test_damaged_latest_stops_profile(tmp_path, damaged_latest, capsys):
    before = digests(damaged_latest.parent)
    status, log = run_profile(capsys, tmp_path)
    assert status == 2
    assert str(damaged_latest) in log
    assert "--checkpoint-index 0" in log
    assert StandInServer.instances == []
    after = digests(damaged_latest.parent)
    assert after.pop(LOCK_FILE_NAME) == EMPTY_FILE_DIGEST
    assert after == before


def test_chosen_index_saves_above_damaged(tmp_path, damaged_latest, capsys):
    damaged_bytes = damaged_latest.read_bytes()
    status, log = run_profile(capsys, tmp_path, "--checkpoint-index", "0")
    assert status == 0, log
    assert damaged_latest.read_bytes() == damaged_bytes
    saved = read_checkpoint_file(damaged_latest.parent / "2.ckpt")
    assert FULL_RUN_KEYS <= measurement_keys(saved)
    assert len(saved.measurements) == len(FULL_RUN_KEYS) + 1


# -- machine ----------------------------------------------------------------------------------


def test_machine_recorded(tmp_path, checkpoints, capsys):
    run_profile(capsys, tmp_path)
    machine = read_checkpoint_file(checkpoints / "0.ckpt").machine
    assert machine.cpu_model == cpu_model()
    assert machine.triton_version == stand_in_server.STAND_IN_VERSION
    assert isinstance(machine.gpus, list)


@pytest.fixture
def other_hardware(checkpoints: Path) -> Path:
    """A checkpoint measured on another CPU and GPU (Test CPU 9000, NVIDIA T4)."""
    return save_checkpoint(checkpoints, 0, sample_data(measurement_count=2))


def test_other_hardware_refused_naming_both(tmp_path, other_hardware, capsys):
    status, log = run_profile(capsys, tmp_path)
    assert status == 2
    assert "different hardware" in log
    assert "Test CPU 9000" in log
    assert "NVIDIA T4" in log
    assert cpu_model() in log
    assert "--fresh-index" in log
    assert sorted(p.name for p in other_hardware.parent.glob("*.ckpt")) == ["0.ckpt"]


def test_fresh_index_on_other_hardware(tmp_path, other_hardware, capsys):
    before = other_hardware.read_bytes()
    status, log = run_profile(capsys, tmp_path, "--fresh-index")
    assert status == 0, log
    assert other_hardware.read_bytes() == before
    fresh = read_checkpoint_file(other_hardware.parent / "1.ckpt")
    assert measurement_keys(fresh) == FULL_RUN_KEYS
    assert fresh.machine.cpu_model == cpu_model()


# -- disk errors during a run -----------------------------------------------------------------


@pytest.fixture
def small_tmpfs_checkpoints(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "checkpoints"
    directory.mkdir()
    if not mount_small_tmpfs(directory):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield directory
    finally:
        unmount(directory)


def fill_disk_before_variant(directory: Path, variant: str) -> None:
    """Fill ``directory``'s file system when the stand-in loads ``variant``."""

    def fill(name: str) -> None:
        if name != variant:
            return
        with open(directory / "filler", "wb", buffering=0) as filler:
            try:
                while True:
                    filler.write(b"\0" * 4096)
            except OSError:
                pass

    StandInServer.on_load = fill


def test_full_disk_stops_run_cleanly(tmp_path, small_tmpfs_checkpoints, capsys):
    fill_disk_before_variant(small_tmpfs_checkpoints, "add_sub_config_0")
    status, log = run_profile(capsys, tmp_path)
    assert status == 2
    path = small_tmpfs_checkpoints / "0.ckpt"
    assert f"Saving checkpoint {path} failed: the disk is full" in log
    assert "Traceback" not in log
    assert StandInServer.instances[0].events[-1] == "stop"


def test_full_disk_keeps_earlier_save(tmp_path, small_tmpfs_checkpoints, capsys):
    fill_disk_before_variant(small_tmpfs_checkpoints, "add_sub_config_0")
    run_profile(capsys, tmp_path)
    data = read_checkpoint_file(small_tmpfs_checkpoints / "0.ckpt")
    variants = {measurement.variant for measurement in data.measurements}
    assert variants == {"add_sub_config_default"}
    assert not [
        p for p in small_tmpfs_checkpoints.iterdir() if p.name.startswith(".tmp-")
    ]
    assert lock_is_free(small_tmpfs_checkpoints)


def test_full_disk_marks_status_failed(tmp_path, small_tmpfs_checkpoints, capsys):
    fill_disk_before_variant(small_tmpfs_checkpoints, "add_sub_config_0")
    run_profile(capsys, tmp_path)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed"


def test_full_disk_under_status_file_stops_server(tmp_path, small_tmpfs_checkpoints):
    arguments = profile_arguments(tmp_path)
    status_flag = arguments.index("--status-file")
    arguments[status_flag + 1] = str(small_tmpfs_checkpoints / "status.json")
    fill_disk_before_variant(small_tmpfs_checkpoints, "add_sub_config_0")
    with contextlib.suppress(OSError):
        main(arguments)
    assert StandInServer.instances[0].events[-1] == "stop"


# -- the real command line, stopped before Triton starts ---------------------------------------


def run_cli_process(workdir: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "analyzer_core", *profile_arguments(workdir), *extra],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_cli_refuses_second_writer(tmp_path, checkpoints):
    holder = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(checkpoints)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline() == "locked\n"
        finished = run_cli_process(tmp_path)
    finally:
        holder.kill()
        holder.wait(timeout=10)
        holder.stdout.close()
    assert finished.returncode == 2
    assert f"pid {holder.pid}" in finished.stderr
    assert "Traceback" not in finished.stderr


LOCK_HOLDER = """
import sys, time
from pathlib import Path
from analyzer_core.checkpoints.lock import CheckpointLock
CheckpointLock(Path(sys.argv[1])).acquire()
print("locked", flush=True)
time.sleep(120)
"""


def test_cli_damaged_latest_message(tmp_path, damaged_latest):
    finished = run_cli_process(tmp_path)
    assert finished.returncode == 2
    assert str(damaged_latest) in finished.stderr
    assert "--checkpoint-index 0" in finished.stderr
    assert "Starting Triton" not in finished.stderr
    assert "Traceback" not in finished.stderr


@pytest.mark.skipif(not IS_ROOT, reason="a read-only bind mount needs root")
def test_cli_read_only_directory_message(tmp_path, checkpoints):
    save_checkpoint(checkpoints, 0, this_machine_data())
    before = digests(checkpoints)
    if not mount_read_only(checkpoints):
        pytest.skip("read-only bind mounts are not available")
    try:
        finished = run_cli_process(tmp_path)
    finally:
        unmount(checkpoints)
    assert finished.returncode == 2
    assert str(checkpoints / LOCK_FILE_NAME) in finished.stderr
    assert "Read-only file system" in finished.stderr
    assert "Traceback" not in finished.stderr
    assert digests(checkpoints) == before
