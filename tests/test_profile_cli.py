"""A tiny real sweep through the command line: real Triton, real perf_analyzer."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from conftest import EXAMPLE_REPOSITORY, run_cli

from analyzer_core.checkpoints.store import read_checkpoint_file

pytestmark = pytest.mark.slow

SWEEP = [
    "profile",
    "--model-repository", str(EXAMPLE_REPOSITORY),
    "--profile-models", "add_sub",
    "--run-config-search-max-concurrency", "2",
    "--run-config-search-max-instance-count", "1",
    "--run-config-search-max-model-batch-size", "1",
    "--measurement-interval", "300",
    "--perf-analyzer-flags=--stability-percentage=50",
]  # fmt: skip


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    workdir = tmp_path_factory.mktemp("sweep")
    return workdir, run_cli(*SWEEP, "--status-file", "status.json", cwd=workdir)


def test_sweep_exits_zero(sweep):
    workdir, finished = sweep
    assert finished.returncode == 0, finished.stderr[-3000:]


def test_sweep_writes_checkpoint_zero(sweep):
    workdir, _ = sweep
    assert sorted(p.name for p in (workdir / "checkpoints").glob("*.ckpt")) == [
        "0.ckpt"
    ]
    data = read_checkpoint_file(workdir / "checkpoints" / "0.ckpt")
    variants = set(data.variants)
    assert variants == {"add_sub_config_default", "add_sub_config_0"}
    keys = {(m.variant, m.concurrency) for m in data.measurements}
    assert keys == {(v, c) for v in variants for c in (1, 2)}
    for measurement in data.measurements:
        metrics = measurement.metrics
        assert metrics["perf_throughput"] > 0
        assert metrics["perf_latency_p99"] > 0
        assert "perf_server_compute_infer" in metrics
        assert metrics["cpu_used_ram"] > 0
        assert metrics["triton_rss"] > 0
    assert data.server_only["cpu_used_ram"] > 0
    assert (
        0
        < data.server_only["triton_rss"]
        < min(m.metrics["triton_rss"] for m in data.measurements)
    )


def test_sweep_logs_life_cycle(sweep):
    _, finished = sweep
    log = finished.stderr
    assert "No checkpoint file found, starting a fresh run." in log
    assert "Saved checkpoint to checkpoints/0.ckpt" in log
    assert "Measured add_sub_config_0 batch size 1 concurrency 2" in log
    assert "Models with measurements: add_sub" in log
    assert "Stopped Triton Inference Server" in log
    assert "Server alone: cpu_utilization" in log
    assert "Reading Triton metrics" not in log


def test_status_file_reports_finished(sweep):
    workdir, _ = sweep
    status = json.loads((workdir / "status.json").read_text())
    assert status["state"] == "finished"
    assert status["done"] == 4
    assert status["planned"] == 4


def test_rerun_writes_no_new_index(sweep):
    workdir, _ = sweep
    before = (workdir / "checkpoints" / "0.ckpt").read_bytes()
    again = run_cli(*SWEEP, cwd=workdir)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "No new measurements; no checkpoint written" in again.stderr
    assert (
        "Skipping add_sub_config_0: all 2 load points already measured" in again.stderr
    )
    assert sorted(p.name for p in (workdir / "checkpoints").glob("*.ckpt")) == [
        "0.ckpt"
    ]
    assert (workdir / "checkpoints" / "0.ckpt").read_bytes() == before


def test_checkpoints_command_lists_index(sweep):
    workdir, _ = sweep
    listing = run_cli("checkpoints", cwd=workdir)
    assert listing.returncode == 0
    assert "add_sub" in listing.stdout.splitlines()[1]


def test_report_pdfs_name_model_and_index(sweep):
    workdir, _ = sweep
    report = run_cli("report", "--export-path", "out", cwd=workdir)
    assert report.returncode == 0, report.stderr[-3000:]
    summaries = list(
        (workdir / "out" / "reports" / "summaries" / "add_sub").glob("*.pdf")
    )
    assert len(summaries) == 1
    text = subprocess.run(
        ["pdftotext", str(summaries[0]), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "add_sub" in text
    assert "0" in text
    (server_only_csv,) = (workdir / "out" / "results").glob("metrics-server-only*.csv")
    server_only = server_only_csv.read_text()
    header, row = server_only.splitlines()
    assert header.startswith("Model,RAM Usage (MB)")
    assert row.startswith("triton-server,")
    detailed = list((workdir / "out" / "reports" / "detailed").glob("*/*.pdf"))
    assert {p.parent.name for p in detailed} == {
        "add_sub_config_default",
        "add_sub_config_0",
    }
