"""Run perf_analyzer once per load level, with a timeout and bounded retries."""

from __future__ import annotations

import logging
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from analyzer_core.perf.csv_table import PerfRow, parse_perf_csv
from analyzer_core.processes import read_tail, start_process, stop_process_group
from analyzer_core.triton import paths

logger = logging.getLogger(__name__)

# perf_analyzer 2.51 prints one of these when the measurement window was too short
# for a stable result; it usually exits non-zero, but may exit 0.
UNSTABLE_MESSAGES = (
    "Failed to obtain stable measurement",
    "Please use a larger time window",
)
_POLL_SECONDS = 0.02
_SCAN_CHUNK_BYTES = 1 << 20
MESSAGE_OUTPUT_CHARS = 400


@dataclass
class PerfSettings:
    """Measurement settings of perf_analyzer, with Model Analyzer's defaults.

    With ``measurement_interval_ms`` set, perf_analyzer uses time windows of that
    length; otherwise count windows of ``measurement_request_count`` requests.
    Each of the ``max_retries`` extra attempts doubles the window.
    """

    measurement_interval_ms: int | None = None
    measurement_request_count: int = 50
    max_retries: int = 3
    timeout_seconds: float = 600.0
    extra_flags: list[str] = field(default_factory=list)
    executable: Path | None = None


class RunStatus(Enum):
    OK = "ok"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass
class RunResult:
    status: RunStatus
    row: PerfRow | None
    log_path: Path
    message: str = ""
    seconds: float = 0.0
    unstable: bool = False


@dataclass
class LoadPoint:
    variant: str
    batch_size: int
    concurrency: int | None = None
    request_rate: float | None = None

    def describe(self) -> str:
        load = (
            f"concurrency {self.concurrency}"
            if self.concurrency is not None
            else f"request rate {self.request_rate:g}/s"
        )
        return f"{self.variant} batch size {self.batch_size} {load}"


class PerfAnalyzerRunner:
    def __init__(
        self,
        settings: PerfSettings,
        grpc_url: str,
        metrics_url: str,
        log_directory: Path,
    ):
        self.settings = settings
        self.grpc_url = grpc_url
        self.metrics_url = metrics_url
        self.log_directory = log_directory
        self.executable = paths.perf_analyzer_path(settings.executable)
        self.environment = paths.perf_analyzer_environment()
        self.total_seconds = 0.0

    def command(self, point: LoadPoint, csv_path: Path, scale: int) -> list[str]:
        command = [
            str(self.executable),
            "-m", point.variant,
            "-b", str(point.batch_size),
            "-u", self.grpc_url,
            "-i", "grpc",
            "-f", str(csv_path),
            "--verbose-csv",
            "--collect-metrics",
            f"--metrics-url={self.metrics_url}",
            "--metrics-interval=500",
        ]  # fmt: skip
        if point.concurrency is not None:
            command.append(f"--concurrency-range={point.concurrency}")
        else:
            command.append(f"--request-rate-range={point.request_rate:g}")
        if self.settings.measurement_interval_ms is not None:
            interval = self.settings.measurement_interval_ms * scale
            command += [
                "--measurement-mode=time_windows",
                f"--measurement-interval={interval}",
            ]
        else:
            count = self.settings.measurement_request_count * scale
            command += [
                "--measurement-mode=count_windows",
                f"--measurement-request-count={count}",
            ]
        return command + list(self.settings.extra_flags)

    def run(self, point: LoadPoint, abort_requested: Callable[[], bool]) -> RunResult:
        """Measure one load point, retrying an unstable measurement with longer windows."""
        attempts = self.settings.max_retries + 1
        result = None
        for attempt in range(attempts):
            result = self._run_once(
                point,
                scale=2**attempt,
                attempt=attempt,
                abort_requested=abort_requested,
            )
            if not result.unstable:
                return result
            if attempt + 1 < attempts:
                logger.warning(
                    "perf_analyzer could not get a stable measurement of %s "
                    "(attempt %d of %d); retrying with a window %d times as long",
                    point.describe(), attempt + 1, attempts, 2 ** (attempt + 1),
                )  # fmt: skip
        logger.warning(
            "perf_analyzer could not get a stable measurement of %s in %d attempt(s)",
            point.describe(),
            attempts,
        )
        return result

    def _run_once(
        self,
        point: LoadPoint,
        scale: int,
        attempt: int,
        abort_requested: Callable[[], bool],
    ) -> RunResult:
        stem = (
            f"{point.variant}-b{point.batch_size}-c{point.concurrency}"
            f"-r{point.request_rate}-a{attempt}"
        ).replace("/", "_")
        csv_path = self.log_directory / f"{stem}.csv"
        log_path = self.log_directory / f"{stem}.log"
        csv_path.unlink(missing_ok=True)
        log_path.unlink(missing_ok=True)
        command = self.command(point, csv_path, scale)
        started = time.monotonic()
        process = start_process(
            command, log_path, self.environment, end_with_parent=True
        )
        status = self._wait(process, started, abort_requested)
        seconds = time.monotonic() - started
        self.total_seconds += seconds
        if status is not None:
            return RunResult(status[0], None, log_path, status[1], seconds)
        return self._read_result(process.returncode, csv_path, log_path, seconds)

    def _wait(
        self,
        process: subprocess.Popen,
        started: float,
        abort_requested: Callable[[], bool],
    ) -> tuple[RunStatus, str] | None:
        """Wait for perf_analyzer; return a status and message if it was stopped."""
        while True:
            try:
                process.wait(timeout=_POLL_SECONDS)
                return None
            except subprocess.TimeoutExpired:
                pass
            if abort_requested():
                stop_process_group(process, "perf_analyzer", grace_seconds=2.0)
                return (
                    RunStatus.ABORTED,
                    "perf_analyzer was stopped by a stop-now request",
                )
            if time.monotonic() - started > self.settings.timeout_seconds:
                stop_process_group(process, "perf_analyzer", grace_seconds=2.0)
                seconds = self.settings.timeout_seconds
                return RunStatus.FAILED, (
                    f"perf_analyzer timed out after {seconds:g} s and was killed"
                )

    def _read_result(
        self, returncode: int, csv_path: Path, log_path: Path, seconds: float
    ) -> RunResult:
        failed = RunStatus.FAILED
        if returncode < 0:
            message = _with_output(f"died from signal {-returncode}", log_path)
            return RunResult(failed, None, log_path, message, seconds)
        if log_mentions(log_path, UNSTABLE_MESSAGES):
            message = _with_output(f"exited with status {returncode}", log_path)
            return RunResult(failed, None, log_path, message, seconds, unstable=True)
        if returncode != 0:
            message = _with_output(f"exited with status {returncode}", log_path)
            return RunResult(failed, None, log_path, message, seconds)
        try:
            text = csv_path.read_bytes().decode("utf-8", errors="replace")
        except FileNotFoundError:
            message = _with_output("exited with status 0 but wrote no CSV", log_path)
            return RunResult(failed, None, log_path, message, seconds)
        rows = parse_perf_csv(text)
        if not rows or "perf_throughput" not in rows[0].metrics:
            message = f"perf_analyzer's CSV {csv_path} has no measurement row"
            return RunResult(failed, None, log_path, message, seconds)
        csv_path.unlink(missing_ok=True)
        return RunResult(RunStatus.OK, rows[0], log_path, "", seconds)


def _with_output(what: str, log_path: Path, lines: int = 3) -> str:
    """Return ``perf_analyzer <what>`` and the last non-empty lines of its output."""
    tail = read_tail(log_path, 2000).splitlines()
    last = [line.strip() for line in tail if line.strip()][-lines:]
    output = " | ".join(last)[-MESSAGE_OUTPUT_CHARS:] or "(no output)"
    return f"perf_analyzer {what}; its output ends with: {output}"


def log_mentions(path: Path, markers: tuple[str, ...]) -> bool:
    """Return True if the log contains any marker, reading it in bounded chunks."""
    encoded = [marker.encode() for marker in markers]
    overlap = max(len(marker) for marker in encoded)
    previous = b""
    try:
        with open(path, "rb") as handle:
            while chunk := handle.read(_SCAN_CHUNK_BYTES):
                window = previous + chunk
                if any(marker in window for marker in encoded):
                    return True
                previous = window[-overlap:]
    except OSError:
        return False
    return False
