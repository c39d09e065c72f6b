"""A profiling job: ``python -m analyzer_core profile`` as a child process.

Everything about a job lives on disk, so a browser reload, a second tab or a
restarted dashboard sees the same job. Each job gets a directory
``<working folder>/.analyzer_runtime/jobs/<job id>/`` with:

- ``job.json``: pid, command, start time, checkpoint directory, stop signals sent;
- ``status.json``: the state and progress that the profile process writes
  (``--status-file``, see ``analyzer_core.progress``);
- ``profile.log``: the child's standard output and standard error.

A stop request sends SIGINT to the profile process: the first lets the current
perf_analyzer run finish, the third saves a checkpoint and exits at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import psutil

from analyzer_core.errors import AnalyzerError
from analyzer_core.files import write_atomically
from analyzer_core.processes import read_tail, start_process
from analyzer_core.progress import JobState, JobStatus, read_status

logger = logging.getLogger(__name__)

RUNTIME_DIRECTORY_NAME = ".analyzer_runtime"
STOP_NOW_SIGNAL_COUNT = 3
# Two SIGINTs that arrive before the child's Python handler runs count as one,
# so the signals of a stop-now request are spaced by this gap.
SIGNAL_GAP_SECONDS = 0.3
_PROJECT_ROOT = Path(__file__).resolve().parent.parent
# The children this process started, by pid, so that they can be reaped.
_CHILDREN: dict[int, subprocess.Popen] = {}


class JobError(AnalyzerError):
    """A job that cannot be started or signalled."""


@dataclass
class ProfileRequest:
    """The settings of one profiling job, as flags of ``analyzer_core profile``."""

    model_repository: Path
    models: list[str]
    checkpoint_directory: Path
    export_path: Path
    max_concurrency: int
    max_instance_count: int
    max_model_batch_size: int
    measurement_interval_ms: int | None = None
    search_mode: str | None = None
    checkpoint_index: int | None = None

    def arguments(self, status_file: Path) -> list[str]:
        """Build the argument list after ``python -m analyzer_core``.

        Flags whose value is None are left out, so the profile command's default
        applies: without an interval, perf_analyzer measures windows of a
        request count, and without an index the latest checkpoint is loaded.
        """
        flags = {
            "--model-repository": self.model_repository,
            "--profile-models": ",".join(self.models),
            "--checkpoint-directory": self.checkpoint_directory,
            "--export-path": self.export_path,
            "--run-config-search-max-concurrency": self.max_concurrency,
            "--run-config-search-max-instance-count": self.max_instance_count,
            "--run-config-search-max-model-batch-size": self.max_model_batch_size,
            "--measurement-interval": self.measurement_interval_ms,
            "--run-config-search-mode": self.search_mode,
            "--checkpoint-index": self.checkpoint_index,
            "--status-file": status_file,
        }
        arguments = ["profile"]
        for flag, value in flags.items():
            if value is not None:
                arguments += [flag, str(value)]
        return arguments


@dataclass
class JobRecord:
    """The contents of ``job.json``."""

    job_id: str
    pid: int
    command: list[str]
    started_at: float
    checkpoint_directory: str
    process_created_at: float | None = None
    stop_signals_sent: int = 0
    last_signal_at: float | None = None


@dataclass
class JobSnapshot:
    """A job's state, progress and last log lines at one moment."""

    record: JobRecord
    state: JobState
    status: JobStatus | None
    alive: bool
    elapsed_seconds: float
    log_tail: list[str] = field(default_factory=list)
    message: str | None = None

    @property
    def active(self) -> bool:
        return self.state.active


class Job:
    """A job directory and its ``job.json``."""

    def __init__(self, directory: Path, record: JobRecord) -> None:
        self.directory = directory
        self.record = record

    @property
    def status_path(self) -> Path:
        return self.directory / "status.json"

    @property
    def log_path(self) -> Path:
        return self.directory / "profile.log"

    @property
    def record_path(self) -> Path:
        return self.directory / "job.json"

    def save_record(self) -> None:
        payload = json.dumps(asdict(self.record), indent=2).encode()
        write_atomically(self.record_path, payload)

    def is_alive(self) -> bool:
        return process_is_alive(self.record.pid, self.record.process_created_at)

    def snapshot(self, log_lines: int = 20) -> JobSnapshot:
        """Combine the status file, the process table and the log into one view."""
        status = read_status(self.status_path)
        alive = self.is_alive()
        state, message = _derive_state(self.record, status, alive)

        snapshot = JobSnapshot(
            record=self.record,
            state=state,
            status=status,
            alive=alive,
            elapsed_seconds=_elapsed_seconds(self.record, status, state),
            message=message,
        )
        if log_lines > 0:
            snapshot.log_tail = read_log_tail(self.log_path, log_lines)
        return snapshot


def runtime_directory(working_folder: Path) -> Path:
    return working_folder / RUNTIME_DIRECTORY_NAME / "jobs"


def profile_command(request: ProfileRequest, status_file: Path) -> list[str]:
    """Build the full command line of a profile job, run by this interpreter."""
    return [sys.executable, "-m", "analyzer_core", *request.arguments(status_file)]


def format_command(command: list[str]) -> str:
    """Show a job's command, shell-quoted, for a user to paste into a shell.

    The status file is the dashboard's own channel to the job, so it is left
    out. The interpreter keeps its full path (``command[0]``), because a shell
    without the project's virtual environment active would run a ``python``
    that cannot import analyzer_core.
    """
    arguments = list(command)
    if "--status-file" in arguments:
        position = arguments.index("--status-file")
        del arguments[position : position + 2]
    return shlex.join(arguments)


def start_profile_job(request: ProfileRequest, working_folder: Path) -> Job:
    """Start ``analyzer_core profile`` for ``request``.

    Raises JobError while another job profiles into the same checkpoint directory.
    """
    return start_job(
        lambda job: profile_command(request, job.status_path),
        request.checkpoint_directory,
        working_folder,
    )


def start_job(
    build_command: Callable[[Job], list[str]],
    checkpoint_directory: Path,
    working_folder: Path,
) -> Job:
    """Start a job whose command ``build_command(job)`` returns.

    The lock on the jobs directory makes the check for a running job on the same
    checkpoint directory and the start one step, so two tabs cannot both start.
    """
    checkpoint_directory = checkpoint_directory.resolve()
    jobs_directory = runtime_directory(working_folder)
    jobs_directory.mkdir(parents=True, exist_ok=True)

    with _locked(jobs_directory / ".lock"):
        _reject_running_job(jobs_directory, checkpoint_directory)
        job = _create_job(jobs_directory, checkpoint_directory)
        job.record.command = build_command(job)
        process = start_process(job.record.command, job.log_path, _child_environment())
        job.record.pid = process.pid
        job.record.process_created_at = _process_created_at(process.pid)
        job.save_record()
        _CHILDREN[process.pid] = process

    logger.info(
        "Started job %s (pid %d) on checkpoint directory %s",
        job.record.job_id,
        process.pid,
        checkpoint_directory,
    )
    logger.debug("Job %s command: %s", job.record.job_id, job.record.command)
    return job


def list_jobs(working_folder: Path) -> list[Job]:
    """List the jobs recorded under the working folder, oldest first."""
    jobs_directory = runtime_directory(working_folder)
    if not jobs_directory.is_dir():
        return []

    jobs = []
    for directory in jobs_directory.iterdir():
        job = load_job(directory)
        if job is not None:
            jobs.append(job)
    return sorted(jobs, key=lambda job: job.record.started_at)


def load_job(directory: Path) -> Job | None:
    """Read a job directory, or return None when ``job.json`` is missing or unreadable."""
    try:
        data = json.loads((directory / "job.json").read_text())
        return Job(directory, JobRecord(**data))
    except (OSError, ValueError, TypeError) as error:
        if directory.is_dir():
            logger.debug("Skipping job directory %s: %s", directory, error)
        return None


def current_job(
    working_folder: Path, checkpoint_directory: Path | None = None
) -> Job | None:
    """Find the newest running job, else the newest job, optionally per directory."""
    jobs = list_jobs(working_folder)
    if checkpoint_directory is not None:
        wanted = str(checkpoint_directory.resolve())
        jobs = [job for job in jobs if job.record.checkpoint_directory == wanted]
    running = [job for job in jobs if job.is_alive()]
    if running:
        return running[-1]
    return jobs[-1] if jobs else None


def request_stop(job: Job) -> int:
    """Send one SIGINT (a graceful stop) unless one was already sent.

    Returns the number of SIGINTs sent to the job so far.
    """
    return _send_stop_signals(job, target_count=1)


def request_stop_now(job: Job) -> int:
    """Send SIGINTs until the third, which makes the job save and exit at once."""
    return _send_stop_signals(job, target_count=STOP_NOW_SIGNAL_COUNT)


def _send_stop_signals(job: Job, target_count: int) -> int:
    with _locked(job.directory / ".signal.lock"):
        reloaded = load_job(job.directory)
        if reloaded is not None:
            job.record = reloaded.record
        if not job.is_alive():
            raise JobError(
                f"Job {job.record.job_id} (pid {job.record.pid}) is not running; "
                "there is nothing to stop."
            )

        while job.record.stop_signals_sent < target_count and job.is_alive():
            _wait_for_signal_gap(job.record)
            if not _send_sigint(job):
                break
            job.record.stop_signals_sent += 1
            job.record.last_signal_at = time.time()
            job.save_record()
            logger.info(
                "Sent SIGINT %d of %d to job %s (pid %d)",
                job.record.stop_signals_sent,
                STOP_NOW_SIGNAL_COUNT,
                job.record.job_id,
                job.record.pid,
            )
    return job.record.stop_signals_sent


def _wait_for_signal_gap(record: JobRecord) -> None:
    if record.last_signal_at is None:
        return
    remaining = record.last_signal_at + SIGNAL_GAP_SECONDS - time.time()
    if remaining > 0:
        time.sleep(min(remaining, SIGNAL_GAP_SECONDS))


def _send_sigint(job: Job) -> bool:
    """Send SIGINT to the job, returning False when the process has already ended."""
    try:
        os.kill(job.record.pid, signal.SIGINT)
    except ProcessLookupError:
        logger.info("Job %s ended before the next SIGINT", job.record.job_id)
        return False
    return True


def process_is_alive(pid: int, created_at: float | None = None) -> bool:
    """Tell whether ``pid`` runs, is not a zombie, and started at ``created_at``.

    Comparing the creation time keeps a recycled pid from passing as the job.
    A child of this process is reaped here, so it does not linger as a zombie.
    """
    child = _CHILDREN.get(pid)
    if child is not None and child.poll() is not None:
        return False

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        if created_at is not None and abs(process.create_time() - created_at) > 1.0:
            return False
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return False
    except psutil.AccessDenied:
        return True
    return True


def read_log_tail(path: Path, line_count: int) -> list[str]:
    """Return the last ``line_count`` lines of a log file, [] when it is missing."""
    text = read_tail(path, max_bytes=max(4000, line_count * 400))
    lines = text.splitlines()
    return lines[-line_count:]


def _derive_state(
    record: JobRecord, status: JobStatus | None, alive: bool
) -> tuple[JobState, str | None]:
    if status is None:
        if alive:
            return JobState.STARTING, None
        return JobState.FAILED, (
            f"The profile process (pid {record.pid}) ended before it wrote its "
            "status; the log below shows why."
        )

    if not status.state.active:
        return status.state, status.message
    if not alive:
        return JobState.FAILED, (
            f"The profile process (pid {record.pid}) ended while its status was "
            f"'{status.state.value}', without recording a final state; the log "
            "below shows why."
        )

    # A stop request shows at once, before the child has written its new state.
    if record.stop_signals_sent >= STOP_NOW_SIGNAL_COUNT:
        return JobState.STOPPING_NOW, status.message
    if record.stop_signals_sent >= 1 and status.state is not JobState.STOPPING_NOW:
        return JobState.STOPPING, status.message
    return status.state, status.message


def _elapsed_seconds(
    record: JobRecord, status: JobStatus | None, state: JobState
) -> float:
    if state.active:
        return max(0.0, time.time() - record.started_at)
    if status is not None:
        return max(0.0, status.updated_at - record.started_at)
    return 0.0


def _reject_running_job(jobs_directory: Path, checkpoint_directory: Path) -> None:
    for directory in jobs_directory.iterdir():
        job = load_job(directory)
        if job is None or job.record.checkpoint_directory != str(checkpoint_directory):
            continue
        if job.is_alive():
            raise JobError(
                f"Job {job.record.job_id} (pid {job.record.pid}) is already "
                f"profiling into {checkpoint_directory}; stop it first or choose "
                "another checkpoint directory."
            )


def _create_job(jobs_directory: Path, checkpoint_directory: Path) -> Job:
    started_at = time.time()
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started_at))
    job_id = f"{stamp}-{secrets.token_hex(3)}"
    directory = jobs_directory / job_id
    directory.mkdir()

    record = JobRecord(
        job_id=job_id,
        pid=0,
        command=[],
        started_at=started_at,
        checkpoint_directory=str(checkpoint_directory),
    )
    return Job(directory, record)


def _child_environment() -> dict[str, str]:
    """Copy this environment, with the project root importable and output unbuffered."""
    environment = dict(os.environ)
    current = environment.get("PYTHONPATH")
    root = str(_PROJECT_ROOT)
    environment["PYTHONPATH"] = f"{root}{os.pathsep}{current}" if current else root
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def _process_created_at(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except psutil.Error:
        return None


@contextlib.contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with open(lock_path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
