"""``profile``: measure model configuration variants on Triton with perf_analyzer."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from analyzer_core.config import ProfileSettings
from analyzer_core.perf.runner import PerfSettings
from analyzer_core.profiler import Profiler
from analyzer_core.search.brute import SearchLimits


def _integer_list(text: str) -> list[int]:
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a comma-separated list of integers, e.g. 1,2,4"
        ) from None


def _name_list(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    paths = parser.add_argument_group("paths")
    paths.add_argument(
        "--model-repository",
        "-m",
        type=Path,
        required=True,
        help="Triton model repository to profile",
    )
    paths.add_argument(
        "--profile-models",
        type=_name_list,
        required=True,
        help="comma-separated model names",
    )
    paths.add_argument(
        "--checkpoint-directory",
        "-s",
        type=Path,
        default=Path("checkpoints"),
        help="directory of N.ckpt files (default: ./checkpoints)",
    )
    paths.add_argument(
        "--export-path",
        "-e",
        type=Path,
        default=Path("."),
        help="folder for logs and the output model repository (default: .)",
    )
    paths.add_argument(
        "--output-model-repository-path",
        type=Path,
        help="where variants are written (default: EXPORT_PATH/output_model_repository)",
    )
    paths.add_argument(
        "--status-file",
        type=Path,
        help="JSON file rewritten with the run's progress, for the dashboard",
    )

    search = parser.add_argument_group("search")
    search.add_argument(
        "--batch-sizes",
        "-b",
        type=_integer_list,
        default=[1],
        help="client batch sizes (default: 1)",
    )
    search.add_argument(
        "--concurrency",
        "-c",
        type=_integer_list,
        help="fixed concurrency values instead of the 1, 2, 4, ... sweep",
    )
    search.add_argument("--run-config-search-min-concurrency", type=int, default=1)
    search.add_argument(
        "--run-config-search-max-concurrency",
        type=int,
        default=1024,
        help="highest concurrency of the sweep (default: 1024)",
    )
    search.add_argument("--run-config-search-min-instance-count", type=int, default=1)
    search.add_argument(
        "--run-config-search-max-instance-count",
        type=int,
        default=5,
        help="highest instance count (default: 5)",
    )
    search.add_argument("--run-config-search-min-model-batch-size", type=int, default=1)
    search.add_argument(
        "--run-config-search-max-model-batch-size",
        type=int,
        default=128,
        help="highest max_batch_size, a power of two (default: 128)",
    )
    search.add_argument(
        "--run-config-search-disable",
        action="store_true",
        help="measure only the model's own config.pbtxt",
    )
    search.add_argument(
        "--no-early-exit",
        action="store_true",
        help="measure every concurrency and max batch size even once throughput stops growing",
    )

    perf = parser.add_argument_group("perf_analyzer")
    perf.add_argument(
        "--measurement-interval",
        type=int,
        help="time window per measurement in ms (default: count windows of --measurement-request-count requests)",
    )
    perf.add_argument(
        "--measurement-request-count",
        type=int,
        default=50,
        help="requests per count window (default: 50)",
    )
    perf.add_argument(
        "--perf-analyzer-timeout",
        type=float,
        default=600.0,
        help="seconds before a perf_analyzer run is killed (default: 600)",
    )
    perf.add_argument(
        "--perf-analyzer-max-retries",
        type=int,
        default=3,
        help="retries of an unstable measurement, each with a doubled window (default: 3)",
    )
    perf.add_argument(
        "--perf-analyzer-flags",
        type=shlex.split,
        default=[],
        help="extra perf_analyzer flags in one string, written as --perf-analyzer-flags='--stability-percentage=20'",
    )
    perf.add_argument(
        "--perf-analyzer-path",
        type=Path,
        help="perf_analyzer binary (default: the one from tritonclient)",
    )

    resume = parser.add_argument_group("checkpoints")
    resume.add_argument(
        "--checkpoint-index",
        type=int,
        help="resume from this index instead of the highest one",
    )
    resume.add_argument(
        "--fresh-index",
        action="store_true",
        help="start a new index without the loaded measurements (e.g. on other hardware)",
    )


def settings_from_args(args: argparse.Namespace) -> ProfileSettings:
    limits = SearchLimits(
        min_instance_count=args.run_config_search_min_instance_count,
        max_instance_count=args.run_config_search_max_instance_count,
        min_model_batch_size=args.run_config_search_min_model_batch_size,
        max_model_batch_size=args.run_config_search_max_model_batch_size,
        early_exit=not args.no_early_exit,
        default_only=args.run_config_search_disable,
    )
    perf = PerfSettings(
        measurement_interval_ms=args.measurement_interval,
        measurement_request_count=args.measurement_request_count,
        max_retries=args.perf_analyzer_max_retries,
        timeout_seconds=args.perf_analyzer_timeout,
        extra_flags=args.perf_analyzer_flags,
        executable=args.perf_analyzer_path,
    )
    return ProfileSettings(
        model_repository=args.model_repository,
        profile_models=args.profile_models,
        checkpoint_directory=args.checkpoint_directory,
        export_path=args.export_path,
        output_model_repository=args.output_model_repository_path,
        batch_sizes=args.batch_sizes,
        concurrency=args.concurrency,
        min_concurrency=args.run_config_search_min_concurrency,
        max_concurrency=args.run_config_search_max_concurrency,
        limits=limits,
        perf=perf,
        checkpoint_index=args.checkpoint_index,
        fresh_index=args.fresh_index,
        status_file=args.status_file,
    )


def run(args: argparse.Namespace) -> int:
    return Profiler(settings_from_args(args)).run()
