"""``profile``: measure model configuration variants on Triton with perf_analyzer.

Every flag except ``--config-file`` has a YAML key of the same words in
snake_case, and a flag given here wins over the key in the config file. The
defaults live in ``analyzer_core.config``, so every flag here defaults to None,
which means "not given".
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from analyzer_core.config import ProfileSettings, settings_from_values
from analyzer_core.config_file import CONVERTERS, read_config_file
from analyzer_core.profiler import Profiler


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--config-file",
        "-f",
        type=Path,
        help="YAML file of options with Model Analyzer's keys (profile_models, "
        "run_config_search_mode, ...); flags given here win over its values",
    )
    _add_path_arguments(parser.add_argument_group("paths"))
    _add_search_arguments(parser.add_argument_group("search"))
    _add_early_exit_arguments(parser.add_argument_group("early exit"))
    _add_perf_arguments(parser.add_argument_group("perf_analyzer"))
    _add_triton_arguments(parser.add_argument_group("Triton"))
    _add_checkpoint_arguments(parser.add_argument_group("checkpoints"))


def _add_path_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--model-repository", "-m", help="Triton model repository to profile"
    )
    group.add_argument(
        "--profile-models",
        help="comma-separated model names (or profile_models in the config file)",
    )
    group.add_argument(
        "--checkpoint-directory",
        "-s",
        help="directory of N.ckpt files (default: ./checkpoints)",
    )
    group.add_argument(
        "--export-path",
        "-e",
        help="folder for logs and the output model repository (default: .)",
    )
    group.add_argument(
        "--output-model-repository-path",
        help="where variants are written (default: EXPORT_PATH/"
        "output_model_repository); in remote mode, Triton's --model-repository",
    )
    group.add_argument(
        "--status-file",
        help="JSON file rewritten with the run's progress, for the dashboard",
    )


def _add_search_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--run-config-search-mode",
        choices=["brute", "quick", "manual"],
        help="brute: every instance count and max batch size; quick: hill "
        "climbing over the same grid; manual: the cross product of "
        "model_config_parameters from the config file (default: brute)",
    )
    group.add_argument(
        "--run-config-search-disable",
        action="store_true",
        default=None,
        help="measure only the model's own config.pbtxt (and manual parameters)",
    )
    group.add_argument(
        "--batch-sizes", "-b", help="client batch sizes, e.g. 1,2,4 (default: 1)"
    )
    group.add_argument(
        "--concurrency",
        "-c",
        help="fixed concurrency values, e.g. 1,2,4, instead of the 1, 2, 4, ... sweep",
    )
    group.add_argument(
        "--request-rate",
        help="fixed request rates in requests/second, e.g. 100,200, measured "
        "instead of concurrency",
    )
    group.add_argument(
        "--request-rate-search-enable",
        action="store_true",
        default=None,
        help="sweep request rate instead of concurrency; also turned on by "
        "--run-config-search-min/max-request-rate",
    )
    for what, minimum, maximum in (
        ("concurrency", 1, 1024),
        ("request-rate", 16, 8192),
        ("instance-count", 1, 5),
        ("model-batch-size", 1, 128),
    ):
        for bound, default in (("min", minimum), ("max", maximum)):
            group.add_argument(
                f"--run-config-search-{bound}-{what}",
                type=int,
                help=f"{bound}imum {what.replace('-', ' ')} of the search "
                f"(default: {default})",
            )


def _add_early_exit_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--no-concurrency-early-exit",
        action="store_true",
        default=None,
        help="measure every concurrency (or request rate) even once throughput "
        "grew by 5%% or less over four steps",
    )
    group.add_argument(
        "--no-max-batch-size-early-exit",
        action="store_true",
        default=None,
        help="measure every max batch size even once one fails to beat all "
        "smaller ones",
    )
    group.add_argument(
        "--no-early-exit",
        action="store_true",
        default=None,
        help="both of the above",
    )


def _add_perf_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--measurement-interval",
        type=int,
        help="time window per measurement in ms (default: count windows of "
        "--measurement-request-count requests)",
    )
    group.add_argument(
        "--measurement-request-count",
        type=int,
        help="requests per count window (default: 50)",
    )
    group.add_argument(
        "--perf-analyzer-timeout",
        type=float,
        help="seconds before a perf_analyzer run is killed (default: 600)",
    )
    group.add_argument(
        "--perf-analyzer-max-retries",
        type=int,
        help="retries of an unstable measurement, each with a doubled window "
        "(default: 3)",
    )
    group.add_argument(
        "--perf-analyzer-flags",
        help="extra perf_analyzer flags in one string, written as "
        "--perf-analyzer-flags='--stability-percentage=20'",
    )
    group.add_argument(
        "--perf-analyzer-path",
        help="perf_analyzer binary (default: the one from tritonclient)",
    )


def _add_triton_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--triton-launch-mode",
        choices=["local", "remote"],
        help="local: start the bundled tritonserver on 127.0.0.1; remote: use a "
        "running Triton started with --model-control-mode=explicit and "
        "--model-repository set to the output model repository (default: local)",
    )
    group.add_argument(
        "--triton-grpc-endpoint",
        help="HOST:PORT of the remote Triton's gRPC endpoint (default: localhost:8001)",
    )
    group.add_argument(
        "--triton-metrics-url",
        help="the remote Triton's Prometheus metrics URL (default: "
        "http://localhost:8002/metrics)",
    )
    for protocol in ("http", "grpc", "metrics"):
        group.add_argument(
            f"--triton-{protocol}-port",
            type=int,
            help=f"{protocol} port of the local Triton (default: a free port)",
        )


def _add_checkpoint_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--checkpoint-index",
        type=int,
        help="resume from this index instead of the highest one",
    )
    group.add_argument(
        "--fresh-index",
        action="store_true",
        default=None,
        help="start a new index without the loaded measurements (e.g. on other "
        "hardware)",
    )


def option_values(args: argparse.Namespace) -> dict[str, Any]:
    """Merge the config file's values with the flags given on the command line."""
    values = read_config_file(args.config_file) if args.config_file else {}
    for key, value in vars(args).items():
        if key not in CONVERTERS or value is None:
            continue
        values[key] = CONVERTERS[key](value, f"--{key.replace('_', '-')}")
    return values


def settings_from_args(args: argparse.Namespace) -> ProfileSettings:
    return settings_from_values(option_values(args))


def run(args: argparse.Namespace) -> int:
    return Profiler(settings_from_args(args)).run()
