"""``report``: write tables and PDF reports from a checkpoint, without Triton."""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from analyzer_core.config_file import read_config_file
from analyzer_core.errors import AnalyzerError, ConfigError
from analyzer_core.results.settings import (
    RankingSettings,
    check_top_n,
    load_ranking_settings,
    validate_constraints,
)
from analyzer_core.validation import (
    check_checkpoint_directory,
    check_output_directory,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--checkpoint-directory",
        "-s",
        type=Path,
        default=Path("checkpoints"),
        help="directory of N.ckpt files (default: ./checkpoints)",
    )
    parser.add_argument(
        "--checkpoint-index",
        type=int,
        default=None,
        help="checkpoint to report on (default: the highest index)",
    )
    parser.add_argument(
        "--export-path",
        "-e",
        type=Path,
        default=Path("."),
        help="directory that receives results/ and reports/ (default: .)",
    )
    parser.add_argument(
        "--config-file",
        "-f",
        type=Path,
        default=None,
        help="YAML file with objectives, constraints, profile_models and "
        "num_configs_per_model, as Model Analyzer reads them",
    )
    parser.add_argument(
        "--latency-budget",
        type=float,
        default=None,
        metavar="MS",
        help="maximum p99 latency in milliseconds (overrides the config file)",
    )
    parser.add_argument(
        "--min-throughput",
        type=float,
        default=None,
        metavar="N",
        help="minimum throughput in inferences per second (overrides the config file)",
    )
    parser.add_argument(
        "--top-n",
        type=int,
        default=None,
        metavar="N",
        help="number of top variants to chart per model (default: 3)",
    )
    parser.add_argument(
        "--profile-models",
        default=None,
        metavar="A,B",
        help="comma-separated models to report on (default: every model)",
    )
    parser.add_argument(
        "--summary-only",
        action="store_true",
        help="write tables and summary reports, no detailed report per variant",
    )


def ranking_settings(args: argparse.Namespace) -> RankingSettings:
    """Combine the config file with the flags; flags win."""
    settings = RankingSettings()
    if args.config_file:
        # Profile's reader rejects unknown keys with a suggestion and names the
        # line of a YAML syntax error; the ranking reader does neither.
        read_config_file(args.config_file)
        settings = load_ranking_settings(args.config_file)
    if args.latency_budget is not None:
        budget = _check_positive_limit(
            args.latency_budget, "--latency-budget", "milliseconds"
        )
        settings.constraints["perf_latency_p99"] = {"max": budget}
    if args.min_throughput is not None:
        throughput = _check_positive_limit(
            args.min_throughput, "--min-throughput", "inferences per second"
        )
        settings.constraints["perf_throughput"] = {"min": throughput}
    if args.top_n is not None:
        settings.top_n = check_top_n(args.top_n, "--top-n")
    if args.profile_models is not None:
        settings.models = _model_names(args.profile_models, args.checkpoint_directory)
    elif settings.models == []:
        # Checked here, not in the ranking reader, because profile reads the same
        # key and its --profile-models flag may replace an empty one.
        raise ConfigError(
            f"Config file {args.config_file}: profile_models is empty; name one or "
            "more models of the checkpoint, or remove the key to report on every "
            "model."
        )
    validate_constraints(settings.constraints, "command-line constraints")
    settings.__post_init__()
    return settings


def _check_positive_limit(value: float, flag: str, unit: str) -> float:
    # A NaN compares false with everything, so the finite check catches it.
    if not math.isfinite(value) or value <= 0:
        raise ConfigError(
            f"{flag} {value:g} is invalid; use a finite number of {unit} above 0."
        )
    return value


def _model_names(value: str, checkpoint_directory: Path) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    if not names:
        raise ConfigError(
            f"--profile-models {value!r} is empty; name one or more models of the "
            "checkpoint, which 'python -m analyzer_core checkpoints "
            f"--checkpoint-directory {checkpoint_directory}' lists."
        )
    return names


def run(args: argparse.Namespace) -> int:
    # Imported here: plotly, pandas and the PDF code cost 0.5 s that profile
    # and checkpoints, which share this command line, do not need.
    from analyzer_core.reports.generate import generate_reports

    check_checkpoint_directory(args.checkpoint_directory, "--checkpoint-directory")
    check_output_directory(args.export_path, "--export-path")
    try:
        output = generate_reports(
            args.checkpoint_directory,
            args.export_path,
            index=args.checkpoint_index,
            settings=ranking_settings(args),
            detailed=not args.summary_only,
        )
    except OSError as error:
        raise AnalyzerError(
            f"Writing the reports failed: {error.strerror or error}: "
            f"{error.filename}. Check that --export-path {args.export_path} is a "
            "writable directory with free space."
        ) from error
    print(f"Reports of checkpoint {output.checkpoint_index}:")
    for kind, path in output.tables.items():
        print(f"  table {kind}: {path}")
    for model, path in output.summaries.items():
        print(f"  summary {model}: {path}")
    for model, path in output.configs.items():
        print(f"  best config {model}: {path}")
    for variant, path in output.detailed.items():
        print(f"  detailed {variant}: {path}")
    for warning in output.warnings:
        print(f"warning: {warning}")
    return 0
