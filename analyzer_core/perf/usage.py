"""Check, before a run starts, that perf_analyzer accepts every flag it will get.

perf_analyzer run without arguments prints its usage text (and exits 99 in
2.51). The flags listed there are read once per executable and environment,
and kept for the life of the process.
"""

from __future__ import annotations

import logging
import re
import subprocess
from pathlib import Path

from analyzer_core.errors import ConfigError

logger = logging.getLogger(__name__)

USAGE_TIMEOUT_SECONDS = 30.0

_FLAGS_BY_EXECUTABLE: dict[tuple[Path, int, int, int], frozenset[str]] = {}

# A flag at the start of a usage line ("\t--collect-metrics", " -m: ...") or an
# alias in brackets ("--measurement-interval (-p)").
_LISTED_FLAG = re.compile(r"^\s+(-{1,2}[A-Za-z][\w-]*)|\((-{1,2}[A-Za-z][\w-]*)\)")
_FLAG_TOKEN = re.compile(r"^(-{1,2}[A-Za-z][\w-]*)")


def flag_names(arguments: list[str]) -> list[str]:
    """Return the flag names in a command line without values (``--a=1`` gives
    ``--a``)."""
    names = []
    for argument in arguments:
        match = _FLAG_TOKEN.match(argument)
        if match and match.group(1) not in names:
            names.append(match.group(1))
    return names


def parse_usage(text: str) -> frozenset[str]:
    """Read the flag names listed in perf_analyzer's usage text."""
    flags = set()
    for line in text.splitlines():
        for match in _LISTED_FLAG.finditer(line):
            flags.add(match.group(1) or match.group(2))
    return frozenset(flags)


def supported_flags(executable: Path, environment: dict[str, str]) -> frozenset[str]:
    """Return the flags the usage of ``executable`` lists, running it at most once
    per file version (path, size and modification time) and environment."""
    stat = executable.stat()
    key = (
        executable.resolve(),
        stat.st_size,
        stat.st_mtime_ns,
        hash(frozenset(environment.items())),
    )
    if key not in _FLAGS_BY_EXECUTABLE:
        _FLAGS_BY_EXECUTABLE[key] = _read_usage(executable, environment)
    return _FLAGS_BY_EXECUTABLE[key]


def _read_usage(executable: Path, environment: dict[str, str]) -> frozenset[str]:
    logger.debug("Reading the usage text of %s", executable)
    try:
        finished = subprocess.run(
            [str(executable)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=USAGE_TIMEOUT_SECONDS,
            env=environment,
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ConfigError(
            f"perf_analyzer at {executable} could not be run to read its usage: "
            f"{error}; check --perf-analyzer-path."
        ) from error
    output = (finished.stdout + finished.stderr).decode("utf-8", errors="replace")
    flags = parse_usage(output)
    if not flags:
        raise ConfigError(
            f"perf_analyzer at {executable} printed no usage text (exit status "
            f"{finished.returncode}); its output ends with: {output[-500:]!r}. "
            "Check --perf-analyzer-path and that its libraries load."
        )
    return flags


def check_flags(
    executable: Path, environment: dict[str, str], needed: list[str]
) -> None:
    """Raise ConfigError naming each flag in ``needed`` that perf_analyzer lacks."""
    supported = supported_flags(executable, environment)
    missing = [flag for flag in needed if flag not in supported]
    if missing:
        raise ConfigError(
            f"perf_analyzer at {executable} does not accept {', '.join(missing)}; "
            "use perf_analyzer from tritonclient 2.51 (--perf-analyzer-path) or "
            "remove those flags from --perf-analyzer-flags."
        )
