"""Tests of the Compare page and of dashboard.comparison."""

from __future__ import annotations

import copy
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import (  # noqa: F401
    open_page,
    save,
    selectbox_by_label,
    small_checkpoint,
    texts,
    working_folder_fixture,
)

from analyzer_core.records import GpuInfo, MeasurementStatus
from dashboard.comparison import compare_checkpoints


def later_checkpoint(before):
    """Copy ``before``, add variant add_sub_config_9 and double one throughput."""
    after = copy.deepcopy(before)
    template = after.variants["add_sub_config_0"]
    added = copy.deepcopy(template)
    added.name = "add_sub_config_9"
    after.variants[added.name] = added
    for measurement in after.measurements_of("add_sub_config_0"):
        extra = copy.deepcopy(measurement)
        extra.variant = added.name
        after.measurements.append(extra)
    first = after.measurements[0]
    first.metrics["perf_throughput"] *= 2
    first.metrics["perf_latency_p99"] /= 2
    return after


def metric_values(app) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}


def test_comparison_added_and_changed() -> None:
    before = small_checkpoint({"add_sub": 1})
    after = later_checkpoint(before)

    result = compare_checkpoints(before, after)

    assert result.variants_added == ["add_sub_config_9"]
    assert result.variants_removed == []
    assert len(result.added) == 3
    assert set(result.added["variant"]) == {"add_sub_config_9"}
    assert result.removed.empty
    assert len(result.changed) == len(before.measurements)
    first = result.changed.iloc[0]
    assert first["throughput_change_pct"] == pytest.approx(100.0)
    assert first["p99_ms_change_pct"] == pytest.approx(-50.0)
    assert (result.changed["throughput_change_pct"].iloc[1:] == 0).all()


def test_comparison_skips_failed_measurements() -> None:
    before = small_checkpoint({"add_sub": 1})
    after = copy.deepcopy(before)
    after.measurements[0].status = MeasurementStatus.FAILED

    result = compare_checkpoints(before, after)

    assert len(result.removed) == 1
    assert len(result.changed) == len(before.measurements) - 1


def test_comparison_zero_throughput_has_no_percent() -> None:
    before = small_checkpoint({"add_sub": 1})
    before.measurements[0].metrics["perf_throughput"] = 0.0
    after = copy.deepcopy(before)
    after.measurements[0].metrics["perf_throughput"] = 10.0

    result = compare_checkpoints(before, after)

    assert pd.isna(result.changed.iloc[0]["throughput_change_pct"])


def test_page_shows_changes(working_folder: Path) -> None:
    before = small_checkpoint({"add_sub": 1})
    save(working_folder, 0, before)
    save(working_folder, 1, later_checkpoint(before))

    app = open_page("compare")

    assert not app.exception
    assert selectbox_by_label(app, "Before").value == 0
    assert selectbox_by_label(app, "After").value == 1
    values = metric_values(app)
    assert values["Variants added"] == "1"
    assert values["Measurements added"] == "3"
    assert values["Measured in both"] == str(len(before.measurements))
    assert "add_sub_config_9" in texts(app.markdown)
    assert len(app.dataframe) == 2
    labels = [button.label for button in app.get("download_button")]
    assert "Download compare-changed-ckpt0-ckpt1.csv" in labels
    assert "Download compare-added-ckpt0-ckpt1.csv" in labels


def test_page_same_index_message(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint(seed=1))
    save(working_folder, 1, small_checkpoint(seed=2))
    app = open_page("compare")

    selectbox_by_label(app, "Before").set_value(1).run()

    assert "Choose two different checkpoints" in texts(app.info)
    assert not app.dataframe


def test_page_warns_about_other_hardware(working_folder: Path) -> None:
    before = small_checkpoint(seed=1)
    after = small_checkpoint(seed=2)
    after.machine.gpus.append(GpuInfo("Other GPU", "GPU-1"))
    save(working_folder, 0, before)
    save(working_folder, 1, after)

    app = open_page("compare")

    assert "different hardware" in texts(app.warning)


def test_page_needs_two_checkpoints(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint())
    (working_folder / "checkpoints" / "1.ckpt").write_text("")

    app = open_page("compare")

    assert not app.exception
    assert "holds 1 checkpoint(s) that load" in texts(app.info)
