"""Tests of analyzer_core.access: paths are resolved, then checked against roots."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analyzer_core.access import (
    ALLOWED_ROOTS_VARIABLE,
    BUNDLED_MODEL_REPOSITORY,
    AccessError,
    allowed_roots,
    display_path,
    resolve_allowed,
    resolve_existing_directory,
)


@pytest.fixture
def working_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    (folder / "checkpoints").mkdir(parents=True)
    (tmp_path / "outside").mkdir()
    return folder


def default_roots(working_folder: Path) -> list[Path]:
    return allowed_roots(working_folder, environment={})


def test_default_roots(working_folder: Path) -> None:
    roots = default_roots(working_folder)

    assert roots == [working_folder.resolve(), BUNDLED_MODEL_REPOSITORY]


def test_environment_replaces_roots(working_folder: Path, tmp_path: Path) -> None:
    value = os.pathsep.join([str(tmp_path / "outside"), "relative", ""])

    roots = allowed_roots(working_folder, {ALLOWED_ROOTS_VARIABLE: value})

    assert roots == [(tmp_path / "outside").resolve(), working_folder / "relative"]


def test_relative_path_inside(working_folder: Path) -> None:
    resolved = resolve_allowed(
        "checkpoints", working_folder, default_roots(working_folder), "Checkpoint"
    )

    assert resolved == (working_folder / "checkpoints").resolve()


def test_bundled_example_allowed(working_folder: Path) -> None:
    resolved = resolve_existing_directory(
        BUNDLED_MODEL_REPOSITORY,
        working_folder,
        default_roots(working_folder),
        "Model repository",
    )

    assert resolved == BUNDLED_MODEL_REPOSITORY


def test_absolute_outside_rejected(working_folder: Path, tmp_path: Path) -> None:
    roots = default_roots(working_folder)

    with pytest.raises(AccessError) as raised:
        resolve_allowed(tmp_path / "outside", working_folder, roots, "Checkpoint")

    assert "outside the allowed roots" in str(raised.value)
    assert str(working_folder.resolve()) in str(raised.value)
    assert str(BUNDLED_MODEL_REPOSITORY) in str(raised.value)
    assert ALLOWED_ROOTS_VARIABLE in str(raised.value)


def test_dot_dot_escape_rejected(working_folder: Path) -> None:
    roots = default_roots(working_folder)

    with pytest.raises(AccessError, match="outside the allowed roots"):
        resolve_allowed("checkpoints/../../outside", working_folder, roots, "Path")


def test_dot_dot_staying_inside_allowed(working_folder: Path) -> None:
    roots = default_roots(working_folder)

    resolved = resolve_allowed("checkpoints/../checkpoints", working_folder, roots, "P")

    assert resolved == (working_folder / "checkpoints").resolve()


def test_symlink_escape_rejected(working_folder: Path, tmp_path: Path) -> None:
    (working_folder / "link").symlink_to(tmp_path / "outside")
    roots = default_roots(working_folder)

    with pytest.raises(AccessError, match="outside the allowed roots"):
        resolve_existing_directory("link", working_folder, roots, "Checkpoint")


def test_symlinked_parent_escape_rejected(working_folder: Path, tmp_path: Path) -> None:
    (working_folder / "link").symlink_to(tmp_path / "outside")
    roots = default_roots(working_folder)

    with pytest.raises(AccessError, match="outside the allowed roots"):
        resolve_allowed("link/new_directory", working_folder, roots, "Checkpoint")


def test_symlink_inside_root_allowed(working_folder: Path) -> None:
    (working_folder / "alias").symlink_to(working_folder / "checkpoints")
    roots = default_roots(working_folder)

    resolved = resolve_existing_directory("alias", working_folder, roots, "P")

    assert resolved == (working_folder / "checkpoints").resolve()


def test_prefix_sibling_rejected(working_folder: Path, tmp_path: Path) -> None:
    sibling = tmp_path / "work-other"
    sibling.mkdir()
    roots = default_roots(working_folder)

    with pytest.raises(AccessError, match="outside the allowed roots"):
        resolve_allowed(sibling, working_folder, roots, "Checkpoint")


def test_empty_path_rejected(working_folder: Path) -> None:
    roots = default_roots(working_folder)

    with pytest.raises(AccessError, match="is empty"):
        resolve_allowed("  ", working_folder, roots, "Checkpoint directory")


def test_missing_directory_rejected(working_folder: Path) -> None:
    roots = default_roots(working_folder)

    with pytest.raises(AccessError, match="not found"):
        resolve_existing_directory("missing", working_folder, roots, "Checkpoint")


def test_file_rejected(working_folder: Path) -> None:
    (working_folder / "notes.txt").write_text("x")
    roots = default_roots(working_folder)

    with pytest.raises(AccessError, match="is a file"):
        resolve_existing_directory("notes.txt", working_folder, roots, "Checkpoint")


def test_display_path(working_folder: Path, tmp_path: Path) -> None:
    inside = (working_folder / "checkpoints").resolve()

    assert display_path(inside, working_folder) == "checkpoints"
    assert display_path(tmp_path / "outside", working_folder) == str(
        tmp_path / "outside"
    )


@pytest.mark.parametrize(
    "text, message",
    [("~no_such_user_here/x", "home directory"), ("models\0x", "NUL character")],
)
def test_unresolvable_path_rejected(tmp_path, text, message):
    with pytest.raises(AccessError, match=message):
        resolve_allowed(text, tmp_path, [tmp_path], "Model repository")
