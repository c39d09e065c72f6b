"""Stopping a local Triton: unloads finish before SIGTERM, and a stop-now request
ends start-up and model loads at once. Against the real tritonserver, except
the process-group test, which uses a small Python child."""

from __future__ import annotations

import shutil
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import EXAMPLE_REPOSITORY

from analyzer_core.processes import (
    mapped_shared_memory,
    start_process,
    stop_process_group,
)
from analyzer_core.stop import StopNow
from analyzer_core.triton.server import LocalTritonServer, RemoteTritonServer

SHM_PREFIX = "triton_python_backend_shm_region_"

# Keeps a shared memory file mapped and ignores SIGTERM, so only SIGKILL ends it.
HOLDER = """
import mmap, os, signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
descriptor = os.open(sys.argv[1], os.O_CREAT | os.O_RDWR)
os.ftruncate(descriptor, 4096)
region = mmap.mmap(descriptor, 4096)
print("mapped", flush=True)
time.sleep(120)
"""


class StopFlag:
    """A stop-now request that a test raises, on a timer or at once."""

    def __init__(self) -> None:
        self.requested = threading.Event()

    def __call__(self) -> bool:
        return self.requested.is_set()

    def set_after(self, seconds: float) -> None:
        threading.Timer(seconds, self.requested.set).start()


@pytest.fixture
def repository(tmp_path: Path) -> Path:
    """A model repository with a copy of add_sub, so Triton writes nothing into
    the bundled example."""
    destination = tmp_path / "repository"
    shutil.copytree(EXAMPLE_REPOSITORY / "add_sub", destination / "add_sub")
    return destination


def wait_for_text(path: Path, text: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.is_file() and text in path.read_text():
            return
        time.sleep(0.02)
    raise AssertionError(f"{text!r} not in {path} after {timeout:.0f} s")


@pytest.mark.slow
def test_stop_waits_for_requested_unload(repository, tmp_path):
    log_path = tmp_path / "tritonserver.log"
    server = LocalTritonServer(repository, log_path)
    server.start(timeout=180)
    process = server.process
    try:
        server.load_model("add_sub")
        server.unload_model("add_sub")
    finally:
        server.stop()
    log = log_path.read_text()
    assert process.returncode == 0
    assert "successfully unloaded 'add_sub'" in log
    assert log.index("successfully unloaded 'add_sub'") < log.index("Signal (15)")
    # Triton counts live models once a second after SIGTERM, so none may be left then.
    assert "Found 1 live models" not in log


@pytest.mark.slow
def test_stop_unloads_ready_model(repository, tmp_path):
    log_path = tmp_path / "tritonserver.log"
    server = LocalTritonServer(repository, log_path)
    server.start(timeout=180)
    process = server.process
    try:
        server.load_model("add_sub")
    finally:
        server.stop()
    log = log_path.read_text()
    assert process.returncode == 0
    assert log.index("successfully unloaded 'add_sub'") < log.index("Signal (15)")


@pytest.mark.slow
def test_stop_request_during_start(repository, tmp_path):
    stop = StopFlag()
    stop.requested.set()
    server = LocalTritonServer(
        repository, tmp_path / "tritonserver.log", stop_requested=stop
    )
    started = time.monotonic()
    with pytest.raises(StopNow):
        server.start(timeout=180)
    assert time.monotonic() - started < 2.0
    assert server.process is None
    assert server.pid is None


@pytest.mark.slow
def test_stop_request_abandons_load(repository, tmp_path):
    stop = StopFlag()
    log_path = tmp_path / "tritonserver.log"
    server = LocalTritonServer(repository, log_path, stop_requested=stop)
    server.start(timeout=180)
    process = server.process
    regions: set[Path] = set()
    try:
        # Loading add_sub starts two Python-backend stubs. On the 2-CPU
        # development machine that took 1.2-2 s.
        stop.set_after(0.2)
        started = time.monotonic()
        with pytest.raises(StopNow):
            server.load_model("add_sub")
        abandoned_after = time.monotonic() - started
        regions = mapped_shared_memory(process.pid, SHM_PREFIX)
    finally:
        stopping = time.monotonic()
        server.stop()
        stop_seconds = time.monotonic() - stopping
    assert abandoned_after < 0.7
    assert stop_seconds < 2.0
    assert process.returncode is not None
    assert [path for path in regions if path.exists()] == []


needs_shm = pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="needs /dev/shm")


@needs_shm
def test_kill_removes_mapped_shared_memory(tmp_path):
    prefix = f"analyzer_core_test_{uuid.uuid4().hex}_"
    region = Path("/dev/shm") / f"{prefix}0"
    unrelated = Path("/dev/shm") / f"{prefix}unmapped"
    unrelated.write_bytes(b"")
    log_path = tmp_path / "holder.log"
    process = start_process(
        [sys.executable, "-c", HOLDER, str(region)], log_path, end_with_parent=True
    )
    try:
        wait_for_text(log_path, "mapped", timeout=30)
        stop_process_group(
            process, "holder", grace_seconds=0.2, shared_memory_prefix=prefix
        )
        assert process.returncode == -9
        assert not region.exists()
        assert unrelated.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        region.unlink(missing_ok=True)
        unrelated.unlink(missing_ok=True)


@needs_shm
def test_stop_without_prefix_keeps_shared_memory(tmp_path):
    prefix = f"analyzer_core_test_{uuid.uuid4().hex}_"
    region = Path("/dev/shm") / f"{prefix}0"
    log_path = tmp_path / "holder.log"
    process = start_process(
        [sys.executable, "-c", HOLDER, str(region)], log_path, end_with_parent=True
    )
    try:
        wait_for_text(log_path, "mapped", timeout=30)
        stop_process_group(process, "holder", grace_seconds=0.2)
        assert process.returncode == -9
        assert region.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        region.unlink(missing_ok=True)


def test_stop_request_stops_remote_wait():
    stop = StopFlag()
    stop.set_after(0.3)
    remote = RemoteTritonServer(
        "127.0.0.1:1", "http://127.0.0.1:1/metrics", Path(), stop_requested=stop
    )
    started = time.monotonic()
    with pytest.raises(StopNow):
        remote.start(timeout=60)
    assert time.monotonic() - started < 2.0
