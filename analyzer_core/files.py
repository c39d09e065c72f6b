"""Files that readers see whole: atomic replacement, and OS errors in words.

Checkpoints, job records, status files, CSV tables and reports are all written
through :func:`write_atomically`, so a reader never sees half a file and a
failed write leaves the previous content in place.
"""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

# Temporary files are ``.tmp-<name>-<random>`` beside the file they replace.
TEMPORARY_PREFIX = ".tmp-"


def write_atomically(path: Path, payload: bytes) -> None:
    """Replace ``path`` with ``payload`` so that a reader sees the old or new file whole.

    The bytes go to a temporary file in the same directory, which is flushed,
    fsynced and renamed over ``path``. Then the directory itself is fsynced, so
    the rename survives a power loss. On any error the temporary file is
    removed and ``path`` keeps its previous content.
    """
    directory = path.parent
    temporary, descriptor = _create_temporary(path)
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        remove_quietly(temporary)
        raise
    _fsync_directory(directory)


def _create_temporary(path: Path) -> tuple[Path, int]:
    """Create ``.tmp-<name>-<random>`` beside ``path`` with the umask's permissions."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        name = f"{TEMPORARY_PREFIX}{path.name}-{secrets.token_hex(6)}"
        temporary = path.parent / name
        try:
            return temporary, os.open(temporary, flags, 0o666)
        except FileExistsError:
            continue


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_quietly(path: Path) -> None:
    try:
        path.unlink()
    except OSError:
        pass


def describe_os_error(error: OSError) -> str:
    """Name the cause of ``error`` in words: a full disk, a read-only file system…"""
    if error.errno in (errno.ENOSPC, errno.EDQUOT):
        return f"the disk is full ({error.strerror})"
    if error.errno == errno.EROFS:
        return f"the file system is read-only ({error.strerror})"
    if error.errno in (errno.EACCES, errno.EPERM):
        return f"permission denied ({error.strerror})"
    return error.strerror or str(error)
