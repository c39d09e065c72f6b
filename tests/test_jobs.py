"""Tests of analyzer_core.jobs with a stand-in child that records its SIGINTs."""

from __future__ import annotations

import os
import shlex
import signal
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from analyzer_core import jobs
from analyzer_core.jobs import (
    STOP_NOW_SIGNAL_COUNT,
    Job,
    JobError,
    ProfileRequest,
    current_job,
    list_jobs,
    process_is_alive,
    profile_command,
    request_stop,
    request_stop_now,
    start_job,
)
from analyzer_core.progress import JobState, JobStatus, write_status

# The stand-in writes a RUNNING status, counts SIGINTs in a file, and exits
# after the third one (or exits with code 3 at once when its mode argument is "crash").
STAND_IN = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from analyzer_core.progress import JobState, JobStatus, write_status

    signals_file, status_file, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    received = 0

    def on_sigint(number, frame):
        global received
        received += 1
        with open(signals_file, "a") as handle:
            handle.write("SIGINT\\n")

    signal.signal(signal.SIGINT, on_sigint)
    write_status(status_file, JobStatus(state=JobState.RUNNING, planned=4, done=1))
    print("stand-in ready", flush=True)
    if mode == "crash":
        print("stand-in crashed on purpose", flush=True)
        sys.exit(3)
    deadline = time.time() + 60
    while received < 3 and time.time() < deadline:
        time.sleep(0.02)
    print(f"stand-in exiting after {received} SIGINTs", flush=True)
    """
)


@pytest.fixture
def started_pids() -> Iterator[list[int]]:
    """Collect the pids the test starts and kill any still running at the end."""
    pids: list[int] = []
    yield pids
    for pid in pids:
        if process_is_alive(pid):
            os.kill(pid, signal.SIGKILL)
        jobs._CHILDREN.pop(pid, None)


def stand_in_builder(tmp_path: Path, mode: str = "wait") -> Callable[[Job], list[str]]:
    script = tmp_path / "stand_in.py"
    script.write_text(STAND_IN)

    def build(job: Job) -> list[str]:
        signals_file = job.directory / "signals.txt"
        return [
            sys.executable,
            str(script),
            str(signals_file),
            str(job.status_path),
            mode,
        ]

    return build


def start_stand_in(
    tmp_path: Path, pids: list[int], mode: str = "wait", directory: str = "ckpt"
) -> Job:
    job = start_job(stand_in_builder(tmp_path, mode), tmp_path / directory, tmp_path)
    pids.append(job.record.pid)
    wait_until(lambda: "stand-in ready" in job.log_path.read_text())
    return job


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


def signals_received(job: Job) -> int:
    path = job.directory / "signals.txt"
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_stop_sends_one_sigint(tmp_path: Path, started_pids: list[int]) -> None:
    job = start_stand_in(tmp_path, started_pids)

    sent = request_stop(job)
    wait_until(lambda: signals_received(job) == 1)
    time.sleep(0.5)

    assert sent == 1
    assert signals_received(job) == 1
    assert job.is_alive()
    assert job.snapshot().state is JobState.STOPPING


def test_stop_twice_sends_one_sigint(tmp_path: Path, started_pids: list[int]) -> None:
    job = start_stand_in(tmp_path, started_pids)

    request_stop(job)
    sent = request_stop(job)
    time.sleep(0.5)

    assert sent == 1
    assert signals_received(job) == 1


def test_stop_now_after_stop_sends_three(
    tmp_path: Path, started_pids: list[int]
) -> None:
    job = start_stand_in(tmp_path, started_pids)

    request_stop(job)
    sent = request_stop_now(job)
    wait_until(lambda: not job.is_alive())

    assert sent == STOP_NOW_SIGNAL_COUNT
    assert signals_received(job) == STOP_NOW_SIGNAL_COUNT
    assert "after 3 SIGINTs" in job.log_path.read_text()


def test_stop_now_alone_sends_three(tmp_path: Path, started_pids: list[int]) -> None:
    job = start_stand_in(tmp_path, started_pids)

    sent = request_stop_now(job)
    wait_until(lambda: not job.is_alive())

    assert sent == STOP_NOW_SIGNAL_COUNT
    assert signals_received(job) == STOP_NOW_SIGNAL_COUNT


def test_signal_count_survives_reload(tmp_path: Path, started_pids: list[int]) -> None:
    job = start_stand_in(tmp_path, started_pids)
    request_stop(job)

    reloaded = current_job(tmp_path)
    assert reloaded is not None
    sent = request_stop_now(reloaded)
    wait_until(lambda: not reloaded.is_alive())

    assert sent == STOP_NOW_SIGNAL_COUNT
    assert signals_received(job) == STOP_NOW_SIGNAL_COUNT


def test_stop_of_ended_job_raises(tmp_path: Path, started_pids: list[int]) -> None:
    job = start_stand_in(tmp_path, started_pids, mode="crash")
    wait_until(lambda: not job.is_alive())

    with pytest.raises(JobError, match="is not running"):
        request_stop(job)


def test_dead_process_shows_failed(tmp_path: Path, started_pids: list[int]) -> None:
    job = start_stand_in(tmp_path, started_pids, mode="crash")
    wait_until(lambda: not job.is_alive())

    snapshot = job.snapshot(log_lines=5)

    assert snapshot.state is JobState.FAILED
    assert not snapshot.alive
    assert snapshot.status is not None
    assert snapshot.status.state is JobState.RUNNING
    assert "without recording a final state" in (snapshot.message or "")
    assert snapshot.log_tail[-1] == "stand-in crashed on purpose"


def test_dead_process_seen_by_other_reader(
    tmp_path: Path, started_pids: list[int]
) -> None:
    job = start_stand_in(tmp_path, started_pids, mode="crash")
    wait_until(lambda: not job.is_alive())

    reloaded = current_job(tmp_path)

    assert reloaded is not None
    assert reloaded.snapshot().state is JobState.FAILED


def test_second_job_same_directory_rejected(
    tmp_path: Path, started_pids: list[int]
) -> None:
    start_stand_in(tmp_path, started_pids)

    with pytest.raises(JobError, match="already profiling"):
        start_job(stand_in_builder(tmp_path), tmp_path / "ckpt", tmp_path)

    assert len(list_jobs(tmp_path)) == 1


def test_second_job_other_directory_allowed(
    tmp_path: Path, started_pids: list[int]
) -> None:
    first = start_stand_in(tmp_path, started_pids, directory="one")
    second = start_stand_in(tmp_path, started_pids, directory="two")

    assert first.record.job_id != second.record.job_id
    assert current_job(tmp_path, tmp_path / "one").record.job_id == first.record.job_id
    assert current_job(tmp_path).record.job_id == second.record.job_id


def test_new_job_allowed_after_end(tmp_path: Path, started_pids: list[int]) -> None:
    first = start_stand_in(tmp_path, started_pids, mode="crash")
    wait_until(lambda: not first.is_alive())

    second = start_stand_in(tmp_path, started_pids)

    assert current_job(tmp_path).record.job_id == second.record.job_id


def test_snapshot_without_status_is_starting(tmp_path: Path) -> None:
    job = make_record_only_job(tmp_path, pid=os.getpid())

    snapshot = job.snapshot()

    assert snapshot.state is JobState.STARTING
    assert snapshot.log_tail == []


def test_snapshot_without_status_dead_fails(tmp_path: Path) -> None:
    job = make_record_only_job(tmp_path, pid=unused_pid())
    job.log_path.write_text("Traceback (most recent call last):\nboom\n")

    snapshot = job.snapshot()

    assert snapshot.state is JobState.FAILED
    assert "before it wrote its status" in (snapshot.message or "")
    assert snapshot.log_tail == ["Traceback (most recent call last):", "boom"]


def test_snapshot_finished_keeps_state(tmp_path: Path) -> None:
    job = make_record_only_job(tmp_path, pid=unused_pid())
    status = JobStatus(state=JobState.FINISHED, planned=3, done=3)
    status.started_at = job.record.started_at
    write_status(job.status_path, status)

    snapshot = job.snapshot()

    assert snapshot.state is JobState.FINISHED
    assert not snapshot.active
    assert snapshot.elapsed_seconds >= 0


def test_recycled_pid_is_not_alive() -> None:
    created_at = psutil.Process(os.getpid()).create_time()

    assert process_is_alive(os.getpid(), created_at)
    assert not process_is_alive(os.getpid(), created_at - 3600)
    assert not process_is_alive(unused_pid())


def test_log_tail_returns_last_lines(tmp_path: Path) -> None:
    log = tmp_path / "profile.log"
    log.write_text("".join(f"line {number}\n" for number in range(500)))

    assert jobs.read_log_tail(log, 3) == ["line 497", "line 498", "line 499"]
    assert jobs.read_log_tail(tmp_path / "missing.log", 3) == []


def test_profile_command_flags(tmp_path: Path) -> None:
    request = ProfileRequest(
        model_repository=tmp_path / "models",
        models=["add_sub", "dense"],
        checkpoint_directory=tmp_path / "ckpt",
        export_path=tmp_path / "results",
        max_concurrency=8,
        max_instance_count=2,
        max_model_batch_size=4,
        measurement_interval_ms=500,
        search_mode="quick",
        checkpoint_index=2,
    )

    command = profile_command(request, tmp_path / "status.json")

    assert command[:4] == [sys.executable, "-m", "analyzer_core", "profile"]
    flags = dict(zip(command[4::2], command[5::2], strict=True))
    assert flags["--profile-models"] == "add_sub,dense"
    assert flags["--run-config-search-max-concurrency"] == "8"
    assert flags["--run-config-search-max-instance-count"] == "2"
    assert flags["--run-config-search-max-model-batch-size"] == "4"
    assert flags["--measurement-interval"] == "500"
    assert flags["--status-file"] == str(tmp_path / "status.json")
    assert flags["--checkpoint-index"] == "2"
    assert flags["--run-config-search-mode"] == "quick"


def test_format_command_drops_status_file(tmp_path: Path) -> None:
    request = ProfileRequest(
        model_repository=tmp_path / "my models",
        models=["add_sub"],
        checkpoint_directory=tmp_path / "ckpt",
        export_path=tmp_path / "results",
        max_concurrency=8,
        max_instance_count=2,
        max_model_batch_size=4,
    )

    command_line = jobs.format_command(
        profile_command(request, tmp_path / "status.json")
    )

    interpreter = shlex.quote(sys.executable)
    expected_start = f"{interpreter} -m analyzer_core profile --model-repository '"
    assert command_line.startswith(expected_start)
    assert f"'{tmp_path / 'my models'}'" in command_line
    assert "--run-config-search-max-concurrency 8" in command_line
    assert "status" not in command_line


def test_format_command_quotes_interpreter_path() -> None:
    command = [
        "/opt/my env/bin/python",
        "-m",
        "analyzer_core",
        "profile",
        "--status-file",
        "/jobs/1/status.json",
        "--export-path",
        "/results",
    ]

    command_line = jobs.format_command(command)

    expected = (
        "'/opt/my env/bin/python' -m analyzer_core profile --export-path /results"
    )
    assert command_line == expected
    assert shlex.split(command_line) == [*command[:4], *command[6:]]


def test_format_command_keeps_job_command() -> None:
    command = ["/usr/bin/python3", "-m", "analyzer_core", "profile"]

    jobs.format_command(command)

    assert command == ["/usr/bin/python3", "-m", "analyzer_core", "profile"]


def make_record_only_job(tmp_path: Path, pid: int) -> Job:
    directory = tmp_path / "job"
    directory.mkdir()
    record = jobs.JobRecord(
        job_id="job",
        pid=pid,
        command=["true"],
        started_at=time.time() - 5,
        checkpoint_directory=str(tmp_path / "ckpt"),
    )
    job = Job(directory, record)
    job.save_record()
    return job


def unused_pid() -> int:
    pid = 4_000_000
    while psutil.pid_exists(pid):
        pid -= 1
    return pid
