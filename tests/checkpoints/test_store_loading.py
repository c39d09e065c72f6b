"""Loading checkpoints: which names are checkpoints, damaged files, schema versions."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pytest
from checkpoint_helpers import (
    DAMAGED_CONTENTS,
    digests,
    sample_data,
    save_sample,
)

from analyzer_core.checkpoints import store
from analyzer_core.checkpoints.schema import SCHEMA_VERSION
from analyzer_core.checkpoints.store import (
    CheckpointWriter,
    checkpoint_index,
    list_checkpoints,
    load_checkpoint,
    read_checkpoint_file,
    scan_directory,
    upgrade_document,
)
from analyzer_core.errors import CheckpointError

OTHER_NAMES = ["notes.txt", "backup.ckpt", "10.old.ckpt", "007.ckpt", ".DS_Store"]
STORE_LOGGER = "analyzer_core.checkpoints.store"


def write_others(directory: Path) -> None:
    for name in OTHER_NAMES:
        # Content that would fail to load, to prove these files are never read.
        (directory / name).write_bytes(b"not a checkpoint")


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.levelno == logging.WARNING and record.name == STORE_LOGGER
    ]


@pytest.mark.parametrize(
    ("name", "index"),
    [("0.ckpt", 0), ("1.ckpt", 1), ("10.ckpt", 10), ("12345.ckpt", 12345)],
)
def test_index_of_checkpoint_name(name, index):
    assert checkpoint_index(name) == index


@pytest.mark.parametrize(
    "name",
    [
        *OTHER_NAMES,
        "00.ckpt",
        "-1.ckpt",
        "+1.ckpt",
        "1.CKPT",
        "1.ckpt.tmp",
        "1.ckpt\n",
        " 1.ckpt",
        "1 .ckpt",
        ".ckpt",
        "ckpt",
        "\u0661.ckpt",  # ARABIC-INDIC DIGIT ONE
        "1e3.ckpt",
        "0x1.ckpt",
    ],
)
def test_index_of_other_name(name):
    assert checkpoint_index(name) is None


def test_scan_lists_indices_ascending(tmp_path):
    for index in (10, 0, 1):
        save_sample(tmp_path, index)
    checkpoints, others = scan_directory(tmp_path)
    assert [item.index for item in checkpoints] == [0, 1, 10]
    assert others == []


def test_scan_separates_other_files(tmp_path):
    save_sample(tmp_path, 0)
    write_others(tmp_path)
    checkpoints, others = scan_directory(tmp_path)
    assert [item.index for item in checkpoints] == [0]
    assert others == sorted(OTHER_NAMES)


def test_scan_directory_named_ckpt_is_other(tmp_path):
    (tmp_path / "3.ckpt").mkdir()
    checkpoints, others = scan_directory(tmp_path)
    assert checkpoints == []
    assert others == ["3.ckpt"]


def test_scan_missing_directory_is_empty(tmp_path):
    assert scan_directory(tmp_path / "missing") == ([], [])


def test_scan_skips_lock_and_temporary_files(tmp_path):
    (tmp_path / ".analyzer_core.lock").write_text('{"pid": 1}')
    (tmp_path / ".tmp-0.ckpt-0a1b2c").write_bytes(b"{")
    assert scan_directory(tmp_path) == ([], [])


def test_other_files_named_in_one_warning(tmp_path, caplog):
    save_sample(tmp_path, 0)
    write_others(tmp_path)
    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        list_checkpoints(tmp_path)
    warnings = warnings_of(caplog)
    assert len(warnings) == 1
    for name in OTHER_NAMES:
        assert name in warnings[0]
    assert str(tmp_path) in warnings[0]


def test_no_warning_without_other_files(tmp_path, caplog):
    save_sample(tmp_path, 0)
    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        list_checkpoints(tmp_path)
    assert warnings_of(caplog) == []


def test_load_skips_other_files(tmp_path, caplog):
    save_sample(tmp_path, 1, measurement_count=2)
    write_others(tmp_path)
    with caplog.at_level(logging.WARNING, logger=STORE_LOGGER):
        loaded = load_checkpoint(tmp_path)
    assert loaded is not None
    assert loaded.index == 1
    assert len(loaded.data.measurements) == 2
    assert len(warnings_of(caplog)) == 1


def test_load_leaves_other_files_alone(tmp_path):
    save_sample(tmp_path, 0)
    write_others(tmp_path)
    before = digests(tmp_path)
    load_checkpoint(tmp_path)
    assert digests(tmp_path) == before


def test_leading_zero_name_is_not_highest_index(tmp_path):
    save_sample(tmp_path, 2)
    (tmp_path / "007.ckpt").write_bytes(b"not a checkpoint")
    loaded = load_checkpoint(tmp_path)
    assert loaded.index == 2
    assert CheckpointWriter(tmp_path, loaded.index).index == 3


def test_load_picks_highest_index(tmp_path):
    save_sample(tmp_path, 0, measurement_count=1)
    save_sample(tmp_path, 10, measurement_count=4)
    save_sample(tmp_path, 9, measurement_count=2)
    loaded = load_checkpoint(tmp_path)
    assert loaded.index == 10
    assert loaded.path == tmp_path / "10.ckpt"
    assert len(loaded.data.measurements) == 4


def test_load_chosen_index(tmp_path):
    save_sample(tmp_path, 0, measurement_count=1)
    save_sample(tmp_path, 1, measurement_count=2)
    loaded = load_checkpoint(tmp_path, index=0)
    assert loaded.index == 0
    assert len(loaded.data.measurements) == 1


def test_load_empty_directory_returns_none(tmp_path):
    assert load_checkpoint(tmp_path) is None


def test_load_missing_directory_returns_none(tmp_path):
    assert load_checkpoint(tmp_path / "missing") is None


def test_load_missing_index_lists_available(tmp_path):
    save_sample(tmp_path, 0)
    save_sample(tmp_path, 2)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path, index=1)
    assert "index 1 not found" in str(raised.value)
    assert "available: 0, 2" in str(raised.value)


def test_load_index_from_empty_directory(tmp_path):
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path, index=0)
    assert "index 0 not found" in str(raised.value)


def test_round_trip_keeps_data(tmp_path):
    data = sample_data(5)
    store.save_checkpoint(tmp_path, 0, data)
    loaded = read_checkpoint_file(tmp_path / "0.ckpt")
    assert loaded.to_json() == data.to_json()


# -- damaged files ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(DAMAGED_CONTENTS))
def test_read_damaged_file_names_it(tmp_path, kind):
    path = tmp_path / "0.ckpt"
    path.write_bytes(DAMAGED_CONTENTS[kind])
    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)
    assert str(path) in str(raised.value)


@pytest.mark.parametrize("kind", sorted(DAMAGED_CONTENTS))
def test_damaged_latest_names_newest_loading_index(tmp_path, kind):
    save_sample(tmp_path, 0)
    save_sample(tmp_path, 1)
    (tmp_path / "2.ckpt").write_bytes(DAMAGED_CONTENTS[kind])
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path)
    message = str(raised.value)
    assert str(tmp_path / "2.ckpt") in message
    assert "--checkpoint-index 1" in message


def test_damaged_files_skipped_in_hint(tmp_path):
    save_sample(tmp_path, 0)
    (tmp_path / "1.ckpt").write_bytes(DAMAGED_CONTENTS["truncated"])
    (tmp_path / "2.ckpt").write_bytes(DAMAGED_CONTENTS["empty"])
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path)
    assert "--checkpoint-index 0" in str(raised.value)
    assert "2.ckpt is empty" in str(raised.value)


def test_hint_without_loading_index(tmp_path):
    (tmp_path / "0.ckpt").write_bytes(DAMAGED_CONTENTS["not_json"])
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path)
    assert "No lower index loads" in str(raised.value)
    assert "--checkpoint-index" not in str(raised.value)


def test_chosen_index_loads_past_damaged_latest(tmp_path):
    save_sample(tmp_path, 0, measurement_count=2)
    (tmp_path / "1.ckpt").write_bytes(DAMAGED_CONTENTS["half"])
    loaded = load_checkpoint(tmp_path, index=0)
    assert loaded.index == 0
    assert len(loaded.data.measurements) == 2


def test_writer_after_damaged_latest_keeps_it(tmp_path):
    save_sample(tmp_path, 0)
    (tmp_path / "1.ckpt").write_bytes(DAMAGED_CONTENTS["truncated"])
    before = digests(tmp_path)
    writer = CheckpointWriter(tmp_path, loaded_index=0)
    writer.save(sample_data(4))
    assert writer.path == tmp_path / "2.ckpt"
    after = digests(tmp_path)
    assert after["0.ckpt"] == before["0.ckpt"]
    assert after["1.ckpt"] == before["1.ckpt"]


def test_unreadable_file_names_cause(tmp_path):
    path = tmp_path / "0.ckpt"
    path.mkdir()
    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)
    assert str(path) in str(raised.value)
    assert "Cannot read" in str(raised.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files without read access")
def test_unreadable_permissions_name_cause(tmp_path):
    path = save_sample(tmp_path, 0)
    path.chmod(0)
    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)
    assert "permission denied" in str(raised.value)


# -- schema versions ------------------------------------------------------------------------


def write_document(path: Path, document: dict) -> Path:
    path.write_text(json.dumps(document))
    return path


def test_newer_schema_names_both_versions(tmp_path):
    newer = SCHEMA_VERSION + 1
    document = dict(sample_data().to_json(), schema_version=newer)
    path = write_document(tmp_path / "0.ckpt", document)
    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)
    message = str(raised.value)
    assert f"schema version {newer}" in message
    assert f"version {SCHEMA_VERSION}" in message
    assert str(path) in message


def test_newer_schema_of_latest_offers_older_index(tmp_path):
    save_sample(tmp_path, 0)
    document = dict(sample_data().to_json(), schema_version=SCHEMA_VERSION + 5)
    write_document(tmp_path / "1.ckpt", document)
    with pytest.raises(CheckpointError) as raised:
        load_checkpoint(tmp_path)
    assert "--checkpoint-index 0" in str(raised.value)


def rename_measurements(document: dict) -> dict:
    """A test upgrade from a made-up older layout that called them ``runs``."""
    document["measurements"] = document.pop("runs")
    return document


NEXT_VERSION = SCHEMA_VERSION + 1


@pytest.fixture
def next_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pretend this program writes the next version and upgrades the current one."""
    monkeypatch.setattr(store, "SCHEMA_VERSION", NEXT_VERSION)
    upgrades = {**store.UPGRADES, SCHEMA_VERSION: rename_measurements}
    monkeypatch.setattr(store, "UPGRADES", upgrades)


def write_current_with_runs(directory: Path) -> Path:
    """Write the current version with ``measurements`` renamed ``runs``."""
    document = sample_data(2).to_json()
    document["runs"] = document.pop("measurements")
    return write_document(directory / "0.ckpt", document)


def test_older_schema_upgraded_in_memory(tmp_path, next_schema):
    path = write_current_with_runs(tmp_path)
    data = read_checkpoint_file(path)
    assert len(data.measurements) == 2
    assert data.measurements[0].metrics["perf_throughput"] == 100.0


def test_older_schema_file_left_unchanged(tmp_path, next_schema):
    path = write_current_with_runs(tmp_path)
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    load_checkpoint(tmp_path)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0.ckpt"]


def test_older_schema_upgrade_logged(tmp_path, next_schema, caplog):
    path = write_current_with_runs(tmp_path)
    with caplog.at_level(logging.INFO, logger=STORE_LOGGER):
        read_checkpoint_file(path)
    expected = f"schema version {SCHEMA_VERSION} as version {NEXT_VERSION}"
    assert expected in caplog.text


def test_older_schema_without_upgrade_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(store, "SCHEMA_VERSION", NEXT_VERSION + 1)
    monkeypatch.setattr(store, "UPGRADES", {NEXT_VERSION: rename_measurements})
    path = write_current_with_runs(tmp_path)
    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)
    expected = f"schema version {SCHEMA_VERSION} is older than version {NEXT_VERSION}"
    assert expected in str(raised.value)


def test_upgrade_chain_applies_steps_in_order():
    steps = {
        1: lambda document: dict(document, trail=["1to2"]),
        2: lambda document: dict(document, trail=[*document["trail"], "2to3"]),
    }
    upgraded = upgrade_document({"schema_version": 1}, 1, target=3, upgrades=steps)
    assert upgraded["trail"] == ["1to2", "2to3"]
    assert upgraded["schema_version"] == 3


@pytest.mark.parametrize("version", [0, -1, "1", True, 1.0, None])
def test_invalid_schema_version_rejected(tmp_path, version):
    document = dict(sample_data().to_json(), schema_version=version)
    path = write_document(tmp_path / "0.ckpt", document)
    with pytest.raises(CheckpointError) as raised:
        read_checkpoint_file(path)
    assert "schema_version" in str(raised.value)
