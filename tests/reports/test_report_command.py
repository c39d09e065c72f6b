"""The ``report`` command: flags, errors that create nothing, a full run."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from conftest import run_cli
from report_helpers import BrokenRenderer, disable_charts, save

from analyzer_core.commands import report
from analyzer_core.errors import ConfigError
from analyzer_core.results.synthetic import synthetic_checkpoint


@pytest.fixture
def no_charts(monkeypatch: pytest.MonkeyPatch) -> type[BrokenRenderer]:
    return disable_charts(monkeypatch)


def parse(*arguments: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    report.add_arguments(parser)
    return parser.parse_args(arguments)


def test_flags_become_constraints() -> None:
    args = parse("--latency-budget", "25", "--min-throughput", "100", "--top-n", "5")

    settings = report.ranking_settings(args)

    assert settings.constraints == {
        "perf_latency_p99": {"max": 25.0},
        "perf_throughput": {"min": 100.0},
    }
    assert settings.top_n == 5


def test_flags_override_config_file(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(
        "constraints:\n  perf_latency_p99: {max: 50}\nprofile_models: a,b\n"
    )
    args = parse(
        "--config-file", str(config), "--latency-budget", "10", "--profile-models", "c"
    )

    settings = report.ranking_settings(args)

    assert settings.constraints == {"perf_latency_p99": {"max": 10.0}}
    assert settings.models == ["c"]


def test_invalid_top_n_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="^--top-n 0 is less than 1; use 1 or more"):
        report.ranking_settings(parse("--top-n", "0"))


def test_invalid_num_configs_names_the_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("num_configs_per_model: -2\n")

    with pytest.raises(ConfigError, match="num_configs_per_model -2 is less than 1"):
        report.ranking_settings(parse("--config-file", str(config)))


def test_run_prints_written_files(
    tmp_path: Path, no_charts, capsys: pytest.CaptureFixture
) -> None:
    directory = save(tmp_path / "ckpt", synthetic_checkpoint({"resnet": 1}), index=2)
    args = parse(
        "--checkpoint-directory",
        str(directory),
        "--export-path",
        str(tmp_path / "out"),
        "--summary-only",
    )

    assert report.run(args) == 0

    printed = capsys.readouterr().out
    assert "Reports of checkpoint 2:" in printed
    assert "summary-ckpt2.pdf" in printed
    assert "detailed" not in printed
    assert "warning: Charts left out" in printed


def test_cli_without_checkpoint_fails(tmp_path: Path) -> None:
    finished = run_cli(
        "report",
        "--checkpoint-directory",
        "missing",
        "--export-path",
        "out",
        cwd=tmp_path,
        timeout=120,
    )

    assert finished.returncode == 2
    assert "No checkpoint found in missing" in finished.stderr
    assert "analyzer_core profile" in finished.stderr
    assert not (tmp_path / "out").exists()


def test_cli_unknown_model_fails(tmp_path: Path) -> None:
    save(tmp_path / "checkpoints", synthetic_checkpoint({"resnet": 1}))

    finished = run_cli(
        "report",
        "--profile-models",
        "bert",
        "--export-path",
        "out",
        cwd=tmp_path,
        timeout=120,
    )

    assert finished.returncode == 2
    assert "Model bert not found in checkpoint 0" in finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_export_path_file_fails(tmp_path: Path) -> None:
    save(tmp_path / "checkpoints", synthetic_checkpoint({"resnet": 1}))
    (tmp_path / "out").write_text("a file")

    finished = run_cli("report", "--export-path", "out", cwd=tmp_path, timeout=120)

    assert finished.returncode == 2
    assert "--export-path out is a file" in finished.stderr
    assert "Traceback" not in finished.stderr


def test_config_file_unknown_key_rejected(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("constraintz:\n  perf_latency_p99: {max: 5}\n")

    with pytest.raises(ConfigError, match="did you mean 'constraints'\\?$"):
        report.ranking_settings(parse("--config-file", str(config)))


@pytest.mark.parametrize("value", ["-5", "0", "-0", "nan", "inf", "-inf"])
def test_invalid_latency_budget_rejected(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        report.ranking_settings(parse(f"--latency-budget={value}"))

    message = str(caught.value)
    assert message.startswith(f"--latency-budget {float(value):g} is invalid")
    assert "finite number of milliseconds above 0" in message


@pytest.mark.parametrize("value", ["-1", "0", "nan", "inf"])
def test_invalid_min_throughput_rejected(value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        report.ranking_settings(parse(f"--min-throughput={value}"))

    message = str(caught.value)
    assert message.startswith(f"--min-throughput {float(value):g} is invalid")
    assert "finite number of inferences per second above 0" in message


def test_small_positive_limits_accepted() -> None:
    args = parse("--latency-budget", "0.5", "--min-throughput", "1e-3")

    settings = report.ranking_settings(args)

    assert settings.constraints["perf_latency_p99"] == {"max": 0.5}
    assert settings.constraints["perf_throughput"] == {"min": 0.001}


@pytest.mark.parametrize("value", [",", "", " , "])
def test_empty_profile_models_rejected(value: str) -> None:
    args = parse("--profile-models", value, "--checkpoint-directory", "runs")

    with pytest.raises(ConfigError) as caught:
        report.ranking_settings(args)

    message = str(caught.value)
    assert message.startswith(f"--profile-models {value!r} is empty")
    assert "checkpoints --checkpoint-directory runs' lists" in message


def test_profile_models_flag_strips_names() -> None:
    settings = report.ranking_settings(parse("--profile-models", " a, ,b "))

    assert settings.models == ["a", "b"]


@pytest.mark.parametrize("value", ['","', "[]", "{}"])
def test_empty_profile_models_key_rejected(tmp_path: Path, value: str) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"profile_models: {value}\n")

    with pytest.raises(ConfigError, match="profile_models is empty"):
        report.ranking_settings(parse("--config-file", str(config)))


def test_profile_models_flag_replaces_empty_key(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("profile_models: []\n")
    args = parse("--config-file", str(config), "--profile-models", "a")

    assert report.ranking_settings(args).models == ["a"]


def test_short_options_match_profile(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text("num_configs_per_model: 4\n")

    args = parse("-s", "runs", "-e", "out", "-f", str(config))

    assert args.checkpoint_directory == Path("runs")
    assert args.export_path == Path("out")
    assert args.config_file == config
    assert report.ranking_settings(args).top_n == 4


def test_cli_empty_profile_models_fails(tmp_path: Path) -> None:
    save(tmp_path / "checkpoints", synthetic_checkpoint({"resnet": 1}))

    finished = run_cli(
        "report", "--profile-models", ",", "-e", "out", cwd=tmp_path, timeout=120
    )

    assert finished.returncode == 2
    assert "--profile-models ',' is empty" in finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_cli_negative_latency_budget_fails(tmp_path: Path) -> None:
    save(tmp_path / "checkpoints", synthetic_checkpoint({"resnet": 1}))

    finished = run_cli(
        "report", "--latency-budget", "-5", "-e", "out", cwd=tmp_path, timeout=120
    )

    assert finished.returncode == 2
    assert "--latency-budget -5 is invalid" in finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    "path, message",
    [
        ("afile", "--checkpoint-directory afile is a file;"),
        ("afile/sub", "--checkpoint-directory afile/sub lies under the file afile;"),
    ],
)
@pytest.mark.parametrize("command", ["report", "checkpoints"])
def test_cli_checkpoint_directory_file_fails(
    tmp_path: Path, command: str, path: str, message: str
) -> None:
    (tmp_path / "afile").write_text("not a checkpoint directory")

    finished = run_cli(command, "-s", path, cwd=tmp_path, timeout=120)

    assert finished.returncode == 2
    assert message in finished.stderr
    assert "pass the checkpoint directory" in finished.stderr
    assert "No checkpoint found" not in finished.stderr
    assert len(finished.stderr.strip().splitlines()) == 1
