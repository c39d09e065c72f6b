"""Shared test fixtures: paths of the repository and its bundled example."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_REPOSITORY = REPOSITORY_ROOT / "examples" / "model_repository"
SHARED_FIXTURES = REPOSITORY_ROOT.parent / "shared" / "fixtures"


@pytest.fixture
def example_repository() -> Path:
    return EXAMPLE_REPOSITORY


def run_cli(
    *arguments: str, cwd: Path, timeout: float = 600
) -> subprocess.CompletedProcess:
    """Run ``python -m analyzer_core`` in ``cwd`` and return the finished process."""
    environment = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.run(
        [sys.executable, "-m", "analyzer_core", *arguments],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=environment,
    )
