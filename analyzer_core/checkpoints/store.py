"""Checkpoint files: discovery by index, loading, and atomic saves.

A checkpoint directory contains ``0.ckpt``, ``1.ckpt``, … (a non-negative integer
without leading zeros). Any other file is left alone. A run writes one new
index, the highest present + 1, and its later saves replace that file
atomically; no index is modified after its run ends, renamed or deleted.
Checkpoints are JSON data, parsed and validated field by field, never code.
"""

from __future__ import annotations

import errno
import gc
import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyzer_core.checkpoints.schema import (
    SCHEMA_VERSION,
    checkpoint_from_json,
    checkpoint_to_json,
    upgrade_from_version_1,
)
from analyzer_core.errors import CheckpointError, CheckpointFormatError
from analyzer_core.files import (
    TEMPORARY_PREFIX,
    describe_os_error,
    remove_quietly,
    write_atomically,
)
from analyzer_core.records import CheckpointData

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = re.compile(r"(0|[1-9][0-9]*)\.ckpt")
LOCK_FILE_NAME = ".analyzer_core.lock"
# A save writes ``.tmp-<N>.ckpt-<random>`` first; a kill -9 can leave one behind.
_CHECKPOINT_TEMPORARY = re.compile(r"\.tmp-(0|[1-9][0-9]*)\.ckpt-[0-9a-f]+")

# Upgrades of older documents, applied in memory only: entry N turns a parsed
# document of schema version N into version N + 1. The file is never rewritten.
UPGRADES: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {
    1: upgrade_from_version_1,
}

# Errors that validation code may raise on a wrongly shaped document besides
# CheckpointFormatError, for example OverflowError from float() of a huge integer.
_SHAPE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    OverflowError,
)


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


def checkpoint_index(name: str) -> int | None:
    """Return the index of a file name like ``12.ckpt``, or None for any other name."""
    match = CHECKPOINT_NAME.fullmatch(name)
    return int(match.group(1)) if match else None


def scan_directory(directory: Path) -> tuple[list[CheckpointFile], list[str]]:
    """List checkpoint files by ascending index, and the names of other entries.

    The lock file and temporary files of saves are in neither list. A missing
    directory, or a path that is not a directory, has no checkpoints.
    """
    checkpoints: list[CheckpointFile] = []
    others: list[str] = []
    if not directory.is_dir():
        return checkpoints, others
    for entry in _entries(directory):
        if entry.name == LOCK_FILE_NAME or entry.name.startswith(TEMPORARY_PREFIX):
            continue
        index = checkpoint_index(entry.name)
        checkpoint = _checkpoint_file(entry, index) if index is not None else None
        if checkpoint is None:
            others.append(entry.name)
        else:
            checkpoints.append(checkpoint)
    checkpoints.sort(key=lambda item: item.index)
    return checkpoints, sorted(others)


def _entries(directory: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(directory) as entries:
            return list(entries)
    except OSError as error:
        raise CheckpointError(
            f"Cannot list checkpoint directory {directory}: {describe_os_error(error)}."
        ) from error


def _checkpoint_file(entry: os.DirEntry, index: int) -> CheckpointFile | None:
    """Describe a checkpoint entry; None when it is not a regular file."""
    try:
        if not entry.is_file():
            return None
        stat = entry.stat()
    except FileNotFoundError:
        return None
    return CheckpointFile(index, Path(entry.path), stat.st_mtime, stat.st_size)


def list_checkpoints(directory: Path) -> list[CheckpointFile]:
    """List checkpoint files by ascending index, warning once about other files."""
    checkpoints, others = scan_directory(directory)
    if others:
        logger.warning(
            "Ignoring %d file(s) in %s that are not checkpoints (N.ckpt, N a "
            "non-negative integer without leading zeros): %s",
            len(others),
            directory,
            ", ".join(others),
        )
    return checkpoints


# -- reading ---------------------------------------------------------------------------


def read_checkpoint_file(path: Path) -> CheckpointData:
    """Parse one checkpoint file of either format, raising CheckpointError.

    Any damage (an empty, truncated or non-JSON file, or a wrong layout) raises
    CheckpointError with the path in its message; no other exception escapes.
    """
    raw = _read_bytes(path)
    with _cyclic_gc_paused():
        document = _decode(path, raw)
        return _parse(path, document)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise CheckpointError(
            f"Cannot read checkpoint {path}: {describe_os_error(error)}."
        ) from error
    if not raw.strip():
        raise CheckpointError(f"Checkpoint {path} is empty.")
    return raw


def _decode(path: Path, raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except RecursionError:
        raise CheckpointError(
            f"Checkpoint {path} is nested too deeply to be a checkpoint."
        ) from None
    except ValueError as error:
        # JSONDecodeError, UnicodeDecodeError, and integers past Python's digit limit.
        raise CheckpointError(
            f"Checkpoint {path} is not valid JSON (truncated or damaged): {error}."
        ) from error


def _parse(path: Path, document: Any) -> CheckpointData:
    try:
        return parse_document(document, str(path))
    except CheckpointError as error:
        raise CheckpointError(f"Checkpoint {path}: {error}") from error
    except CheckpointFormatError as error:
        raise CheckpointError(
            f"Checkpoint {path} has an unexpected layout: {error}."
        ) from error
    except _SHAPE_ERRORS as error:
        logger.debug("Validating %s failed", path, exc_info=True)
        raise CheckpointError(
            f"Checkpoint {path} has an unexpected layout: "
            f"{type(error).__name__}: {error}."
        ) from error


def parse_document(document: Any, source: str = "document") -> CheckpointData:
    """Build CheckpointData from a parsed document of either format.

    Raises CheckpointFormatError for a wrong layout and CheckpointError for a
    schema version this program cannot read. ``source`` names the document in
    the log line of an upgrade.
    """
    if isinstance(document, dict) and "ResultManager.results" in document:
        from analyzer_core.checkpoints.model_analyzer import (
            convert_model_analyzer_checkpoint,
        )

        return convert_model_analyzer_checkpoint(document)
    if not isinstance(document, dict):
        raise CheckpointFormatError(f"the top level is a {type(document).__name__}")
    version = document.get("schema_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointFormatError(
            f"schema_version {version!r} is not a positive integer"
        )
    if version > SCHEMA_VERSION:
        raise CheckpointError(
            f"schema version {version} is newer than version {SCHEMA_VERSION}, "
            "the newest this program reads; upgrade analyzer_core to read it."
        )
    if version < SCHEMA_VERSION:
        document = upgrade_document(document, version)
        logger.info(
            "Read %s with schema version %d as version %d (in memory; the file "
            "is unchanged)",
            source,
            version,
            SCHEMA_VERSION,
        )
    return checkpoint_from_json(document)


def upgrade_document(
    document: dict[str, Any],
    version: int,
    target: int | None = None,
    upgrades: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """Apply the upgrades from ``version`` to ``target`` to a parsed document.

    ``target`` defaults to SCHEMA_VERSION and ``upgrades`` to UPGRADES.
    """
    target = SCHEMA_VERSION if target is None else target
    steps = UPGRADES if upgrades is None else upgrades
    for step in range(version, target):
        upgrade = steps.get(step)
        if upgrade is None:
            oldest = min(steps, default=target)
            raise CheckpointError(
                f"schema version {version} is older than version {oldest}, the "
                "oldest this program reads; read it with an older analyzer_core."
            )
        document = upgrade(document)
        document["schema_version"] = step + 1
    return document


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while building many small objects.

    JSON documents contain no reference cycles, but every few hundred new dicts
    trigger a collection that walks the objects built so far. At 100,000
    measurements, pausing it cut the CPU time of a load from about 2.2 s to
    1.5 s on a shared 2-core VM (one measurement, not a benchmark suite).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- loading by index ---------------------------------------------------------------------


def load_checkpoint(
    directory: Path, index: int | None = None
) -> LoadedCheckpoint | None:
    """Load checkpoint ``index``, or the highest index; None when there is none.

    A damaged checkpoint raises CheckpointError naming the newest lower index
    that does load, so the caller can offer it.
    """
    checkpoints = list_checkpoints(directory)
    if not checkpoints:
        if index is not None:
            raise CheckpointError(
                f"Checkpoint index {index} not found: {directory} holds no checkpoint."
            )
        return None
    by_index = {item.index: item for item in checkpoints}
    if index is not None and index not in by_index:
        available = ", ".join(str(i) for i in sorted(by_index))
        raise CheckpointError(
            f"Checkpoint index {index} not found in {directory}; available: "
            f"{available}."
        )
    chosen = by_index[index] if index is not None else checkpoints[-1]
    try:
        data = read_checkpoint_file(chosen.path)
    except CheckpointError as error:
        hint = _fallback_hint(checkpoints, chosen.index)
        raise CheckpointError(f"{error} {hint}") from error
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
            f"The newest checkpoint that loads is {item.path.name}: pass "
            f"--checkpoint-index {item.index} to report on it or resume from it. "
            "The damaged file is kept, and a resumed run saves to a new index."
        )
    return (
        "No lower index loads either; start a fresh run in another "
        "--checkpoint-directory."
    )


# -- writing -------------------------------------------------------------------------------


def save_checkpoint(directory: Path, index: int, data: CheckpointData) -> Path:
    """Write ``data`` to ``<directory>/<index>.ckpt`` atomically; raise CheckpointError."""
    path = directory / f"{index}.ckpt"
    data.saved_at = time.time()
    with _cyclic_gc_paused():
        payload = _encode(data)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        write_atomically(path, payload)
    except OSError as error:
        raise CheckpointError(
            f"Saving checkpoint {path} failed: {describe_os_error(error)}. {_advice(error)} "
            f"The checkpoints already in {directory} are unchanged."
        ) from error
    return path


def _encode(data: CheckpointData) -> bytes:
    """Encode ``data`` as compact JSON.

    json's cycle check is off because it cost 7 to 15 % of json.dumps's CPU
    time for 10,000 measurements with 8 and 0 GPUs (best of 7 runs on a shared
    2-core VM). The records contain no reference cycles, and a config dict
    that contained itself would raise RecursionError.
    """
    document = checkpoint_to_json(data)
    text = json.dumps(document, separators=(",", ":"), check_circular=False)
    return text.encode()


def _advice(error: OSError) -> str:
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return "Free disk space and resume the run."
    if error.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return "Make the directory writable or pick another --checkpoint-directory."
    return "Check the directory and resume the run."


def remove_stale_temporary_files(directory: Path) -> list[str]:
    """Delete temporary files that an interrupted save left; return their names.

    Only the holder of the directory's lock may call this, because a save in
    progress in another process would lose its temporary file.
    """
    if not directory.is_dir():
        return []
    removed = []
    for entry in _entries(directory):
        if _CHECKPOINT_TEMPORARY.fullmatch(entry.name) and entry.is_file():
            remove_quietly(Path(entry.path))
            removed.append(entry.name)
    if removed:
        logger.info(
            "Removed %d temporary file(s) left in %s by an interrupted save: %s",
            len(removed),
            directory,
            ", ".join(sorted(removed)),
        )
    return removed


def highest_index(directory: Path) -> int | None:
    """Return the highest index named in ``directory``, damaged or not."""
    if not directory.is_dir():
        return None
    indices = [checkpoint_index(entry.name) for entry in _entries(directory)]
    return max((index for index in indices if index is not None), default=None)


class CheckpointWriter:
    """Saves one run's data to a single new index, highest existing index + 1.

    The first save creates the file and later saves of the same run replace it
    atomically. A run that never calls ``save`` writes nothing. The caller must
    hold the directory's CheckpointLock.
    """

    def __init__(self, directory: Path, loaded_index: int | None) -> None:
        self.directory = directory
        remove_stale_temporary_files(directory)
        candidates = [highest_index(directory), loaded_index]
        self.index = max((i for i in candidates if i is not None), default=-1) + 1
        self.saves = 0

    @property
    def path(self) -> Path:
        return self.directory / f"{self.index}.ckpt"

    def save(self, data: CheckpointData) -> Path:
        if self.saves == 0 and os.path.lexists(self.path):
            raise CheckpointError(
                f"Checkpoint {self.path} appeared while this run was going; another "
                "process is writing to the directory. Nothing was overwritten."
            )
        path = save_checkpoint(self.directory, self.index, data)
        self.saves += 1
        logger.info("Saved checkpoint to %s", path)
        return path
