"""perf_analyzer runs against the fault stand-in in tests/fakes (no Triton needed)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from analyzer_core.perf.runner import (
    LoadPoint,
    PerfAnalyzerRunner,
    PerfSettings,
    RunStatus,
)

FAULTS = Path(__file__).resolve().parent.parent / "fakes" / "perf_analyzer_faults.py"
POINT = LoadPoint("add_sub_config_0", 1, concurrency=1)


def make_runner(tmp_path, monkeypatch, fault, **settings) -> PerfAnalyzerRunner:
    monkeypatch.setenv("PERF_ANALYZER_FAULT", fault)
    monkeypatch.setenv("PERF_ANALYZER_CALLS", str(tmp_path / "calls.txt"))
    perf = PerfSettings(executable=FAULTS, **settings)
    runner = PerfAnalyzerRunner(
        perf, "127.0.0.1:1", "http://127.0.0.1:1/metrics", tmp_path / "logs"
    )
    runner.log_directory.mkdir()
    return runner


def calls(tmp_path) -> list[str]:
    return (tmp_path / "calls.txt").read_text().splitlines()


def never() -> bool:
    return False


def test_ok_stand_in_gives_row(tmp_path, monkeypatch):
    result = make_runner(tmp_path, monkeypatch, "ok").run(POINT, never)
    assert result.status is RunStatus.OK
    assert result.row.metrics["perf_throughput"] == 1000.5


def test_hang_stand_in_killed_after_timeout(tmp_path, monkeypatch):
    runner = make_runner(tmp_path, monkeypatch, "hang", timeout_seconds=1.0)
    started = time.monotonic()
    result = runner.run(POINT, never)
    assert result.status is RunStatus.FAILED
    assert "timed out after 1 s and was killed" in result.message
    # 1 s timeout, 2 s of ignored SIGTERM, then SIGKILL; the rest is noise.
    assert time.monotonic() - started < 15


def test_hang_stand_in_not_retried(tmp_path, monkeypatch):
    runner = make_runner(tmp_path, monkeypatch, "hang", timeout_seconds=0.5)
    runner.run(POINT, never)
    # One log file per attempt, whether or not the stand-in got to run.
    assert len(list(runner.log_directory.glob("*.log"))) == 1


def test_abort_stops_hang_stand_in(tmp_path, monkeypatch):
    runner = make_runner(tmp_path, monkeypatch, "hang")
    deadline = time.monotonic() + 0.5
    result = runner.run(POINT, lambda: time.monotonic() > deadline)
    assert result.status is RunStatus.ABORTED


def test_signal_stand_in_is_failure(tmp_path, monkeypatch):
    result = make_runner(tmp_path, monkeypatch, "signal").run(POINT, never)
    assert result.status is RunStatus.FAILED
    assert "perf_analyzer died from signal 11" in result.message


def test_exit_stand_in_keeps_output(tmp_path, monkeypatch):
    result = make_runner(tmp_path, monkeypatch, "exit").run(POINT, never)
    assert result.status is RunStatus.FAILED
    assert "exited with status 3" in result.message
    assert "the server is not ready" in result.log_path.read_text()


def test_no_csv_stand_in_is_failure(tmp_path, monkeypatch):
    result = make_runner(tmp_path, monkeypatch, "no_csv").run(POINT, never)
    assert result.status is RunStatus.FAILED
    assert "exited with status 0 but wrote no CSV" in result.message


def test_flood_stand_in_does_not_block(tmp_path, monkeypatch):
    runner = make_runner(tmp_path, monkeypatch, "flood", timeout_seconds=60)
    result = runner.run(POINT, never)
    assert result.status is RunStatus.OK
    assert result.log_path.stat().st_size >= 16 * 1024 * 1024


def test_odd_bytes_stand_in_fails_cleanly(tmp_path, monkeypatch):
    result = make_runner(tmp_path, monkeypatch, "odd_bytes").run(POINT, never)
    assert result.status is RunStatus.FAILED
    assert "exited with status 1" in result.message
    assert "\ufffd" in result.message


def test_odd_csv_stand_in_parsed(tmp_path, monkeypatch, caplog):
    result = make_runner(tmp_path, monkeypatch, "odd_csv").run(POINT, never)
    assert result.status is RunStatus.OK
    assert result.row.metrics["perf_throughput"] == 250.5
    assert result.row.metrics["perf_latency_p99"] == 1.5
    assert "perf_latency_avg" not in result.row.metrics
    assert result.row.gpu_metrics["GPU-a"]["gpu_utilization"] == 50.0
    assert result.row.gpu_metrics["GPU-b"]["gpu_utilization"] == 25.0
    warnings = [r for r in caplog.records if "no column for" in r.getMessage()]
    assert len(warnings) == 1


def test_unstable_stand_in_retried_longer(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PERF_ANALYZER_STABLE_AT", "400")
    runner = make_runner(tmp_path, monkeypatch, "unstable", measurement_interval_ms=100)
    result = runner.run(POINT, never)
    assert result.status is RunStatus.OK
    windows = [line.split("--measurement-interval=")[1] for line in calls(tmp_path)]
    assert windows == ["100", "200", "400"]
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2
    assert "(attempt 1 of 4)" in retries[0]
    assert "(attempt 2 of 4)" in retries[1]


def test_unstable_stand_in_count_windows(tmp_path, monkeypatch):
    monkeypatch.setenv("PERF_ANALYZER_STABLE_AT", "100")
    runner = make_runner(tmp_path, monkeypatch, "unstable")
    result = runner.run(POINT, never)
    assert result.status is RunStatus.OK
    counts = [line.split("--measurement-request-count=")[1] for line in calls(tmp_path)]
    assert counts == ["50", "100"]


def test_unstable_stand_in_gives_up(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("PERF_ANALYZER_STABLE_AT", "100000")
    runner = make_runner(
        tmp_path, monkeypatch, "unstable", measurement_interval_ms=10, max_retries=2
    )
    result = runner.run(POINT, never)
    assert result.status is RunStatus.FAILED
    assert result.unstable
    assert len(calls(tmp_path)) == 3
    assert any("in 3 attempt(s)" in r.getMessage() for r in caplog.records)


def test_unstable_zero_exit_stand_in_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("PERF_ANALYZER_STABLE_AT", "200")
    runner = make_runner(
        tmp_path, monkeypatch, "unstable_zero", measurement_interval_ms=100
    )
    result = runner.run(POINT, never)
    assert result.status is RunStatus.OK
    assert len(calls(tmp_path)) == 2


@pytest.mark.parametrize("fault", ["exit", "signal", "no_csv", "odd_bytes"])
def test_failures_not_retried(tmp_path, monkeypatch, fault):
    make_runner(tmp_path, monkeypatch, fault).run(POINT, never)
    assert len(calls(tmp_path)) == 1


def test_request_rate_flag(tmp_path, monkeypatch):
    runner = make_runner(tmp_path, monkeypatch, "ok")
    point = LoadPoint("v", 1, request_rate=32)
    assert "--request-rate-range=32" in runner.command(point, tmp_path / "x.csv", 1)
