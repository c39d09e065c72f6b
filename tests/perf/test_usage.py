"""perf_analyzer's usage text: which flags it accepts, read before a run starts."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analyzer_core.errors import ConfigError
from analyzer_core.perf.runner import LoadPoint, PerfAnalyzerRunner, PerfSettings
from analyzer_core.perf.usage import (
    check_flags,
    flag_names,
    parse_usage,
    supported_flags,
)
from analyzer_core.triton import paths

FAULTS = Path(__file__).resolve().parent.parent / "fakes" / "perf_analyzer_faults.py"


def runner_flags(point: LoadPoint) -> list[str]:
    runner = PerfAnalyzerRunner(PerfSettings(), "127.0.0.1:1", "", Path("."))
    return flag_names(runner.command(point, Path("x.csv"), 1)[1:])


def test_flag_names_drop_values():
    arguments = ["-m", "model", "--a=1", "--percentile", "95", "-1"]
    assert flag_names(arguments) == ["-m", "--a", "--percentile"]


def test_parse_reads_aliases():
    text = "Usage:\n\t-m <model>\n --measurement-interval (-p): window\n"
    assert parse_usage(text) == {"-m", "--measurement-interval", "-p"}


def test_real_perf_analyzer_has_runner_flags():
    executable = paths.perf_analyzer_path()
    flags = supported_flags(executable, paths.perf_analyzer_environment())
    for point in (LoadPoint("m", 1, concurrency=1), LoadPoint("m", 1, request_rate=1)):
        for flag in runner_flags(point):
            assert flag in flags


def test_missing_flag_stand_in_rejected(monkeypatch):
    environment = dict(os.environ, PERF_ANALYZER_MISSING_FLAGS="--collect-metrics")
    with pytest.raises(ConfigError, match="does not accept --collect-metrics"):
        check_flags(FAULTS, environment, ["-m", "--collect-metrics"])


def test_usage_read_once(tmp_path):
    runs = tmp_path / "runs.txt"
    wrapper = tmp_path / "perf_analyzer"
    wrapper.write_text(f'#!/bin/sh\necho run >> {runs}\nexec {FAULTS} "$@"\n')
    wrapper.chmod(0o755)
    for _ in range(3):
        check_flags(wrapper, dict(os.environ), ["-m"])
    assert runs.read_text().splitlines() == ["run"]


def test_silent_executable_rejected(tmp_path):
    silent = tmp_path / "silent"
    silent.write_text("#!/bin/sh\nexit 0\n")
    silent.chmod(0o755)
    with pytest.raises(ConfigError, match="printed no usage text"):
        supported_flags(silent, dict(os.environ))
