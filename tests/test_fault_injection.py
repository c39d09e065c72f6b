"""kill -9 of profile runs at random moments, including in the middle of a save.

Three loops, each checking the rules listed in ``tests/fakes/kill_rounds.py``
after every round (no index modified, at most one new index, every file loads,
every measurement logged before a "Saved checkpoint" line survives):

- forked: 200 kills of ``analyzer_core.cli.main`` forked from a driver that
  imported it already (``tests/fakes/fork_profiler.py``), with the stand-in
  Triton and the stand-in perf_analyzer. Half the kills come at a random
  time, and half the moment a save starts to change the checkpoint directory.
  Checkpoint fsyncs are slowed by 5 ms, so the second kind lands inside saves.
- process: kills of the real ``python -m analyzer_core profile`` process with
  the stand-in perf_analyzer, against one real Triton that the test starts and
  the runs use in remote launch mode, so no round pays Triton's start-up.
- slow: kills of the real command line in local launch mode with the real
  Triton and the real perf_analyzer.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from fakes.kill_rounds import Campaign, KillReport, play_campaigns
from fakes.profile_runs import profile_arguments

from analyzer_core.triton.server import LocalTritonServer

FAKES = Path(__file__).resolve().parent / "fakes"
FORK_DRIVER = FAKES / "fork_profiler.py"
FORKED_KILLS = 200
PROCESS_KILLS = 8
SLOW_KILLS = 3
STAND_IN_SECONDS = "0.005"


class ForkLauncher:
    """Starts runs through the fork driver; a run's handle is its pid."""

    def __init__(self, fsync_delay: float) -> None:
        self.fsync_delay = fsync_delay
        self.driver = subprocess.Popen(
            [sys.executable, str(FORK_DRIVER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=dict(os.environ, STAND_IN_PERF_SECONDS=STAND_IN_SECONDS),
        )
        assert "ready" in self._receive()
        self.children: set[int] = set()

    def _send(self, request: dict) -> dict:
        self.driver.stdin.write(json.dumps(request) + "\n")
        self.driver.stdin.flush()
        return self._receive()

    def _receive(self) -> dict:
        line = self.driver.stdout.readline()
        assert line, "the fork driver exited"
        return json.loads(line)

    def start(self, arguments: list[str], log: Path) -> int:
        request = {"run": arguments, "log": str(log), "fsync_delay": self.fsync_delay}
        pid = self._send(request)["pid"]
        self.children.add(pid)
        return pid

    def running(self, pid: int) -> bool:
        try:
            return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            return False

    def kill(self, pid: int) -> None:
        os.kill(pid, signal.SIGKILL)

    def reap(self, pid: int) -> int:
        self.children.discard(pid)
        return self._send({"reap": pid})["status"]

    def close(self) -> None:
        for pid in list(self.children):
            self.kill(pid)
            self.reap(pid)
        self.driver.stdin.close()
        self.driver.wait(timeout=30)
        self.driver.stdout.close()


class ProcessLauncher:
    """Starts ``python -m analyzer_core`` processes; a run's handle is its Popen."""

    def __init__(self, extra_arguments: list[str], environment: dict[str, str]):
        self.extra_arguments = extra_arguments
        self.environment = environment

    def start(self, arguments: list[str], log: Path) -> subprocess.Popen:
        with open(log, "wb") as output:
            return subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "analyzer_core",
                    *arguments,
                    *self.extra_arguments,
                ],
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=self.environment,
            )

    def running(self, process: subprocess.Popen) -> bool:
        return process.poll() is None

    def kill(self, process: subprocess.Popen) -> None:
        process.send_signal(signal.SIGKILL)

    def reap(self, process: subprocess.Popen) -> int:
        returncode = process.wait(timeout=600)
        return -returncode if returncode < 0 else returncode << 8


def processes_under(directory: Path) -> list[psutil.Process]:
    """List live processes whose command line mentions ``directory``."""
    found = []
    for process in psutil.process_iter(["cmdline", "status"]):
        try:
            cmdline = " ".join(process.info["cmdline"] or [])
            if str(directory) in cmdline and process.info["status"] != "zombie":
                found.append(process)
        except psutil.Error:
            continue
    return found


def wait_for_no_processes(directory: Path, timeout: float) -> list[psutil.Process]:
    deadline = time.monotonic() + timeout
    left = processes_under(directory)
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = processes_under(directory)
    return left


def assert_rules_held(report: KillReport) -> None:
    for rule, details in sorted(report.violations.items()):
        assert details == [], f"rule {rule} broken: {details[:5]}"


# -- forked runs ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def forked_report(tmp_path_factory: pytest.TempPathFactory) -> KillReport:
    root = tmp_path_factory.mktemp("forked")
    launcher = ForkLauncher(fsync_delay=0.005)
    campaign = Campaign(root, lambda workdir: profile_arguments(workdir, "1,2,3", 2))
    try:
        report = play_campaigns(
            launcher,
            campaign,
            kills=FORKED_KILLS,
            max_delay=0.5,
            seed=20261204,
            max_rounds=FORKED_KILLS * 2,
        )
    finally:
        launcher.close()
    print(f"forked kill -9 loop: {report.summary()}")
    return report


def test_forked_kill_count(forked_report):
    assert forked_report.kills >= 200


def test_forked_kills_inside_saves(forked_report):
    assert forked_report.mid_save_kills >= 20


def test_forked_runs_saved(forked_report):
    assert sum(o.saves_logged for o in forked_report.outcomes) >= 40


def test_forked_campaigns_finish(forked_report):
    assert forked_report.campaigns >= 3


def test_forked_rules_hold(forked_report):
    assert_rules_held(forked_report)


def test_forked_leaves_no_processes(forked_report):
    assert wait_for_no_processes(forked_report.root, timeout=10) == []


def test_forked_kill_loses_at_most_one_run(forked_report):
    assert forked_report.max_lost <= 1


# -- real processes against one real Triton ---------------------------------------------------


@pytest.fixture(scope="module")
def shared_triton(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple]:
    """A real Triton on 127.0.0.1 serving the output repository of every round."""
    root = tmp_path_factory.mktemp("process")
    repository = root / "output_model_repository"
    repository.mkdir()
    server = LocalTritonServer(repository.resolve(), root / "tritonserver.log")
    server.start(timeout=120)
    try:
        yield root, repository, server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def process_report(shared_triton) -> KillReport:
    root, repository, server = shared_triton
    remote = [
        "--triton-launch-mode", "remote",
        "--triton-grpc-endpoint", server.endpoints.grpc_url,
        "--triton-metrics-url", server.endpoints.metrics_url,
        "--output-model-repository-path", str(repository),
    ]  # fmt: skip
    environment = dict(os.environ, STAND_IN_PERF_SECONDS="0.02")
    launcher = ProcessLauncher(remote, environment)
    campaign = Campaign(root / "runs", lambda workdir: profile_arguments(workdir))
    report = play_campaigns(
        launcher,
        campaign,
        kills=PROCESS_KILLS,
        max_delay=6.0,
        seed=7,
        max_rounds=PROCESS_KILLS * 3,
    )
    print(f"real-process kill -9 loop: {report.summary()}")
    return report


def test_process_kill_count(process_report):
    assert process_report.kills >= PROCESS_KILLS


def test_process_runs_saved(process_report):
    assert sum(o.saves_logged for o in process_report.outcomes) >= 1


def test_process_rules_hold(process_report):
    assert_rules_held(process_report)


def test_process_leaves_no_processes(process_report):
    assert wait_for_no_processes(process_report.root, timeout=10) == []


# -- the real command line with real Triton and perf_analyzer ---------------------------------


@pytest.fixture(scope="module")
def real_report(tmp_path_factory: pytest.TempPathFactory) -> KillReport:
    root = tmp_path_factory.mktemp("real")
    arguments = [
        "--measurement-interval", "300",
        "--perf-analyzer-max-retries", "1",
        "--perf-analyzer-flags=--stability-percentage=50",
    ]  # fmt: skip
    orphans: list[str] = []
    launcher = OrphanCollectingLauncher(
        ProcessLauncher(arguments, dict(os.environ)), root, orphans
    )
    campaign = Campaign(
        root, lambda workdir: profile_arguments(workdir, "1,2", 2, perf_analyzer=None)
    )
    try:
        report = play_campaigns(
            launcher,
            campaign,
            kills=SLOW_KILLS,
            max_delay=25.0,
            seed=3,
            max_rounds=SLOW_KILLS * 2,
        )
    finally:
        for process in processes_under(root):
            process.kill()
    report.orphans = orphans
    print(f"real perf_analyzer kill -9 loop: {report.summary()}; orphans {orphans}")
    return report


@pytest.mark.slow
def test_real_kill_count(real_report):
    assert real_report.kills >= SLOW_KILLS


@pytest.mark.slow
def test_real_rules_hold(real_report):
    assert_rules_held(real_report)


@pytest.mark.slow
def test_real_kill_leaves_no_triton(real_report):
    assert real_report.orphans == []


class OrphanCollectingLauncher:
    """Ends what a killed run left running (Triton, its stubs, perf_analyzer)
    and records their names: kill -9 gives the profiler no chance to stop them."""

    def __init__(self, launcher: ProcessLauncher, root: Path, orphans: list[str]):
        self.launcher = launcher
        self.root = root
        self.orphans = orphans

    def start(self, arguments: list[str], log: Path) -> subprocess.Popen:
        return self.launcher.start(arguments, log)

    def running(self, process: subprocess.Popen) -> bool:
        return self.launcher.running(process)

    def kill(self, process: subprocess.Popen) -> None:
        self.launcher.kill(process)

    def reap(self, process: subprocess.Popen) -> int:
        status = self.launcher.reap(process)
        # Children get SIGTERM when the profiler dies (a parent-death signal);
        # give them time to shut down before counting what is left as orphans.
        psutil.wait_procs(processes_under(self.root), timeout=15)
        for orphan in processes_under(self.root):
            try:
                self.orphans.append(orphan.name())
                orphan.kill()
            except psutil.Error:
                continue
        psutil.wait_procs(processes_under(self.root), timeout=10)
        return status
