"""Checkpoint files: discovery by index, loading, and atomic saves.

A checkpoint directory holds ``0.ckpt``, ``1.ckpt``, … (a non-negative integer
without leading zeros). Any other file is left alone. Files are never modified
after the run that wrote them ends, and never renamed or deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from analyzer_core.errors import CheckpointError, CheckpointFormatError
from analyzer_core.records import SCHEMA_VERSION, CheckpointData

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = re.compile(r"^(0|[1-9][0-9]*)\.ckpt$")
LOCK_FILE_NAME = ".analyzer_core.lock"
_TEMPORARY_PREFIX = ".tmp-"


@dataclass(frozen=True)
class CheckpointFile:
    index: int
    path: Path
    modified_at: float
    size_bytes: int


@dataclass
class LoadedCheckpoint:
    index: int
    path: Path
    data: CheckpointData


def scan_directory(directory: Path) -> tuple[list[CheckpointFile], list[str]]:
    """List checkpoint files by ascending index, and the names of other files."""
    checkpoints: list[CheckpointFile] = []
    others: list[str] = []
    if not directory.is_dir():
        return checkpoints, others
    for entry in os.scandir(directory):
        if entry.name == LOCK_FILE_NAME or entry.name.startswith(_TEMPORARY_PREFIX):
            continue
        match = CHECKPOINT_NAME.match(entry.name)
        if match is None or not entry.is_file():
            others.append(entry.name)
            continue
        stat = entry.stat()
        checkpoints.append(
            CheckpointFile(int(match.group(1)), Path(entry.path), stat.st_mtime, stat.st_size)
        )
    checkpoints.sort(key=lambda item: item.index)
    return checkpoints, sorted(others)


def list_checkpoints(directory: Path) -> list[CheckpointFile]:
    """List checkpoint files by ascending index, warning once about other files."""
    checkpoints, others = scan_directory(directory)
    if others:
        logger.warning(
            "Ignoring files in %s that are not checkpoints (N.ckpt): %s",
            directory,
            ", ".join(others),
        )
    return checkpoints


def read_checkpoint_file(path: Path) -> CheckpointData:
    """Parse one checkpoint file of either format, raising CheckpointError."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CheckpointError(f"Cannot read checkpoint {path}: {error.strerror}.") from error
    if not raw.strip():
        raise CheckpointError(f"Checkpoint {path} is empty.")
    try:
        document = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(
            f"Checkpoint {path} is not valid JSON (truncated or damaged): {error}."
        ) from error
    except RecursionError:
        raise CheckpointError(f"Checkpoint {path} is nested too deeply to be a checkpoint.")
    try:
        return _parse_document(document)
    except CheckpointFormatError as error:
        raise CheckpointError(f"Checkpoint {path} has an unexpected layout: {error}.") from error
    except CheckpointError as error:
        raise CheckpointError(f"Checkpoint {path}: {error}") from error


def _parse_document(document: object) -> CheckpointData:
    if isinstance(document, dict) and "ResultManager.results" in document:
        from analyzer_core.checkpoints.model_analyzer import convert_model_analyzer_checkpoint

        return convert_model_analyzer_checkpoint(document)
    if not isinstance(document, dict):
        raise CheckpointFormatError(f"the top level is a {type(document).__name__}")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointFormatError(f"schema_version {version!r} is not a positive integer")
    if version > SCHEMA_VERSION:
        raise CheckpointError(
            f"schema version {version} is newer than this program reads "
            f"(version {SCHEMA_VERSION}); upgrade analyzer_core to read it."
        )
    return CheckpointData.from_json(document)


def load_checkpoint(directory: Path, index: int | None = None) -> LoadedCheckpoint | None:
    """Load checkpoint ``index``, or the highest index; None when there is none.

    A damaged highest checkpoint raises CheckpointError naming the newest index
    that does load, so the caller can offer it.
    """
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        return None
    by_index = {item.index: item for item in checkpoints}
    if index is not None and index not in by_index:
        available = ", ".join(str(i) for i in sorted(by_index))
        raise CheckpointError(
            f"Checkpoint index {index} not found in {directory}; available: {available}."
        )
    chosen = by_index[index] if index is not None else checkpoints[-1]
    try:
        data = read_checkpoint_file(chosen.path)
    except CheckpointError as error:
        raise CheckpointError(f"{error} {_fallback_hint(checkpoints, chosen.index)}") from error
    return LoadedCheckpoint(chosen.index, chosen.path, data)


def _fallback_hint(checkpoints: list[CheckpointFile], failed_index: int) -> str:
    for item in reversed(checkpoints):
        if item.index >= failed_index:
            continue
        try:
            read_checkpoint_file(item.path)
        except CheckpointError:
            continue
        return (
            f"The newest checkpoint that loads is {item.path.name}; pick it with "
            f"--checkpoint-index {item.index} (the damaged file is kept)."
        )
    return "No older checkpoint loads either; start a fresh run in another directory."


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so that a reader sees the old or new file whole.

    The bytes go to a temporary file in the same directory, which is flushed,
    fsynced and renamed over ``path``; then the directory itself is fsynced.
    """
    directory = path.parent
    descriptor, temporary = tempfile.mkstemp(prefix=_TEMPORARY_PREFIX, dir=directory)
    try:
        # mkstemp creates the file as 0600; give it the mode a plain open() would.
        os.fchmod(descriptor, 0o666 & ~_current_umask())
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        _remove_quietly(Path(temporary))
        raise
    directory_descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(directory_descriptor)
    finally:
        os.close(directory_descriptor)


def _current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def save_checkpoint(directory: Path, index: int, data: CheckpointData) -> Path:
    """Write ``data`` to ``<directory>/<index>.ckpt`` atomically; raise CheckpointError."""
    path = directory / f"{index}.ckpt"
    data.saved_at = time.time()
    payload = json.dumps(data.to_json(), separators=(",", ":")).encode()
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(path, payload)
    except OSError as error:
        raise CheckpointError(
            f"Saving checkpoint {path} failed: {error.strerror or error}. "
            "Free disk space or make the directory writable; earlier checkpoints are intact."
        ) from error
    return path


class CheckpointWriter:
    """Saves one run's data to a single new index, highest existing index + 1.

    The first save creates the file; later saves of the same run replace it
    atomically. A run that never calls ``save`` writes nothing.
    """

    def __init__(self, directory: Path, loaded_index: int | None) -> None:
        self.directory = directory
        existing = [item.index for item in scan_directory(directory)[0]]
        highest = max(existing + ([loaded_index] if loaded_index is not None else []), default=-1)
        self.index = highest + 1
        self.saves = 0

    @property
    def path(self) -> Path:
        return self.directory / f"{self.index}.ckpt"

    def save(self, data: CheckpointData) -> Path:
        if self.saves == 0 and self.path.exists():
            raise CheckpointError(
                f"Checkpoint {self.path} appeared while this run was going; another "
                "process is writing to the directory. Nothing was overwritten."
            )
        path = save_checkpoint(self.directory, self.index, data)
        self.saves += 1
        logger.info("Saved checkpoint to %s", path)
        return path
