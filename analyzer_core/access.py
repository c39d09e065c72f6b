"""Access checks for the directories the dashboard opens: allowed roots only.

The dashboard takes model repositories and checkpoint directories as text from
the browser, so every such path is resolved (``..`` removed, symlinks followed)
and must then lie under one of the allowed roots. By default these are the
working folder and the bundled example model repository. The environment
variable ``ANALYZER_ALLOWED_ROOTS`` replaces them with its own list, separated
by ``os.pathsep`` (``:`` on Linux); relative entries are taken from the working
folder.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

from analyzer_core.errors import AnalyzerError

logger = logging.getLogger(__name__)

ALLOWED_ROOTS_VARIABLE = "ANALYZER_ALLOWED_ROOTS"
BUNDLED_MODEL_REPOSITORY = (
    Path(__file__).resolve().parent.parent / "examples" / "model_repository"
)


class AccessError(AnalyzerError):
    """A path the dashboard rejects: outside the allowed roots, missing, or a file."""


def allowed_roots(
    working_folder: Path, environment: Mapping[str, str] | None = None
) -> list[Path]:
    """List the resolved allowed roots, from the environment or the defaults."""
    environment = os.environ if environment is None else environment
    configured = environment.get(ALLOWED_ROOTS_VARIABLE, "").strip()
    if configured:
        entries = [Path(entry) for entry in configured.split(os.pathsep) if entry]
    else:
        entries = [working_folder, BUNDLED_MODEL_REPOSITORY]

    roots = [(working_folder / entry).resolve() for entry in entries]
    return list(dict.fromkeys(roots))


def resolve_allowed(
    text: str | Path, working_folder: Path, roots: list[Path], what: str
) -> Path:
    """Resolve ``text`` against the working folder and check it is under a root.

    ``what`` names the path in messages, for example "Model repository".
    Raises AccessError for an empty path or one outside every root.
    """
    raw = str(text).strip()
    if not raw:
        raise AccessError(f"{what} is empty; enter a directory path.")

    if "\0" in raw:
        raise AccessError(f"{what} {raw!r} contains a NUL character; remove it.")
    try:
        resolved = (working_folder / Path(raw).expanduser()).resolve()
    except RuntimeError as error:
        # expanduser raises this for ~name when no user "name" exists.
        raise AccessError(f"{what} {raw}: {error} Enter another path.") from error
    if any(resolved.is_relative_to(root) for root in roots):
        return resolved

    logger.warning("Rejected %s %s (resolves to %s)", what.lower(), raw, resolved)
    raise AccessError(
        f"{what} {raw} resolves to {resolved}, which is outside the allowed roots: "
        f"{describe_roots(roots)}. Choose a directory under one of them, or set "
        f"{ALLOWED_ROOTS_VARIABLE} (paths separated by '{os.pathsep}') before "
        "starting the dashboard."
    )


def resolve_existing_directory(
    text: str | Path, working_folder: Path, roots: list[Path], what: str
) -> Path:
    """Resolve as :func:`resolve_allowed`, then require an existing directory."""
    resolved = resolve_allowed(text, working_folder, roots, what)
    if not resolved.exists():
        raise AccessError(f"{what} {resolved} not found; check the path.")
    if not resolved.is_dir():
        raise AccessError(f"{what} {resolved} is a file, expected a directory.")
    return resolved


def describe_roots(roots: list[Path]) -> str:
    """Join the roots into one line for messages."""
    return ", ".join(str(root) for root in roots)


def display_path(path: Path, working_folder: Path) -> str:
    """Show ``path`` relative to the working folder when it lies under it."""
    resolved_folder = working_folder.resolve()
    if path.is_relative_to(resolved_folder):
        return str(path.relative_to(resolved_folder))
    return str(path)
