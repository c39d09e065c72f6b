"""Timing wrappers and log readers shared by the two sweep benchmarks.

Both profilers run the same perf_analyzer and tritonserver through wrapper
scripts, so their times are taken the same way:

- the perf_analyzer wrapper runs the real binary and appends one line per run
  to a file: start and end (epoch seconds), exit status and model name;
- the tritonserver wrapper appends its start time to a file and then ``exec``s
  the real binary, so signals from the profiler reach Triton itself.

Model loads and server readiness come from Triton's own log. Its glog lines
carry month, day and local time but no year, so the reader takes the year as
an argument.
"""

from __future__ import annotations

import contextlib
import datetime
import re
import shlex
import shutil
import statistics
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from analyzer_core.triton import paths

PERF_WRAPPER = """#!/bin/bash
# Runs perf_analyzer and appends "start end status model" to {runs}.
started=$(date +%s.%N)
model=-
previous=
for argument in "$@"; do
    if [ "$previous" = "-m" ]; then model=$argument; fi
    previous=$argument
done
LD_LIBRARY_PATH={library_path} {binary} "$@"
status=$?
echo "$started $(date +%s.%N) $status $model" >> {runs}
exit $status
"""

TRITON_WRAPPER = """#!/bin/bash
# Appends the start time to {starts}, then becomes tritonserver.
date +%s.%N >> {starts}
export LD_LIBRARY_PATH={library_path}
export PATH={path}
exec {binary} "$@"
"""

# I1204 16:03:02.349310 17987 grpc_server.cc:2558] "Started GRPCInferenceService..."
_LOG_LINE = re.compile(
    r"^[IWE](?P<month>\d\d)(?P<day>\d\d) "
    r"(?P<hour>\d\d):(?P<minute>\d\d):(?P<second>\d\d\.\d+)\s+(?P<pid>\d+) "
    r"[^\]]*\] \"?(?P<message>.*?)\"?$"
)
_LOADING = re.compile(r"^loading: (?P<name>.+):\d+$")
_LOADED = re.compile(r"^successfully loaded '(?P<name>[^']+)'")
_READY_PREFIXES = ("Started GRPCInferenceService", "Started HTTPService")


@dataclass
class Wrappers:
    perf_analyzer: Path
    tritonserver: Path
    perf_runs_file: Path
    server_starts_file: Path


def write_wrappers(directory: Path) -> Wrappers:
    """Write both wrapper scripts into ``directory`` and return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    wrappers = Wrappers(
        perf_analyzer=directory / "perf_analyzer",
        tritonserver=directory / "tritonserver",
        perf_runs_file=directory / "perf_analyzer_runs.txt",
        server_starts_file=directory / "tritonserver_starts.txt",
    )
    perf_environment = paths.perf_analyzer_environment()
    wrappers.perf_analyzer.write_text(
        PERF_WRAPPER.format(
            runs=shlex.quote(str(wrappers.perf_runs_file)),
            library_path=shlex.quote(perf_environment.get("LD_LIBRARY_PATH", "")),
            binary=shlex.quote(str(paths.perf_analyzer_path())),
        )
    )
    triton_environment = paths.tritonserver_environment()
    wrappers.tritonserver.write_text(
        TRITON_WRAPPER.format(
            starts=shlex.quote(str(wrappers.server_starts_file)),
            library_path=shlex.quote(triton_environment["LD_LIBRARY_PATH"]),
            path=shlex.quote(triton_environment["PATH"]),
            binary=shlex.quote(str(paths.tritonserver_path())),
        )
    )
    wrappers.perf_analyzer.chmod(0o755)
    wrappers.tritonserver.chmod(0o755)
    return wrappers


@dataclass
class PerfRun:
    """One perf_analyzer process as the wrapper saw it."""

    started: float
    ended: float
    status: int
    model: str

    @property
    def seconds(self) -> float:
        return self.ended - self.started


def read_perf_runs(path: Path) -> list[PerfRun]:
    """Read the wrapper's lines, leaving out runs without a model (``-m``).

    analyzer_core runs perf_analyzer once without arguments before a sweep, to
    read the flags its usage text lists. That run measures nothing.
    """
    if not path.is_file():
        return []
    runs = []
    for line in path.read_text().splitlines():
        started, ended, status, model = line.split(maxsplit=3)
        if model != "-":
            runs.append(PerfRun(float(started), float(ended), int(status), model))
    return runs


def read_server_starts(path: Path) -> list[float]:
    if not path.is_file():
        return []
    return [float(line) for line in path.read_text().split()]


def median_gap_seconds(runs: list[PerfRun]) -> float | None:
    """Median time between one perf_analyzer run's end and the next run's start,
    counting only consecutive runs against the same variant."""
    gaps = [
        following.started - run.ended
        for run, following in zip(runs, runs[1:], strict=False)
        if run.model == following.model
    ]
    return statistics.median(gaps) if gaps else None


@dataclass
class TritonLog:
    """Model loads and endpoint openings read from one Triton log file, which may
    span several server processes."""

    loads: list[tuple[str, float, float]] = field(default_factory=list)
    ready_times: list[float] = field(default_factory=list)

    @property
    def load_seconds(self) -> float:
        return sum(end - start for _, start, end in self.loads)


def read_triton_log(path: Path, year: int) -> TritonLog:
    """Collect model loads (from ``loading:`` to ``successfully loaded``) and the
    time each server process finished opening its endpoints."""
    log = TritonLog()
    pending: dict[str, float] = {}
    ready_by_pid: dict[str, float] = {}
    for line in path.read_text(errors="replace").splitlines():
        match = _LOG_LINE.match(line)
        if match is None:
            continue
        moment = _epoch_seconds(match, year)
        message = match["message"]
        loading = _LOADING.match(message)
        loaded = _LOADED.match(message)
        if loading:
            pending[loading["name"]] = moment
        elif loaded and loaded["name"] in pending:
            name = loaded["name"]
            log.loads.append((name, pending.pop(name), moment))
        elif message.startswith(_READY_PREFIXES):
            pid = match["pid"]
            ready_by_pid[pid] = max(ready_by_pid.get(pid, moment), moment)
    log.ready_times = list(ready_by_pid.values())
    return log


def _epoch_seconds(match: re.Match, year: int) -> float:
    # NOTE: a log that runs past midnight on 31 December gets the wrong year.
    whole, fraction = match["second"].split(".")
    moment = datetime.datetime(
        year,
        int(match["month"]),
        int(match["day"]),
        int(match["hour"]),
        int(match["minute"]),
        int(whole),
    )
    return moment.timestamp() + float(f"0.{fraction}")


def server_start_seconds(starts: list[float], log: TritonLog) -> float | None:
    """Sum, over server processes, the time from the wrapper's start to the
    server's last endpoint opening. Returns None when the counts differ."""
    if not starts or len(starts) != len(log.ready_times):
        return None
    return sum(
        ready - start for start, ready in zip(starts, log.ready_times, strict=True)
    )


@contextlib.contextmanager
def work_folder(prefix: str, keep_under: Path | None) -> Iterator[Path]:
    """Yield a new empty folder, kept under ``keep_under`` if set and else deleted."""
    if keep_under is not None:
        keep_under.mkdir(parents=True, exist_ok=True)
        yield Path(tempfile.mkdtemp(prefix=prefix, dir=keep_under))
        return
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
