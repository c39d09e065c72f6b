"""Failed perf_analyzer runs inside a profile run, with the stand-in Triton and the
fault stand-in perf_analyzer from tests/fakes (no Triton needed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLE_REPOSITORY
from fakes import stand_in_server

from analyzer_core.config import ProfileSettings
from analyzer_core.perf.runner import PerfSettings
from analyzer_core.profiler import EXIT_FAILED, Profiler
from analyzer_core.search.base import SearchLimits

FAULTS = Path(__file__).resolve().parent.parent / "fakes" / "perf_analyzer_faults.py"


def profile(
    tmp_path: Path, fault: str, monkeypatch, models=("add_sub",), expected=EXIT_FAILED
) -> dict:
    # A short timeout keeps the hang case quick; the others finish well within it.
    timeout = 1.0 if fault == "hang" else 60.0
    stand_in_server.install(monkeypatch)
    monkeypatch.setenv("PERF_ANALYZER_FAULT", fault)
    settings = ProfileSettings(
        model_repository=EXAMPLE_REPOSITORY,
        profile_models=list(models),
        checkpoint_directory=tmp_path / "checkpoints",
        export_path=tmp_path,
        concurrency=[1, 2],
        limits=SearchLimits(max_instance_count=1, max_model_batch_size=2),
        perf=PerfSettings(executable=FAULTS, timeout_seconds=timeout),
        status_file=tmp_path / "status.json",
    )
    assert Profiler(settings).run() == expected
    return json.loads((tmp_path / "checkpoints" / "0.ckpt").read_text())


@pytest.mark.parametrize("fault", ["exit", "signal", "no_csv", "hang"])
def test_two_failures_stop_model_stand_in(tmp_path, monkeypatch, caplog, fault):
    checkpoint = profile(tmp_path, fault, monkeypatch)
    failed = [m for m in checkpoint["measurements"] if m.get("status") == "failed"]
    assert len(failed) == 2
    assert len(checkpoint["measurements"]) == 2
    for measurement in failed:
        assert Path(measurement["error_log"]).is_file()
    [stop] = [r.getMessage() for r in caplog.records if "Stopping model" in r.message]
    assert failed[-1]["error_log"] in stop


def test_failed_model_does_not_stop_next_stand_in(tmp_path, monkeypatch, caplog):
    checkpoint = profile(tmp_path, "exit", monkeypatch, models=("add_sub", "dense_mlp"))
    models = {m["model"] for m in checkpoint["measurements"]}
    assert models == {"add_sub", "dense_mlp"}
    stops = [r for r in caplog.records if "Stopping model" in r.getMessage()]
    assert len(stops) == 2


def test_error_log_keeps_odd_bytes_stand_in(tmp_path, monkeypatch):
    checkpoint = profile(tmp_path, "odd_bytes", monkeypatch)
    log = Path(checkpoint["measurements"][0]["error_log"]).read_bytes()
    assert b"\xff\xfe\x80 not utf-8" in log


def test_flood_stand_in_measures(tmp_path, monkeypatch):
    checkpoint = profile(tmp_path, "flood", monkeypatch, expected=0)
    assert all(m.get("status", "ok") == "ok" for m in checkpoint["measurements"])
    assert len(checkpoint["measurements"]) == 3 * 2


def test_all_failed_run_exits_one_stand_in(tmp_path, monkeypatch):
    checkpoint = profile(tmp_path, "exit", monkeypatch)
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["state"] == "failed"
    assert "No measurement of add_sub succeeded (2 failed)" in status["message"]
    assert checkpoint["measurements"][-1]["error_log"] in status["message"]
