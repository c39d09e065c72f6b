"""The status file stays truthful in every search mode: done + skipped + failed
ends equal to planned. Runs the real profiler against the stand-in Triton and
the fault stand-in perf_analyzer in tests/fakes, so no Triton is started."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import EXAMPLE_REPOSITORY
from fakes import stand_in_server

from analyzer_core.config import ModelOptions, ProfileSettings
from analyzer_core.perf.runner import PerfSettings
from analyzer_core.profiler import EXIT_FAILED, EXIT_STOPPED, Profiler
from analyzer_core.search.base import SearchLimits, SearchMode
from analyzer_core.stop import StopRequests

FAULTS = Path(__file__).resolve().parent.parent / "fakes" / "perf_analyzer_faults.py"


@pytest.fixture
def stand_in(monkeypatch):
    stand_in_server.install(monkeypatch)
    monkeypatch.setenv("PERF_ANALYZER_FAULT", "ok")


def profile(tmp_path: Path, expected: int = 0, stop=None, **overrides) -> dict:
    settings = ProfileSettings(
        model_repository=EXAMPLE_REPOSITORY,
        profile_models=["add_sub"],
        checkpoint_directory=tmp_path / "checkpoints",
        export_path=tmp_path,
        max_concurrency=16,
        limits=SearchLimits(max_instance_count=1, max_model_batch_size=4),
        perf=PerfSettings(executable=FAULTS),
        status_file=tmp_path / "status.json",
    )
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert Profiler(settings, stop).run() == expected
    return json.loads((tmp_path / "status.json").read_text())


def counted(status: dict) -> int:
    return status["done"] + status["skipped"] + status["failed"]


def test_brute_counts_early_exits_as_skipped(tmp_path, stand_in):
    status = profile(tmp_path)
    # Default and max batch sizes 1, 2, 4 at concurrency 1 to 16. Flat throughput
    # stops each sweep after concurrency 8 and the row after max batch size 2.
    assert status["planned"] == 4 * 5
    assert status["done"] == 3 * 4
    assert status["skipped"] == 3 * 1 + 5
    assert counted(status) == status["planned"]


def test_no_early_exit_measures_all(tmp_path, stand_in):
    limits = SearchLimits(
        max_instance_count=1,
        max_model_batch_size=4,
        concurrency_early_exit=False,
        max_batch_size_early_exit=False,
    )
    status = profile(tmp_path, limits=limits)
    assert status["done"] == status["planned"]
    assert status["skipped"] == 0


def test_quick_counts_add_up(tmp_path, stand_in):
    status = profile(tmp_path, search_mode=SearchMode.QUICK)
    assert counted(status) == status["planned"]
    # Default, the start (1 instance, max batch size 4, closest to the model's
    # 8) and its one neighbor, max batch size 2.
    assert status["planned"] == 3 * 5


def test_manual_counts_add_up(tmp_path, stand_in):
    options = ModelOptions(
        model_config_parameters={
            "dynamic_batching": {"max_queue_delay_microseconds": [100, 200]},
            "instance_group": [{"kind": "KIND_CPU", "count": [1, 2]}],
        }
    )
    status = profile(
        tmp_path,
        search_mode=SearchMode.MANUAL,
        model_options={"add_sub": options},
        concurrency=[1, 2],
    )
    assert status["planned"] == 5 * 2
    assert status["done"] == 5 * 2


def test_request_rate_counts_add_up(tmp_path, stand_in):
    status = profile(tmp_path, request_rates=[10, 20])
    assert status["planned"] == 4 * 2
    assert counted(status) == status["planned"]


def test_illegal_batch_sizes_not_planned(tmp_path, stand_in):
    limits = SearchLimits(max_instance_count=1, max_model_batch_size=4)
    status = profile(tmp_path, batch_sizes=[1, 4], concurrency=[1], limits=limits)
    # Client batch size 4 runs on the default (max 8) and max batch size 4 only.
    assert status["planned"] == 4 + 2
    assert counted(status) == status["planned"]


def test_rerun_counts_skipped(tmp_path, stand_in):
    profile(tmp_path, concurrency=[1])
    status = profile(tmp_path, concurrency=[1])
    assert status["done"] == 0
    assert counted(status) == status["planned"]


def test_failed_model_counts_add_up(tmp_path, stand_in, monkeypatch):
    monkeypatch.setenv("PERF_ANALYZER_FAULT", "exit")
    status = profile(tmp_path, expected=EXIT_FAILED)
    assert status["failed"] == 2
    assert counted(status) == status["planned"]


def test_stop_before_measuring_says_nothing_saved(tmp_path, stand_in):
    stop = StopRequests()
    stop.terminated = True

    status = profile(tmp_path, expected=EXIT_STOPPED, stop=stop)

    assert status["state"] == "stopped"
    assert "nothing saved" in status["message"]
    assert not (tmp_path / "checkpoints" / "0.ckpt").exists()
