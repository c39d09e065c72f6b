"""generate_reports on synthetic checkpoints: files, warnings and PDF text.

Most tests run with ``no_charts`` (as on a machine without Chromium), which
keeps them fast; ``test_summary_with_charts`` renders real charts.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from google.protobuf import text_format
from pypdf import PdfReader
from report_helpers import BrokenRenderer, disable_charts, pdf_text, save
from tritonclient.grpc import model_config_pb2

from analyzer_core.errors import CheckpointError
from analyzer_core.records import CheckpointData, MachineInfo, Measurement, Variant
from analyzer_core.reports import summary
from analyzer_core.reports.generate import (
    ReportRequestError,
    generate_reports,
    load_for_report,
    summary_report_bytes,
)
from analyzer_core.results.ranking import RankingSettings, rank_model
from analyzer_core.results.synthetic import synthetic_checkpoint

pytestmark = pytest.mark.skipif(
    shutil.which("pdftotext") is None, reason="pdftotext (poppler-utils) not found"
)


@pytest.fixture
def no_charts(monkeypatch: pytest.MonkeyPatch) -> type[BrokenRenderer]:
    return disable_charts(monkeypatch)


def test_pdf_names_model_and_index(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", synthetic_checkpoint({"resnet": 2}), index=3)

    output = generate_reports(directory, tmp_path / "out")

    summary = output.summaries["resnet"]
    assert summary == (
        tmp_path / "out" / "reports" / "summaries" / "resnet" / "summary-ckpt3.pdf"
    )
    text = pdf_text(summary)
    assert "Summary report: resnet" in text
    assert "Checkpoint 3" in text
    assert "Best variant:" in text


def test_detailed_report_per_variant(tmp_path: Path, no_charts) -> None:
    data = synthetic_checkpoint({"resnet": 2}, concurrencies=(1, 2))
    directory = save(tmp_path / "ckpt", data, index=1)

    output = generate_reports(directory, tmp_path / "out")

    assert sorted(output.detailed) == sorted(data.variants)
    path = output.detailed["resnet_config_0"]
    assert path.name == "detailed-ckpt1.pdf"
    text = pdf_text(path)
    assert "Detailed report: resnet_config_0" in text
    assert "Checkpoint 1" in text
    assert "Measurements" in text


def test_chart_failure_keeps_reports(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", synthetic_checkpoint({"resnet": 2}))

    output = generate_reports(directory, tmp_path / "out")

    chart_warnings = [w for w in output.warnings if w.startswith("Charts left out")]
    assert len(chart_warnings) == 1
    assert no_charts.calls == 1
    assert len(output.detailed) == 3
    text = " ".join(pdf_text(output.summaries["resnet"]).split())
    assert "Charts are missing from this report because rendering failed" in text


def test_half_finished_run(tmp_path: Path, no_charts) -> None:
    data = synthetic_checkpoint({"resnet": 4}, concurrencies=(1, 2, 4))
    unmeasured = {"resnet_config_2", "resnet_config_3"}
    data.measurements = [m for m in data.measurements if m.variant not in unmeasured]
    data.measurements = data.measurements[:-1]
    directory = save(tmp_path / "ckpt", data)

    output = generate_reports(directory, tmp_path / "out")

    assert set(output.detailed) == {
        "resnet_config_default",
        "resnet_config_0",
        "resnet_config_1",
    }
    text = pdf_text(output.summaries["resnet"])
    assert "not ranked" in text
    assert "resnet_config_2" in text


def test_model_without_measurements(tmp_path: Path, no_charts) -> None:
    data = synthetic_checkpoint({"resnet": 1})
    data.variants["bert_config_0"] = Variant("bert_config_0", "bert", {})
    directory = save(tmp_path / "ckpt", data)

    output = generate_reports(directory, tmp_path / "out")

    assert "bert" not in output.summaries
    assert any("Model bert has no successful measurement" in w for w in output.warnings)
    assert not (tmp_path / "out" / "reports" / "summaries" / "bert").exists()
    assert "resnet" in output.summaries


def over_budget_checkpoint() -> CheckpointData:
    data = CheckpointData(machine=MachineInfo("test CPU", "2.51.0"))
    for index, latency in enumerate((12.0, 15.0, 20.0)):
        name = f"resnet_config_{index}"
        config = {"max_batch_size": 4, "instance_group": [{"count": index + 1}]}
        data.variants[name] = Variant(name, "resnet", config)
        metrics = {"perf_latency_p99": latency, "perf_throughput": 100.0 * latency}
        data.measurements.append(Measurement("resnet", name, 1, 1, metrics))
    return data


def test_over_budget_caveat(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", over_budget_checkpoint())
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 5.0}})

    output = generate_reports(directory, tmp_path / "out", settings=settings)

    text = " ".join(pdf_text(output.summaries["resnet"]).split())
    assert "No variant meets the constraints." in text
    assert "No: p99 latency 12.0 ms > 5.0 ms" in text
    assert "no config is recommended" in text
    assert "resnet" not in output.configs


def test_gpu_constraint_on_cpu_run(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", synthetic_checkpoint({"resnet": 1}))
    settings = RankingSettings(constraints={"gpu_used_memory": {"max": 1000.0}})

    output = generate_reports(directory, tmp_path / "out", settings=settings)

    assert any(w.startswith("resnet: Not checked: GPU") for w in output.warnings)
    text = " ".join(pdf_text(output.summaries["resnet"]).split())
    assert "Not checked (metric not collected): GPU memory usage" in text


def test_indices_never_overwrite(tmp_path: Path, no_charts) -> None:
    directory = tmp_path / "ckpt"
    save(directory, synthetic_checkpoint({"resnet": 1}), index=0)
    save(directory, synthetic_checkpoint({"resnet": 2}), index=1)

    first = generate_reports(directory, tmp_path / "out", index=0, detailed=False)
    second = generate_reports(directory, tmp_path / "out", detailed=False)

    assert second.checkpoint_index == 1
    assert first.summaries["resnet"] != second.summaries["resnet"]
    assert first.summaries["resnet"].is_file()
    assert set(first.tables.values()).isdisjoint(second.tables.values())
    assert first.configs["resnet"] != second.configs["resnet"]


def test_best_config_pbtxt(tmp_path: Path, no_charts) -> None:
    data = synthetic_checkpoint({"resnet": 3})
    directory = save(tmp_path / "ckpt", data, index=2)

    output = generate_reports(directory, tmp_path / "out", detailed=False)

    path = output.configs["resnet"]
    assert path == output.summaries["resnet"].parent / "ckpt2" / "config.pbtxt"
    config = text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    best_name = pdf_text(output.summaries["resnet"]).split("config.pbtxt of ")[1]
    best = data.variants[best_name.split()[0]]
    assert output.best_variants["resnet"] == best.name
    assert config.max_batch_size == best.max_batch_size
    assert config.instance_group[0].count == best.instance_count


def test_unknown_model_creates_nothing(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", synthetic_checkpoint({"resnet": 1}))

    with pytest.raises(ReportRequestError) as raised:
        generate_reports(directory, tmp_path / "out", models=["bert"])

    assert "Model bert not found in checkpoint 0" in str(raised.value)
    assert "resnet" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_unknown_variant_creates_nothing(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", synthetic_checkpoint({"resnet": 1}))

    with pytest.raises(ReportRequestError):
        generate_reports(directory, tmp_path / "out", variants=["resnet_config_9"])

    assert not (tmp_path / "out").exists()


def test_no_checkpoint_creates_nothing(tmp_path: Path) -> None:
    (tmp_path / "ckpt").mkdir()

    with pytest.raises(CheckpointError) as raised:
        generate_reports(tmp_path / "ckpt", tmp_path / "out")

    assert "No checkpoint found" in str(raised.value)
    assert "profile" in str(raised.value)
    assert not (tmp_path / "out").exists()


def test_summary_bytes_for_download(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", synthetic_checkpoint({"resnet": 1}))
    warnings: list[str] = []

    pdf = summary_report_bytes(load_for_report(directory), "resnet", warnings=warnings)

    assert pdf.startswith(b"%PDF")
    assert len(warnings) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.chromium
def test_summary_with_charts(tmp_path: Path) -> None:
    data = synthetic_checkpoint({"resnet": 3}, gpu=True, concurrencies=(1, 4, 16))
    directory = save(tmp_path / "ckpt", data, index=5)

    output = generate_reports(directory, tmp_path / "out", detailed=False)

    assert output.warnings == []
    reader = PdfReader(output.summaries["resnet"])
    images = sum(len(page.images) for page in reader.pages)
    assert images == 2
    text = pdf_text(output.summaries["resnet"])
    assert "Summary report: resnet" in text
    assert "Checkpoint 5" in text


def many_variants_checkpoint(count: int) -> CheckpointData:
    """Build ``count`` variants, one measurement each, the default config last."""
    data = CheckpointData(machine=MachineInfo("test CPU", "2.51.0"))
    names = [f"resnet_config_{index}" for index in range(count - 1)]
    names.append("resnet_config_default")
    for index, name in enumerate(names):
        config = {"max_batch_size": 4, "instance_group": [{"count": 1}]}
        data.variants[name] = Variant(name, "resnet", config, name.endswith("default"))
        metrics = {"perf_latency_p99": 5.0, "perf_throughput": 10_000.0 - index}
        data.measurements.append(Measurement("resnet", name, 1, 1, metrics))
    return data


def test_summary_table_cut_keeps_default(
    tmp_path: Path, no_charts, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(summary, "TABLE_MAX_ROWS", 5)
    directory = save(tmp_path / "ckpt", many_variants_checkpoint(1200), index=7)

    output = generate_reports(directory, tmp_path / "out", detailed=False)

    text = " ".join(pdf_text(output.summaries["resnet"]).split())
    assert (
        "The table lists the top 5 of 1,200 ranked variants and the default "
        "config; the other 1,194 are left out." in text
    )
    assert "results/metrics-model-inference-ckpt7.csv" in text
    assert "resnet_config_4 " in text
    assert "resnet_config_5 " not in text
    rows = pdf_text(output.summaries["resnet"], layout=True).splitlines()
    assert any(row.split()[:1] == ["1200"] for row in rows)
    assert "resnet_config_default" in text
    inference = tmp_path / "out" / "results" / "metrics-model-inference-ckpt7.csv"
    assert len(inference.read_text().splitlines()) == 1 + 1200


def test_summary_table_lists_all_below_cut(tmp_path: Path, no_charts) -> None:
    directory = save(tmp_path / "ckpt", many_variants_checkpoint(12))

    output = generate_reports(directory, tmp_path / "out", detailed=False)

    text = " ".join(pdf_text(output.summaries["resnet"]).split())
    assert "left out" not in text
    assert "resnet_config_10 " in text
    assert "12 variants measured with 12 measurements" in text


def test_listed_entries_default_in_top() -> None:
    data = many_variants_checkpoint(3)
    data.measurements[-1].metrics["perf_throughput"] = 20_000.0
    ranking = rank_model(data, "resnet", RankingSettings())

    listed = summary.listed_entries(ranking)

    assert [position for position, _ in listed] == [1, 2, 3]
    assert listed[0][1].name == "resnet_config_default"
