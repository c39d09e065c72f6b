"""Quick, manual and request-rate runs on the bundled example: real Triton, real
perf_analyzer."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from conftest import EXAMPLE_REPOSITORY, run_cli

from analyzer_core.checkpoints.store import read_checkpoint_file

pytestmark = pytest.mark.slow

FAST = [
    "--run-config-search-max-concurrency", "2",
    "--measurement-interval", "300",
    "--perf-analyzer-flags=--stability-percentage=50",
    "--status-file", "status.json",
]  # fmt: skip


def checkpoint(workdir: Path) -> dict:
    return json.loads((workdir / "checkpoints" / "0.ckpt").read_text())


def status(workdir: Path) -> dict:
    return json.loads((workdir / "status.json").read_text())


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("quick")
    finished = run_cli(
        "profile",
        "-m", str(EXAMPLE_REPOSITORY),
        "--profile-models", "add_sub",
        "--run-config-search-mode", "quick",
        "--run-config-search-max-instance-count", "2",
        "--run-config-search-max-model-batch-size", "4",
        *FAST,
        cwd=workdir,
    )  # fmt: skip
    return workdir, finished


def test_quick_run_exits_zero(quick_run):
    _, finished = quick_run
    assert finished.returncode == 0, finished.stderr[-3000:]


def test_quick_run_logs_stop(quick_run):
    _, finished = quick_run
    assert "Quick search of add_sub stopped at" in finished.stderr


def test_quick_run_counts_add_up(quick_run):
    workdir, _ = quick_run
    counts = status(workdir)
    assert counts["state"] == "finished"
    assert counts["done"] + counts["skipped"] + counts["failed"] == counts["planned"]


def test_quick_run_measures_grid_variants(quick_run):
    workdir, _ = quick_run
    variants = checkpoint(workdir)["variants"]
    sizes = {v["config"]["max_batch_size"] for v in variants if not v["is_default"]}
    # The start is max batch size 4 (closest to the model's 8) at 1 instance.
    assert 4 in sizes
    assert sizes <= {1, 2, 4}


@pytest.fixture(scope="module")
def manual_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("manual")
    (workdir / "config.yaml").write_text(
        textwrap.dedent(
            f"""
            model_repository: {EXAMPLE_REPOSITORY}
            run_config_search_mode: manual
            profile_models:
              add_sub:
                model_config_parameters:
                  dynamic_batching:
                    max_queue_delay_microseconds: [100, 2000]
                    preferred_batch_size: [[2, 4]]
                  instance_group:
                    - kind: KIND_CPU
                      count: [1, 2]
                parameters:
                  concurrency: [2]
            """
        )
    )
    finished = run_cli("profile", "--config-file", "config.yaml", *FAST, cwd=workdir)
    return workdir, finished


def test_manual_run_exits_zero(manual_run):
    _, finished = manual_run
    assert finished.returncode == 0, finished.stderr[-3000:]


def test_manual_run_measures_cross_product(manual_run):
    workdir, _ = manual_run
    variants = [v for v in checkpoint(workdir)["variants"] if not v["is_default"]]
    settings = {
        (
            int(v["config"]["dynamic_batching"]["max_queue_delay_microseconds"]),
            v["config"]["instance_group"][0]["count"],
        )
        for v in variants
    }
    assert settings == {(100, 1), (100, 2), (2000, 1), (2000, 2)}


def test_manual_run_counts_add_up(manual_run):
    workdir, _ = manual_run
    counts = status(workdir)
    assert counts["planned"] == 5
    assert counts["done"] == 5


@pytest.fixture(scope="module")
def rate_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("rate")
    finished = run_cli(
        "profile",
        "-m", str(EXAMPLE_REPOSITORY),
        "--profile-models", "add_sub",
        "--run-config-search-disable",
        "--request-rate", "20,40",
        *FAST,
        cwd=workdir,
    )  # fmt: skip
    return workdir, finished


def test_rate_run_exits_zero(rate_run):
    _, finished = rate_run
    assert finished.returncode == 0, finished.stderr[-3000:]


def test_rate_run_records_rates(rate_run):
    workdir, _ = rate_run
    data = read_checkpoint_file(workdir / "checkpoints" / "0.ckpt")
    measurements = data.measurements
    assert sorted(m.request_rate for m in measurements) == [20, 40]
    assert all(m.concurrency is None for m in measurements)
    # Under load perf_analyzer may find no stable window for a rate, and the
    # profiler then records a failed measurement without metrics.
    succeeded = [m for m in measurements if m.ok]
    assert succeeded
    assert all(m.metrics["perf_throughput"] > 0 for m in succeeded)
