"""Profile settings from flags and YAML, and their checks before anything starts."""

from __future__ import annotations

import os
import socket
import textwrap
from pathlib import Path

import pytest
from conftest import EXAMPLE_REPOSITORY

from analyzer_core.cli import build_parser
from analyzer_core.commands.profile import settings_from_args
from analyzer_core.config import ProfileSettings
from analyzer_core.errors import ConfigError
from analyzer_core.search.base import SearchMode
from analyzer_core.triton.server import LaunchMode
from analyzer_core.validation import validate

FAULTS = Path(__file__).resolve().parent / "fakes" / "perf_analyzer_faults.py"
BASE = ["profile", "-m", str(EXAMPLE_REPOSITORY), "--profile-models", "add_sub"]


def settings_for(*arguments: str) -> ProfileSettings:
    return settings_from_args(build_parser().parse_args(list(arguments)))


def from_yaml(tmp_path: Path, text: str, *arguments: str) -> ProfileSettings:
    path = tmp_path / "config.yaml"
    path.write_text(textwrap.dedent(text))
    return settings_for("profile", "--config-file", str(path), *arguments)


def test_defaults_match_model_analyzer():
    settings = settings_for(*BASE)
    assert settings.search_mode is SearchMode.BRUTE
    assert settings.max_concurrency == 1024
    assert settings.limits.max_instance_count == 5
    assert settings.limits.max_model_batch_size == 128
    assert settings.triton.launch_mode is LaunchMode.LOCAL


def test_defaults_pass_validation():
    validate(settings_for(*BASE))


def test_yaml_keys_fill_settings(tmp_path):
    settings = from_yaml(
        tmp_path,
        f"""
        model_repository: {EXAMPLE_REPOSITORY}
        profile_models: add_sub,dense_mlp
        run_config_search_mode: quick
        run_config_search_max_instance_count: 2
        batch_sizes: {{start: 1, stop: 4, step: 3}}
        perf_analyzer_flags:
          stability-percentage: 50
          percentile: 95
        objectives: [perf_latency_p99]
        """,
    )
    assert settings.profile_models == ["add_sub", "dense_mlp"]
    assert settings.search_mode is SearchMode.QUICK
    assert settings.limits.max_instance_count == 2
    assert settings.batch_sizes == [1, 4]
    assert settings.perf.extra_flags == ["--stability-percentage=50", "--percentile=95"]
    assert settings.ranking.objectives == {"perf_latency_p99": 1.0}


def test_ranking_keys_reach_profile(tmp_path):
    settings = from_yaml(
        tmp_path,
        f"""
        model_repository: {EXAMPLE_REPOSITORY}
        profile_models:
          add_sub:
            constraints:
              perf_latency_p99: {{max: 20}}
        constraints:
          perf_throughput: {{min: 100}}
        """,
    )
    assert settings.ranking.constraints_for("add_sub") == {
        "perf_throughput": {"min": 100},
        "perf_latency_p99": {"max": 20},
    }


def test_bad_objective_rejected_before_profiling(tmp_path):
    with pytest.raises(ConfigError, match="perf_latency_p42"):
        from_yaml(
            tmp_path,
            f"""
            model_repository: {EXAMPLE_REPOSITORY}
            profile_models: add_sub
            objectives: [perf_latency_p42]
            """,
        )


def test_no_ranking_keys_default_ranking():
    assert settings_for(*BASE).ranking.objectives == {"perf_throughput": 1.0}


def test_flag_wins_over_yaml(tmp_path):
    settings = from_yaml(
        tmp_path,
        f"""
        model_repository: {EXAMPLE_REPOSITORY}
        profile_models: [add_sub]
        run_config_search_max_concurrency: 64
        """,
        "--run-config-search-max-concurrency",
        "8",
    )
    assert settings.max_concurrency == 8


def test_model_sections_read(tmp_path):
    settings = from_yaml(
        tmp_path,
        f"""
        model_repository: {EXAMPLE_REPOSITORY}
        run_config_search_mode: manual
        profile_models:
          add_sub:
            model_config_parameters:
              dynamic_batching:
                max_queue_delay_microseconds: [100, 200]
            parameters:
              concurrency: [1, 2]
          dense_mlp:
        """,
    )
    assert settings.profile_models == ["add_sub", "dense_mlp"]
    options = settings.options_for("add_sub")
    assert options.model_config_parameters == {
        "dynamic_batching": {"max_queue_delay_microseconds": [100, 200]}
    }
    assert settings.load_plan("add_sub").concurrencies == [1, 2]
    assert settings.load_plan("dense_mlp").concurrencies[-1] == 1024
    validate(settings)


def test_broken_yaml_names_line(tmp_path):
    with pytest.raises(ConfigError, match="not valid YAML at line 3"):
        from_yaml(tmp_path, "model_repository: x\nprofile_models: [a\nbatch_sizes: 1\n")


def test_unknown_key_suggests(tmp_path):
    with pytest.raises(
        ConfigError,
        match="line 2: run_config_search_max_concurency is an unknown key; did you "
        "mean 'run_config_search_max_concurrency'",
    ):
        from_yaml(
            tmp_path, "model_repository: x\nrun_config_search_max_concurency: 4\n"
        )


def test_duplicate_key_rejected(tmp_path):
    with pytest.raises(ConfigError, match="'batch_sizes' appears twice"):
        from_yaml(tmp_path, "batch_sizes: 1\nbatch_sizes: 2\n")


def test_unknown_model_key_rejected(tmp_path):
    with pytest.raises(ConfigError, match="profile_models.add_sub.concurrency is an"):
        from_yaml(tmp_path, "profile_models:\n  add_sub:\n    concurrency: [1]\n")


def test_empty_list_rejected(tmp_path):
    with pytest.raises(ConfigError, match="batch_sizes is an empty list"):
        from_yaml(tmp_path, "batch_sizes: []\n")


def test_empty_flag_list_rejected():
    with pytest.raises(ConfigError, match="--concurrency is an empty list"):
        settings_for(*BASE, "--concurrency", ",")


def test_wrong_type_rejected(tmp_path):
    with pytest.raises(ConfigError, match="must be an integer, got 'many'"):
        from_yaml(tmp_path, "run_config_search_max_instance_count: many\n")


def test_missing_repository_rejected():
    with pytest.raises(ConfigError, match="--model-repository is missing"):
        settings_for("profile", "--profile-models", "add_sub")


def test_missing_config_file_rejected(tmp_path):
    with pytest.raises(ConfigError, match="Cannot read --config-file"):
        settings_for("profile", "--config-file", str(tmp_path / "nope.yaml"))


def test_unknown_model_lists_repository():
    settings = settings_for(*BASE[:3], "--profile-models", "add_sub,resnet")
    with pytest.raises(ConfigError, match="resnet not found .*: add_sub, dense_mlp"):
        validate(settings)


def test_port_in_use_rejected():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = settings_for(*BASE, "--triton-grpc-port", str(port))
        with pytest.raises(ConfigError, match=f"--triton-grpc-port: Port {port}"):
            validate(settings)


@pytest.mark.parametrize(
    "first, second",
    [
        ("--triton-http-port", "--triton-grpc-port"),
        ("--triton-http-port", "--triton-metrics-port"),
        ("--triton-grpc-port", "--triton-metrics-port"),
    ],
)
def test_shared_port_rejected(first, second):
    settings = settings_for(*BASE, first, "8629", second, "8629")
    with pytest.raises(ConfigError) as caught:
        validate(settings)
    message = str(caught.value)
    assert message.startswith(f"{first} and {second} are both 8629;")
    assert "give each endpoint its own port" in message


def test_one_port_for_all_rejected():
    settings = settings_for(
        *BASE,
        "--triton-http-port=8629",
        "--triton-grpc-port=8629",
        "--triton-metrics-port=8629",
    )
    expected = (
        "--triton-http-port, --triton-grpc-port and --triton-metrics-port are all 8629"
    )
    with pytest.raises(ConfigError, match=expected):
        validate(settings)


def test_shared_port_in_yaml_rejected(tmp_path):
    settings = from_yaml(
        tmp_path,
        f"""
        model_repository: {EXAMPLE_REPOSITORY}
        profile_models: add_sub
        triton_grpc_port: 8629
        """,
        "--triton-metrics-port",
        "8629",
    )
    with pytest.raises(ConfigError, match="--triton-grpc-port and --triton-metrics"):
        validate(settings)


def test_config_file_short_flag(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(
        f"model_repository: {EXAMPLE_REPOSITORY}\nprofile_models: add_sub\n"
    )
    settings = settings_for("profile", "-f", str(path))
    assert settings.profile_models == ["add_sub"]


def test_perf_analyzer_missing_flag_stand_in(monkeypatch):
    monkeypatch.setenv("PERF_ANALYZER_MISSING_FLAGS", "--collect-metrics")
    settings = settings_for(*BASE, "--perf-analyzer-path", str(FAULTS))
    with pytest.raises(ConfigError, match="does not accept --collect-metrics"):
        validate(settings)


def test_unused_missing_flag_stand_in_allowed(monkeypatch):
    monkeypatch.setenv("PERF_ANALYZER_MISSING_FLAGS", "--request-rate-range")
    validate(settings_for(*BASE, "--perf-analyzer-path", str(FAULTS)))


def test_rate_run_needs_rate_flag_stand_in(monkeypatch):
    monkeypatch.setenv("PERF_ANALYZER_MISSING_FLAGS", "--request-rate-range")
    settings = settings_for(
        *BASE, "--perf-analyzer-path", str(FAULTS), "--request-rate", "10"
    )
    with pytest.raises(ConfigError, match="does not accept --request-rate-range"):
        validate(settings)


def test_unknown_extra_flag_rejected():
    settings = settings_for(*BASE, "--perf-analyzer-flags=--stabilty-percentage=5")
    with pytest.raises(ConfigError, match="does not accept --stabilty-percentage"):
        validate(settings)


def test_extra_flag_clash_rejected():
    settings = settings_for(*BASE, "--perf-analyzer-flags=--measurement-interval=9")
    with pytest.raises(ConfigError, match="sets --measurement-interval, which"):
        validate(settings)


def test_quick_with_parameters_rejected(tmp_path):
    settings = from_yaml(
        tmp_path,
        f"""
        model_repository: {EXAMPLE_REPOSITORY}
        run_config_search_mode: quick
        profile_models:
          add_sub:
            model_config_parameters: {{max_batch_size: [4]}}
        """,
    )
    with pytest.raises(ConfigError, match="cannot be used with --run-config-search"):
        validate(settings)


def test_bad_model_config_value_rejected(tmp_path):
    settings = from_yaml(
        tmp_path,
        f"""
        model_repository: {EXAMPLE_REPOSITORY}
        profile_models:
          add_sub:
            model_config_parameters:
              dynamic_batching: {{max_queue_delay_microseconds: [soon]}}
        """,
    )
    with pytest.raises(ConfigError, match="Invalid model config parameter"):
        validate(settings)


def test_max_request_rate_sweeps_rates():
    settings = settings_for(*BASE, "--run-config-search-max-request-rate", "64")
    plan = settings.load_plan("add_sub")
    assert plan.request_rates == [16, 32, 64]
    assert plan.concurrencies is None


def test_request_rate_list_used():
    settings = settings_for(*BASE, "--request-rate", "5,7.5")
    assert settings.load_plan("add_sub").request_rates == [5, 7.5]


def test_concurrency_and_rate_rejected():
    with pytest.raises(ConfigError, match="--concurrency cannot be combined with"):
        settings_for(*BASE, "--concurrency", "1", "--request-rate", "5")


def test_request_rate_range_checked():
    settings = settings_for(*BASE, "--run-config-search-max-request-rate", "8")
    with pytest.raises(ConfigError, match="max-request-rate 8 is below the minimum"):
        validate(settings)


def test_no_early_exit_turns_both_off():
    limits = settings_for(*BASE, "--no-early-exit").limits
    assert not limits.concurrency_early_exit
    assert not limits.max_batch_size_early_exit


def test_concurrency_exit_off_alone():
    limits = settings_for(*BASE, "--no-concurrency-early-exit").limits
    assert not limits.concurrency_early_exit
    assert limits.max_batch_size_early_exit


def test_batch_size_exit_off_alone():
    limits = settings_for(*BASE, "--no-max-batch-size-early-exit").limits
    assert limits.concurrency_early_exit
    assert not limits.max_batch_size_early_exit


def test_remote_mode_settings():
    settings = settings_for(
        *BASE,
        "--triton-launch-mode=remote",
        "--triton-grpc-endpoint=127.0.0.1:9001",
        "--triton-metrics-url=http://127.0.0.1:9002/metrics",
    )
    assert settings.triton.grpc_endpoint == "127.0.0.1:9001"
    assert settings.triton.metrics_url == "http://127.0.0.1:9002/metrics"
    validate(settings)


def test_remote_endpoint_checked():
    settings = settings_for(
        *BASE, "--triton-launch-mode=remote", "--triton-grpc-endpoint=localhost"
    )
    with pytest.raises(ConfigError, match="'localhost' is not HOST:PORT"):
        validate(settings)


def test_remote_metrics_url_checked():
    settings = settings_for(
        *BASE, "--triton-launch-mode=remote", "--triton-metrics-url=localhost:8002"
    )
    with pytest.raises(ConfigError, match="is not an http\\(s\\) URL"):
        validate(settings)


def test_local_ports_rejected_in_remote_mode():
    with pytest.raises(ConfigError, match="--triton-http-port cannot be used with"):
        settings_for(*BASE, "--triton-launch-mode=remote", "--triton-http-port=8000")


def test_remote_endpoint_rejected_in_local_mode():
    with pytest.raises(ConfigError, match="--triton-grpc-endpoint cannot be used"):
        settings_for(*BASE, "--triton-grpc-endpoint=127.0.0.1:8001")


def test_cli_reports_config_error(tmp_path):
    from conftest import run_cli

    (tmp_path / "bad.yaml").write_text("profile_models: [add_sub\n")
    finished = run_cli("profile", "--config-file", "bad.yaml", cwd=tmp_path)
    assert finished.returncode == 2
    assert "not valid YAML at line 2" in finished.stderr
    assert os.listdir(tmp_path) == ["bad.yaml"]


def test_batch_range_without_power_rejected():
    settings = settings_for(
        *BASE,
        "--run-config-search-min-model-batch-size=3",
        "--run-config-search-max-model-batch-size=3",
    )
    with pytest.raises(ConfigError, match="No power of two lies between"):
        validate(settings)


@pytest.mark.parametrize("value", ["nan", "inf", "1e400", "0", "-2", str(2**31)])
def test_bad_request_rate_rejected(value):
    with pytest.raises(ConfigError, match="--request-rate"):
        validate(settings_for(*BASE, "--request-rate", value))


def test_huge_concurrency_kept_exact_and_rejected():
    settings = settings_for(*BASE, "--concurrency", "99999999999999999999999")
    assert settings.concurrency == [99999999999999999999999]
    with pytest.raises(ConfigError, match="99999999999999999999999"):
        validate(settings)


def test_nan_rate_in_yaml_rejected(tmp_path):
    with pytest.raises(ConfigError, match="finite"):
        from_yaml(
            tmp_path,
            f"""
            model_repository: {EXAMPLE_REPOSITORY}
            profile_models: add_sub
            request_rate: [.nan]
            """,
        )


@pytest.mark.parametrize(
    "flag", ["--export-path", "--checkpoint-directory", "--output-model-repository-path"]
)
def test_output_path_under_file_rejected(tmp_path, flag):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for path, message in ((blocker, "is a file"), (blocker / "sub", "cannot be created")):
        with pytest.raises(ConfigError, match=message):
            validate(settings_for(*BASE, flag, str(path)))
