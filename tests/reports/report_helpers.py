"""Helpers for the report tests: checkpoints on disk, PDF text, a broken renderer.

A module, not a ``conftest.py``, because test modules import the top-level
``conftest`` by name and a second one here would shadow it.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from analyzer_core.checkpoints.store import save_checkpoint
from analyzer_core.records import CheckpointData
from analyzer_core.reports import render
from analyzer_core.reports.render import ChartRenderError


class BrokenRenderer:
    """Stands in for a machine without Chromium: every render fails at once."""

    calls = 0

    def render_pngs(self, requests, scale: float = 2.0) -> list[bytes]:
        BrokenRenderer.calls += 1
        raise ChartRenderError("ChromeNotFoundError: no Chromium in this test")


def disable_charts(monkeypatch: pytest.MonkeyPatch) -> type[BrokenRenderer]:
    """Make report generation run as if Chromium were missing (fast, no browser)."""
    BrokenRenderer.calls = 0
    monkeypatch.setattr(render, "shared_renderer", BrokenRenderer)
    return BrokenRenderer


def save(directory: Path, data: CheckpointData, index: int = 0) -> Path:
    """Save ``data`` as checkpoint ``index`` in ``directory`` and return the directory."""
    save_checkpoint(directory, index, data)
    return directory


def pdf_text(path: Path, layout: bool = False) -> str:
    """Return the text of a PDF as pdftotext (poppler-utils) extracts it.

    With ``layout`` table rows stay on one line, as pdftotext's -layout keeps them.
    """
    options = ["-layout"] if layout else []
    finished = subprocess.run(
        ["pdftotext", *options, str(path), "-"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return finished.stdout
