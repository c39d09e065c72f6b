"""AppTest tests of the Results page on checkpoints written by the test."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from dashboard_fixtures import (  # noqa: F401
    choose_directory,
    open_page,
    save,
    selectbox_by_label,
    small_checkpoint,
    texts,
    working_folder_fixture,
)

from analyzer_core.access import ALLOWED_ROOTS_VARIABLE
from analyzer_core.results.ranking import rank_model
from analyzer_core.results.settings import RankingSettings
from dashboard import shared, table_view

MODEL_ANALYZER_FIXTURE = (
    Path(__file__).resolve().parents[3]
    / "shared"
    / "fixtures"
    / "model-analyzer-single-model-ckpt"
)


def test_latest_checkpoint_shown(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint(seed=1))
    save(working_folder, 1, small_checkpoint({"add_sub": 3, "dense": 2}, seed=2))

    app = open_page("results")

    assert not app.exception
    assert selectbox_by_label(app, "Checkpoint").value == "latest"
    assert app.metric[0].value == "1"
    assert app.metric[1].value == str(
        len(small_checkpoint({"add_sub": 3, "dense": 2}).measurements)
    )
    assert app.selectbox(key="results_model").options == ["add_sub", "dense"]
    assert len(app.get("plotly_chart")) >= 2
    assert len(app.dataframe) >= 1
    labels = [button.label for button in app.get("download_button")]
    assert "Download measurements-ckpt1.csv" in labels
    assert "Download metrics-model-inference-ckpt1.csv" in labels


def test_chosen_index_shown(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint(seed=1))
    save(working_folder, 1, small_checkpoint({"add_sub": 3}, seed=2))
    app = open_page("results")

    selectbox_by_label(app, "Checkpoint").set_value(0).run()

    assert app.metric[0].value == "0"
    labels = [button.label for button in app.get("download_button")]
    assert "Download measurements-ckpt0.csv" in labels


def test_breakdown_variant_choice(working_folder: Path) -> None:
    data = small_checkpoint({"add_sub": 2})
    save(working_folder, 0, data)
    app = open_page("results")
    variants = app.selectbox(key="results_variant:add_sub").options

    assert len(variants) == len(data.variants)

    app.selectbox(key="results_variant:add_sub").set_value("add_sub_config_1").run()
    assert not app.exception


def test_best_variant_named_and_preselected(working_folder: Path) -> None:
    data = small_checkpoint({"add_sub": 3}, seed=3)
    save(working_folder, 0, data)
    ranking = rank_model(data, "add_sub", RankingSettings())
    best = ranking.entries[0]

    app = open_page("results")

    assert f"Best variant by throughput: **{best.name}**" in texts(app.markdown)
    assert app.selectbox(key="results_variant:add_sub").value == best.name


def test_saved_time_read_from_checkpoint(working_folder: Path) -> None:
    data = small_checkpoint(seed=4)
    path = save(working_folder, 0, data)
    os.utime(path, (data.saved_at + 86_400, data.saved_at + 86_400))

    app = open_page("results")

    saved = shared.format_time(data.saved_at)
    assert f"Saved {saved} · " in texts(app.caption)
    label = selectbox_by_label(app, "Checkpoint")
    assert f"saved {saved}" in label.format_func(0)


def test_damaged_latest_offers_others(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint(seed=1))
    save(working_folder, 1, small_checkpoint(seed=2))
    (working_folder / "checkpoints" / "2.ckpt").write_text('{"schema_version": 1,')

    app = open_page("results")

    assert not app.exception
    assert "not valid JSON" in texts(app.error)
    assert "2.ckpt" in texts(app.error)
    assert "these load: 0, 1" in texts(app.info)

    selectbox_by_label(app, "Checkpoint").set_value(1).run()

    assert not app.error
    assert app.metric[0].value == "1"


def test_empty_directory_message(working_folder: Path) -> None:
    app = open_page("results")

    assert not app.exception
    assert "No checkpoint in checkpoints yet" in texts(app.info)


def test_directory_outside_roots_rejected(working_folder: Path) -> None:
    app = open_page("results")

    choose_directory(app, "../")

    assert "outside the allowed roots" in texts(app.error)
    assert not app.get("plotly_chart")


def test_symlink_escape_rejected(working_folder: Path, tmp_path: Path) -> None:
    save(tmp_path, 0, small_checkpoint())
    (working_folder / "linked").symlink_to(tmp_path / "checkpoints")
    app = open_page("results")

    choose_directory(app, "linked")

    assert "outside the allowed roots" in texts(app.error)
    assert not app.get("plotly_chart")


def test_parse_cached_by_file_identity(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save(working_folder, 0, small_checkpoint())
    parsed: list[str] = []
    read = shared.read_checkpoint_file

    def counting_read(checkpoint: Path):
        parsed.append(checkpoint.name)
        return read(checkpoint)

    monkeypatch.setattr(shared, "read_checkpoint_file", counting_read)
    app = open_page("results")
    app.run()
    app.run()

    assert parsed == ["0.ckpt"]

    stat = path.stat()
    os.utime(path, (stat.st_atime, stat.st_mtime + 5))
    app.run()

    assert parsed == ["0.ckpt", "0.ckpt"]


def test_model_analyzer_checkpoint_shown(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not (MODEL_ANALYZER_FIXTURE / "0.ckpt").is_file():
        pytest.skip(f"fixture {MODEL_ANALYZER_FIXTURE} not present")
    roots = os.pathsep.join([str(working_folder), str(MODEL_ANALYZER_FIXTURE)])
    monkeypatch.setenv(ALLOWED_ROOTS_VARIABLE, roots)
    app = open_page("results")

    choose_directory(app, str(MODEL_ANALYZER_FIXTURE))

    assert not app.exception
    assert not app.error
    assert app.selectbox(key="results_model").value == "add_sub"
    assert len(app.get("plotly_chart")) >= 2


def test_tables_show_chosen_model(working_folder: Path) -> None:
    data = small_checkpoint({"add_sub": 2, "dense": 3})
    save(working_folder, 0, data)
    app = open_page("results")

    app.selectbox(key="results_model").set_value("dense").run()

    measurements = app.dataframe[0].value
    assert set(measurements["model"]) == {"dense"}
    assert len(measurements) == sum(1 for m in data.measurements if m.model == "dense")
    labels = [button.label for button in app.get("download_button")]
    assert "Download measurements-ckpt0.csv" in labels
    assert "Download measurements-dense-ckpt0.csv" in labels


def test_large_table_paged(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_view, "PAGE_ROWS", 5)
    data = small_checkpoint({"add_sub": 3})
    rows = len(data.measurements)
    save(working_folder, 0, data)
    app = open_page("results")
    page_input = app.number_input(key="page:results:measurements")

    assert rows == 12
    assert page_input.value == 1
    assert page_input.max == 3
    assert len(app.dataframe[0].value) == 5
    assert f"Rows 1–5 of {rows}" in texts(app.caption)

    page_input.set_value(3).run()

    assert len(app.dataframe[0].value) == 2
    assert f"Rows 11–12 of {rows}" in texts(app.caption)


def test_page_clamped_when_table_shrinks(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(table_view, "PAGE_ROWS", 4)
    data = small_checkpoint({"add_sub": 3, "dense": 1})
    dense_rows = sum(1 for m in data.measurements if m.model == "dense")
    save(working_folder, 0, data)
    app = open_page("results")
    app.number_input(key="page:results:measurements").set_value(3).run()

    app.selectbox(key="results_model").set_value("dense").run()

    assert dense_rows == 6
    assert not app.exception
    assert app.number_input(key="page:results:measurements").value == 2
    assert "Rows 5–6 of 6" in texts(app.caption)


def test_directory_switch_resets_index(working_folder: Path) -> None:
    save(working_folder, 0, small_checkpoint(seed=1))
    save(working_folder, 1, small_checkpoint(seed=2))
    other = working_folder / "other"
    save(other, 0, small_checkpoint({"add_sub": 2}, seed=3))
    save(other, 1, small_checkpoint({"add_sub": 3}, seed=4))
    app = open_page("results")
    selectbox_by_label(app, "Checkpoint").set_value(0).run()

    choose_directory(app, str(other / "checkpoints"))

    box = selectbox_by_label(app, "Checkpoint")
    assert box.value == "latest"
    assert app.metric[0].value == "1"
