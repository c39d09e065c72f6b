"""Time one fixed sweep of the bundled add_sub model with ``analyzer_core profile``.

Run from the repository root:

    .venv/bin/python bench/sweep_bench.py --repeats 3
    .venv/bin/python bench/sweep_bench.py --repeats 1 --py-spy profile.txt

The sweep has 3 variants and 9 measurements. The variants are the default
config and one per instance count 1 and 2, with max batch size pinned to 1 and
dynamic batching on. Each is measured at concurrency 1, 2 and 4 with client
batch size 1, and perf_analyzer uses count windows of 50 requests.
``model_analyzer_bench.py`` runs the same sweep with Model Analyzer.

The wall time is that of the whole ``profile`` process. perf_analyzer time
comes from a wrapper script around the binary, model-load time from Triton's
log, and ``rest`` is what remains. The profiler's own "Time spent" line is
parsed as well, for its Triton start and stop times.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from sweep_timing import (
    Wrappers,
    median_gap_seconds,
    read_perf_runs,
    read_server_starts,
    read_triton_log,
    server_start_seconds,
    work_folder,
    write_wrappers,
)

from analyzer_core.checkpoints.store import list_checkpoints, read_checkpoint_file

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
MODEL_REPOSITORY = REPOSITORY_ROOT / "examples" / "model_repository"
MODEL = "add_sub"
CONCURRENCIES = (1, 2, 4)
MAX_INSTANCE_COUNT = 2
MODEL_BATCH_SIZE = 1
REQUEST_COUNT = 50
REST_TARGET_FRACTION = 0.05
RUN_TIMEOUT_SECONDS = 900
PY_SPY_RATE = 200  # samples per second

_TIME_SPENT = re.compile(
    r"Time spent: (?P<perf>[\d.]+) s in perf_analyzer, (?P<load>[\d.]+) s loading "
    r"variants, (?P<start>[\d.]+) s starting and (?P<stop>[\d.]+) s stopping Triton"
)


@dataclass
class SweepResult:
    """Wall time of one profiling run and its parts, in seconds."""

    tool: str
    wall_seconds: float
    exit_status: int
    perf_seconds: float
    perf_runs: int
    failed_perf_runs: int
    load_seconds: float
    loads: int
    server_starts: int
    server_start_seconds: float | None
    measurements: int
    failed_measurements: int
    median_gap_seconds: float | None
    log_path: Path
    # The profiler's own split, from its "Time spent" line (analyzer_core only).
    own_split: dict[str, float] = field(default_factory=dict)

    @property
    def rest_seconds(self) -> float:
        return self.wall_seconds - self.perf_seconds - self.load_seconds

    @property
    def rest_fraction(self) -> float:
        return self.rest_seconds / self.wall_seconds


def profile_command(work: Path, wrappers: Wrappers) -> list[str]:
    return [
        sys.executable, "-m", "analyzer_core", "profile",
        "--model-repository", str(MODEL_REPOSITORY),
        "--profile-models", MODEL,
        "--concurrency", ",".join(str(value) for value in CONCURRENCIES),
        "--run-config-search-max-instance-count", str(MAX_INSTANCE_COUNT),
        "--run-config-search-min-model-batch-size", str(MODEL_BATCH_SIZE),
        "--run-config-search-max-model-batch-size", str(MODEL_BATCH_SIZE),
        "--measurement-request-count", str(REQUEST_COUNT),
        "--no-early-exit",
        "--perf-analyzer-path", str(wrappers.perf_analyzer),
        "--checkpoint-directory", str(work / "checkpoints"),
        "--export-path", str(work / "export"),
        "--status-file", str(work / "status.json"),
    ]  # fmt: skip


def timed_run(command: list[str], log_path: Path, cwd: Path) -> tuple[float, int]:
    """Run ``command`` in ``cwd`` with output to ``log_path``.

    Returns the wall time in seconds and the exit status.
    """
    with open(log_path, "wb") as log:
        started = time.monotonic()
        completed = subprocess.run(
            command,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
        return time.monotonic() - started, completed.returncode


def count_measurements(checkpoint_directory: Path) -> tuple[int, int]:
    """Return the successful and failed measurements of the newest checkpoint."""
    items = list_checkpoints(checkpoint_directory)
    if not items:
        return 0, 0
    data = read_checkpoint_file(items[-1].path)
    succeeded = sum(1 for measurement in data.measurements if measurement.ok)
    return succeeded, len(data.measurements) - succeeded


def collect_result(
    tool: str,
    wall_seconds: float,
    exit_status: int,
    wrappers: Wrappers,
    triton_log: Path,
    checkpoint_directory: Path,
    log_path: Path,
) -> SweepResult:
    """Read the wrapper files, Triton's log and the checkpoint of a finished run."""
    runs = read_perf_runs(wrappers.perf_runs_file)
    log = read_triton_log(triton_log, datetime.date.today().year)
    starts = read_server_starts(wrappers.server_starts_file)
    succeeded, failed = count_measurements(checkpoint_directory)
    return SweepResult(
        tool=tool,
        wall_seconds=wall_seconds,
        exit_status=exit_status,
        perf_seconds=sum(run.seconds for run in runs),
        perf_runs=len(runs),
        failed_perf_runs=sum(1 for run in runs if run.status != 0),
        load_seconds=log.load_seconds,
        loads=len(log.loads),
        server_starts=len(log.ready_times),
        server_start_seconds=server_start_seconds(starts, log),
        measurements=succeeded,
        failed_measurements=failed,
        median_gap_seconds=median_gap_seconds(runs),
        log_path=log_path,
    )


def run_analyzer_core(work: Path, py_spy_output: Path | None = None) -> SweepResult:
    """Run the sweep once with ``analyzer_core profile`` in the empty ``work``."""
    wrappers = write_wrappers(work / "wrappers")
    command = profile_command(work, wrappers)
    if py_spy_output is not None:
        command = py_spy_command(py_spy_output) + command
    log_path = work / "profile.log"
    wall, status = timed_run(command, log_path, work)
    result = collect_result(
        "analyzer_core",
        wall,
        status,
        wrappers,
        work / "export" / "logs" / "tritonserver.log",
        work / "checkpoints",
        log_path,
    )
    result.own_split = parse_time_spent(log_path.read_text(errors="replace"))
    if result.own_split:
        result.server_start_seconds = result.own_split["start"]
    return result


def py_spy_command(output: Path) -> list[str]:
    """Build the command prefix that samples Python stacks, idle ones included."""
    py_spy = Path(sys.executable).parent / "py-spy"
    return [
        str(py_spy), "record", "--idle", "--threads", "--rate", str(PY_SPY_RATE),
        "--format", "raw", "--output", str(output), "--",
    ]  # fmt: skip


# Categories of the profiler's main-thread time. A sampled stack goes to the first
# category with a function anywhere on the stack.
PY_SPY_CATEGORIES = (
    ("waiting for perf_analyzer", ("PerfAnalyzerRunner._wait",)),
    ("starting perf_analyzer", ("PerfAnalyzerRunner._run_once",)),
    ("loading variants", ("TritonServer.load_model",)),
    ("unloading variants", ("TritonServer.unload_model",)),
    ("starting Triton", ("LocalTritonServer.start",)),
    ("waiting for unloads before SIGTERM", ("LocalTritonServer._wait_for_unloads",)),
    ("stopping Triton", ("LocalTritonServer.stop",)),
    ("metrics sampler start and stop", ("MetricsSampler.",)),
    ("status file writes", ("write_status",)),
    ("checkpoint saves", ("RunRecorder.save", "save_checkpoint")),
    ("imports", ("_find_and_load",)),
)


def summarize_py_spy(path: Path, rate: int = PY_SPY_RATE) -> dict[str, float]:
    """Return main-thread seconds per category from py-spy's raw output."""
    seconds: dict[str, float] = {}
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if "MainThread" not in frames[0]:
            continue
        category = "other"
        for name, prefixes in PY_SPY_CATEGORIES:
            if any(frame.startswith(prefixes) for frame in frames):
                category = name
                break
        seconds[category] = seconds.get(category, 0.0) + int(count) / rate
    return dict(sorted(seconds.items(), key=lambda item: -item[1]))


def parse_time_spent(text: str) -> dict[str, float]:
    match = _TIME_SPENT.search(text)
    if match is None:
        return {}
    return {name: float(value) for name, value in match.groupdict().items()}


def describe(result: SweepResult) -> str:
    """Summarize one run on a line."""
    text = (
        f"{result.tool}: wall {result.wall_seconds:.1f} s, perf_analyzer "
        f"{result.perf_seconds:.1f} s in {result.perf_runs} runs "
        f"({result.failed_perf_runs} unstable or failed), model load "
        f"{result.load_seconds:.1f} s in {result.loads} loads, rest "
        f"{result.rest_seconds:.1f} s ({result.rest_fraction:.1%}); "
        f"{result.measurements} measurements"
    )
    if result.failed_measurements:
        text += f" + {result.failed_measurements} failed"
    if result.exit_status != 0:
        text += f"; exit status {result.exit_status}, see {result.log_path}"
    return text


def median_of(results: list[SweepResult], name: str) -> float | None:
    values = [getattr(result, name) for result in results]
    values = [value for value in values if value is not None]
    return statistics.median(values) if values else None


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs (default: 3)")
    parser.add_argument(
        "--py-spy",
        type=Path,
        help="also sample the first run with py-spy into this file (raw format)",
    )
    parser.add_argument(
        "--work-directory",
        type=Path,
        help="keep each run's logs in a folder under this one (default: deleted)",
    )
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    results = []
    for position in range(arguments.repeats):
        one_minute, five_minutes, fifteen_minutes = os.getloadavg()
        print(
            f"load average before run {position + 1}: "
            f"{one_minute:.2f} {five_minutes:.2f} {fifteen_minutes:.2f}"
        )
        with work_folder("sweep-", arguments.work_directory) as work:
            py_spy = arguments.py_spy if position == 0 else None
            result = run_analyzer_core(work, py_spy)
            results.append(result)
            print(describe(result), flush=True)
            if result.own_split:
                print(f"  own split: {result.own_split}", flush=True)
    print(f"median wall {median_of(results, 'wall_seconds'):.1f} s")
    if arguments.py_spy is not None:
        print(f"main thread of the first run, from py-spy ({arguments.py_spy}):")
        for category, seconds in summarize_py_spy(arguments.py_spy).items():
            print(f"  {category}: {seconds:.2f} s")


if __name__ == "__main__":
    main()
