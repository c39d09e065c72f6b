"""AppTest tests of the Reports page: ranking settings and PDF downloads."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from dashboard_fixtures import (  # noqa: F401
    open_page,
    save,
    selectbox_by_label,
    small_checkpoint,
    texts,
    working_folder_fixture,
)

from analyzer_core.reports import generate
from analyzer_core.results.ranking import RankingSettings
from dashboard import shared


def download_labels(app) -> list[str]:
    return [button.label for button in app.get("download_button")]


def click_generate(app):
    button = next(item for item in app.button if item.label == "Generate reports")
    return button.click().run()


def test_checkpoints_listed_with_counts(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint(seed=1))
    save(working_folder, 1, small_checkpoint({"add_sub": 3}, seed=2))
    (working_folder / "checkpoints" / "2.ckpt").write_text("not json")

    app = open_page("reports")

    index = selectbox_by_label(app, "Checkpoint")
    assert index.options[0].startswith("2 · saved")
    assert index.options[0].endswith("damaged")
    assert index.options[1].endswith("12 measurements")
    assert index.options[2].endswith("9 measurements")
    assert "not valid JSON" in texts(app.error)
    assert "Pick another checkpoint" in texts(app.info)


def test_generate_writes_pdfs(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint({"add_sub": 1}))
    app = open_page("reports")

    click_generate(app)

    assert not app.exception
    assert not app.error
    labels = download_labels(app)
    assert "Summary of add_sub" in labels
    assert "Details of add_sub_config_0" in labels
    assert "Details of add_sub_config_default" in labels
    [config_label] = [label for label in labels if label.startswith("config.pbtxt")]
    assert config_label.startswith("config.pbtxt of add_sub_config_")
    assert config_label.endswith(", the best add_sub variant")
    summary = working_folder / "reports/summaries/add_sub/summary-ckpt0.pdf"
    assert summary.read_bytes().startswith(b"%PDF")
    assert shared.download_name(summary, True) == "add_sub-summary-ckpt0.pdf"
    assert shared.download_name(summary, False) == "summary-ckpt0.pdf"
    text = subprocess.run(
        ["pdftotext", str(summary), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "add_sub" in text


def test_settings_passed_to_ranking(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(working_folder, 0, small_checkpoint(seed=1))
    save(working_folder, 1, small_checkpoint(seed=2))
    calls: list[dict] = []

    def fake_generate(directory, export_path, **options):
        calls.append({"directory": directory, "export_path": export_path, **options})
        return generate.ReportOutput(options["index"])

    monkeypatch.setattr(generate, "generate_reports", fake_generate)
    app = open_page("reports")
    selectbox_by_label(app, "Checkpoint").set_value(0)
    app.selectbox(key="reports_objective").set_value("perf_latency_p99")
    app.number_input(key="reports_latency_budget").set_value(5.0)
    app.number_input(key="reports_min_throughput").set_value(100.0)
    app.number_input(key="reports_top_n").set_value(2)
    app.checkbox(key="reports_detailed").uncheck()

    click_generate(app)

    call = calls[0]
    settings: RankingSettings = call["settings"]
    assert call["directory"] == working_folder.resolve() / "checkpoints"
    assert call["export_path"] == working_folder.resolve()
    assert call["index"] == 0
    assert call["detailed"] is False
    assert settings.objectives == {"perf_latency_p99": 1.0}
    assert settings.constraints == {
        "perf_latency_p99": {"max": 5.0},
        "perf_throughput": {"min": 100.0},
    }
    assert settings.top_n == 2


def test_zero_limits_mean_no_constraints(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(working_folder, 0, small_checkpoint())
    calls: list[RankingSettings] = []

    def fake_generate(directory, export_path, **options):
        calls.append(options["settings"])
        return generate.ReportOutput(options["index"])

    monkeypatch.setattr(generate, "generate_reports", fake_generate)
    app = open_page("reports")

    click_generate(app)

    assert calls[0].constraints == {}
    assert calls[0].objectives == {"perf_throughput": 1.0}
    assert calls[0].top_n == 3


def test_changed_settings_hide_old_output(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(working_folder, 0, small_checkpoint())
    summary = working_folder / "summary.pdf"
    summary.write_bytes(b"%PDF-1.4")

    def fake_generate(directory, export_path, **options):
        return generate.ReportOutput(options["index"], summaries={"add_sub": summary})

    monkeypatch.setattr(generate, "generate_reports", fake_generate)
    app = open_page("reports")
    click_generate(app)
    assert "Summary of add_sub" in download_labels(app)

    app.number_input(key="reports_top_n").set_value(5).run()

    assert "Summary of add_sub" not in download_labels(app)
    assert "settings changed" in texts(app.caption)


def test_generation_error_shown(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    save(working_folder, 0, small_checkpoint())

    def failing_generate(directory, export_path, **options):
        raise generate.ReportRequestError("Model dense not found in checkpoint 0.")

    monkeypatch.setattr(generate, "generate_reports", failing_generate)
    app = open_page("reports")

    click_generate(app)

    assert not app.exception
    assert "Model dense not found in checkpoint 0." in texts(app.error)


def test_no_checkpoint_message(working_folder: Path) -> None:
    app = open_page("reports")

    assert not app.exception
    assert "No checkpoint in" in texts(app.info)
