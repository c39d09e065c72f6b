"""The ``checkpoints`` command's listing."""

from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path

import pytest

from analyzer_core.checkpoints.store import save_checkpoint
from analyzer_core.commands import checkpoints
from analyzer_core.results.synthetic import synthetic_checkpoint


def test_listing_shows_recorded_save_time(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    data = synthetic_checkpoint({"resnet": 1})
    path = save_checkpoint(tmp_path, 0, data)
    # A copy made a day later keeps the recorded time but not the file's.
    os.utime(path, (data.saved_at + 86_400, data.saved_at + 86_400))
    parser = argparse.ArgumentParser()
    checkpoints.add_arguments(parser)

    assert checkpoints.run(parser.parse_args(["-s", str(tmp_path)])) == 0

    recorded = datetime.datetime.fromtimestamp(data.saved_at)
    [row] = capsys.readouterr().out.splitlines()[1:]
    assert row.split()[1:3] == recorded.strftime("%Y-%m-%d %H:%M:%S").split()
