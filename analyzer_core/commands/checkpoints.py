"""``checkpoints``: list each checkpoint index with its time and measurement count."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from analyzer_core.checkpoints.store import list_checkpoints, read_checkpoint_file
from analyzer_core.errors import CheckpointError
from analyzer_core.validation import check_checkpoint_directory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint-directory",
        "-s",
        type=Path,
        default=Path("checkpoints"),
        help="directory of N.ckpt files (default: ./checkpoints)",
    )


def run(args: argparse.Namespace) -> int:
    directory: Path = args.checkpoint_directory
    check_checkpoint_directory(directory, "--checkpoint-directory")
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        raise CheckpointError(
            f"No checkpoint found in {directory}; create one with "
            f"'python -m analyzer_core profile --checkpoint-directory {directory}'."
        )
    print(f"{'index':>5}  {'saved':19}  {'measurements':>12}  {'size':>10}  models")
    for item in checkpoints:
        saved = datetime.datetime.fromtimestamp(item.modified_at).strftime(
            "%Y-%m-%d %H:%M:%S"
        )
        try:
            data = read_checkpoint_file(item.path)
        except CheckpointError as error:
            print(
                f"{item.index:>5}  {saved}  {'damaged':>12}  {item.size_bytes:>10}  {error}"
            )
            continue
        if data.saved_at is not None:
            # The time recorded in the file, which a copy keeps.
            saved = datetime.datetime.fromtimestamp(data.saved_at).strftime(
                "%Y-%m-%d %H:%M:%S"
            )
        models = ", ".join(data.models()) or "-"
        count = len(data.measurements)
        print(f"{item.index:>5}  {saved}  {count:>12}  {item.size_bytes:>10}  {models}")
    return 0
