"""Kill profile runs with SIGKILL and check the checkpoint directory after each kill.

A campaign is one working directory that successive runs resume from until a
run finishes on its own. The round after that starts a fresh campaign. After
every round these rules are checked, and each broken rule is recorded under
its name in ``KillReport.violations``:

- ``modified``: an index that existed before the round changed or vanished.
- ``new_index``: the round added more than one index, or not highest + 1.
- ``damaged``: some ``N.ckpt`` does not load.
- ``saved_lost``: a measurement logged ("Measured ...") before the round's
  last "Saved checkpoint to" line is missing from the highest index.
- ``earlier_lost``: a measurement of the previous highest index is missing.
- ``save_path``: a save went to another file than the round's new index.
- ``exit_status``: a round that was not killed exited with a non-zero status.
"""

from __future__ import annotations

import hashlib
import random
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from analyzer_core.checkpoints.store import (
    checkpoint_index,
    load_checkpoint,
    read_checkpoint_file,
)
from analyzer_core.errors import CheckpointError

MEASURED = re.compile(r"Measured (\S+) batch size (\d+) concurrency (\d+):")
SAVED = re.compile(r"Saved checkpoint to (\S+)")
TEMPORARY_CHECKPOINT = re.compile(r"\.tmp-\d+\.ckpt-")


class Launcher(Protocol):
    """Starts profile runs and reports on them by an opaque handle."""

    def start(self, arguments: list[str], log: Path) -> object: ...

    def running(self, handle: object) -> bool: ...

    def kill(self, handle: object) -> None: ...

    def reap(self, handle: object) -> int:
        """Wait for the run to end; return its wait status (as os.waitpid)."""
        ...


@dataclass
class RoundOutcome:
    killed: bool
    mid_save: bool
    saves_logged: int
    measured_logged: int
    lost_after_last_save: int
    seconds: float


@dataclass
class KillReport:
    root: Path
    outcomes: list[RoundOutcome] = field(default_factory=list)
    violations: dict[str, list[str]] = field(default_factory=dict)
    campaigns: int = 0
    # Names of processes that killed runs left running, if the caller collects them.
    orphans: list[str] = field(default_factory=list)

    @property
    def kills(self) -> int:
        return sum(outcome.killed for outcome in self.outcomes)

    @property
    def mid_save_kills(self) -> int:
        return sum(outcome.mid_save for outcome in self.outcomes)

    @property
    def max_lost(self) -> int:
        return max((o.lost_after_last_save for o in self.outcomes), default=0)

    def violate(self, rule: str, detail: str) -> None:
        self.violations.setdefault(rule, []).append(detail)

    def summary(self) -> str:
        lost = sorted(o.lost_after_last_save for o in self.outcomes if o.killed)
        return (
            f"{len(self.outcomes)} rounds, {self.kills} kills "
            f"({self.mid_save_kills} mid-save) in {self.campaigns} campaigns; "
            f"measurements logged but not yet saved at a kill: max {self.max_lost}, "
            f"median {lost[len(lost) // 2] if lost else 0}"
        )


def checkpoint_digests(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {
        path.name: hashlib.sha256(path.read_bytes()).hexdigest()
        for path in directory.iterdir()
        if checkpoint_index(path.name) is not None
    }


def highest_keys(directory: Path) -> set[tuple]:
    loaded = load_checkpoint(directory)
    if loaded is None:
        return set()
    return {(m.variant, m.batch_size, m.concurrency) for m in loaded.data.measurements}


def logged_keys(lines: list[str]) -> set[tuple]:
    keys = set()
    for line in lines:
        match = MEASURED.search(line)
        if match:
            keys.add((match.group(1), int(match.group(2)), int(match.group(3))))
    return keys


class Campaign:
    """A working directory that successive runs resume from."""

    def __init__(self, root: Path, arguments: Callable[[Path], list[str]]) -> None:
        self.root = root
        self.make_arguments = arguments
        self.number = 0
        self.rounds = 0
        self.workdir = root
        self.renew()

    def renew(self) -> None:
        self.number += 1
        self.workdir = self.root / f"campaign-{self.number:03d}"
        self.workdir.mkdir(parents=True)

    @property
    def checkpoints(self) -> Path:
        return self.workdir / "checkpoints"

    @property
    def arguments(self) -> list[str]:
        return self.make_arguments(self.workdir)

    def next_log(self) -> Path:
        self.rounds += 1
        return self.workdir / f"round-{self.rounds:04d}.log"


def mid_save_seen(directory: Path) -> bool:
    try:
        return any(TEMPORARY_CHECKPOINT.match(p.name) for p in directory.iterdir())
    except FileNotFoundError:
        return False


def directory_state(directory: Path) -> frozenset:
    """Names, sizes and modification times of the entries, without the lock file."""
    state = set()
    try:
        entries = list(directory.iterdir())
    except FileNotFoundError:
        return frozenset()
    for path in entries:
        try:
            info = path.stat()
        except FileNotFoundError:
            continue
        if not path.name.endswith(".lock"):
            state.add((path.name, info.st_size, info.st_mtime_ns))
    return frozenset(state)


def saves_logged(log: Path) -> int:
    try:
        return log.read_bytes().count(b"Saved checkpoint to")
    except FileNotFoundError:
        return 0


def wait_then_kill(
    launcher: Launcher,
    handle: object,
    delay: float,
    log: Path,
    checkpoints: Path,
    saves_to_pass: int | None,
) -> bool:
    """Kill the run after ``delay`` s, or, with ``saves_to_pass`` set, as soon as
    the checkpoint directory changes after that many saves were logged (giving
    up after ``delay`` s). The first change of a save is its temporary file, or
    the target file itself if a save ever wrote in place.

    Return False if the run ended first.
    """
    deadline = time.monotonic() + delay
    state = directory_state(checkpoints)
    while launcher.running(handle):
        if time.monotonic() >= deadline:
            launcher.kill(handle)
            return True
        if saves_to_pass is not None:
            current = directory_state(checkpoints)
            if current != state and saves_logged(log) >= saves_to_pass:
                launcher.kill(handle)
                return True
            state = current
        time.sleep(0.001 if saves_to_pass is not None else 0.005)
    return False


def play_round(
    launcher: Launcher,
    campaign: Campaign,
    report: KillReport,
    delay: float,
    saves_to_pass: int | None = None,
) -> RoundOutcome:
    """Start a run in the campaign, kill it (see wait_then_kill) and check."""
    try:
        before_keys = highest_keys(campaign.checkpoints)
    except CheckpointError:
        # An earlier round broke a rule and damaged the campaign, which is
        # recorded already; later rounds go on in a new one.
        campaign.renew()
        before_keys = set()
    checkpoints = campaign.checkpoints
    before = checkpoint_digests(checkpoints)
    log = campaign.next_log()
    started = time.monotonic()
    handle = launcher.start(campaign.arguments, log)
    killed = wait_then_kill(launcher, handle, delay, log, checkpoints, saves_to_pass)
    wait_status = launcher.reap(handle)
    seconds = time.monotonic() - started
    killed = killed and _signalled(wait_status) == signal.SIGKILL
    outcome = check_round(campaign, report, before, before_keys, log, killed)
    outcome.seconds = seconds
    if not killed and wait_status != 0:
        report.violate("exit_status", f"{log}: wait status {wait_status}")
    report.outcomes.append(outcome)
    if not killed:
        campaign.renew()
        report.campaigns += 1
    return outcome


def _signalled(wait_status: int) -> int | None:
    if wait_status & 0x7F and (wait_status & 0x7F) != 0x7F:
        return wait_status & 0x7F
    return None


def check_round(
    campaign: Campaign,
    report: KillReport,
    before: dict[str, str],
    before_keys: set[tuple],
    log: Path,
    killed: bool,
) -> RoundOutcome:
    checkpoints = campaign.checkpoints
    mid_save = killed and mid_save_seen(checkpoints)
    after = checkpoint_digests(checkpoints)
    _check_files(report, log, before, after)
    _check_loadable(report, checkpoints, after)
    try:
        keys = highest_keys(checkpoints)
    except CheckpointError as error:
        report.violate("damaged", f"{log}: {error}")
        keys = set()
    # A run killed right after the fork may not have opened its log yet.
    lines = log.read_text(errors="replace").splitlines() if log.exists() else []
    saved_at = [i for i, line in enumerate(lines) if SAVED.search(line)]
    saved_keys = logged_keys(lines[: saved_at[-1]]) if saved_at else set()
    for key in sorted(saved_keys - keys):
        report.violate("saved_lost", f"{log}: {key} logged before a save, missing")
    for key in sorted(before_keys - keys):
        report.violate("earlier_lost", f"{log}: {key} of the previous index missing")
    _check_save_paths(report, log, before, [lines[i] for i in saved_at])
    unsaved = logged_keys(lines[saved_at[-1] :] if saved_at else lines) - keys
    return RoundOutcome(
        killed=killed,
        mid_save=mid_save,
        saves_logged=len(saved_at),
        measured_logged=len(logged_keys(lines)),
        lost_after_last_save=len(unsaved),
        seconds=0.0,
    )


def _check_files(
    report: KillReport, log: Path, before: dict[str, str], after: dict[str, str]
) -> None:
    for name, digest in before.items():
        if after.get(name) != digest:
            report.violate("modified", f"{log}: {name} changed or vanished")
    new = sorted(set(after) - set(before))
    expected = f"{_next_index(before)}.ckpt"
    if len(new) > 1 or (new and new[0] != expected):
        report.violate("new_index", f"{log}: new files {new}, expected {expected}")


def _check_loadable(report: KillReport, checkpoints: Path, after: dict) -> None:
    for name in sorted(after):
        try:
            read_checkpoint_file(checkpoints / name)
        except CheckpointError as error:
            report.violate("damaged", str(error))


def _check_save_paths(
    report: KillReport, log: Path, before: dict[str, str], saved_lines: list[str]
) -> None:
    expected = f"{_next_index(before)}.ckpt"
    for line in saved_lines:
        path = Path(SAVED.search(line).group(1))
        if path.name != expected:
            report.violate("save_path", f"{log}: saved to {path}, expected {expected}")


def _next_index(digests: dict[str, str]) -> int:
    indices = [checkpoint_index(name) for name in digests]
    return max((i for i in indices if i is not None), default=-1) + 1


def play_campaigns(
    launcher: Launcher,
    campaign: Campaign,
    kills: int,
    max_delay: float,
    seed: int,
    max_rounds: int,
) -> KillReport:
    """Play rounds until ``kills`` runs were killed.

    Even rounds kill after a random delay of up to ``max_delay`` s. Odd rounds
    kill inside a save, alternately the run's first save and the one after it,
    or after 4 x ``max_delay`` s if no such save comes.
    """
    generator = random.Random(seed)
    report = KillReport(root=campaign.root)
    while report.kills < kills and len(report.outcomes) < max_rounds:
        rounds = len(report.outcomes)
        if rounds % 2:
            saves_to_pass = (rounds // 2) % 2
            play_round(launcher, campaign, report, 4 * max_delay, saves_to_pass)
        else:
            play_round(launcher, campaign, report, generator.uniform(0, max_delay))
    return report
