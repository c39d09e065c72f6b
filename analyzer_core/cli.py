"""Command line: ``python -m analyzer_core profile|report|checkpoints``.

Flag names follow Triton Model Analyzer's, so its users can reuse their commands.
Each subcommand lives in ``analyzer_core.commands.<name>`` with two functions:
``add_arguments(parser)`` and ``run(args) -> int``.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from analyzer_core.errors import AnalyzerError

logger = logging.getLogger(__name__)

COMMANDS = {
    "profile": "Measure model configuration variants on Triton with perf_analyzer.",
    "report": "Write data tables and summary and detailed PDFs from a checkpoint.",
    "checkpoints": "List the checkpoints in a directory with their time and size.",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m analyzer_core",
        description="Profile model configurations on Triton Inference Server.",
    )
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="how much to log to standard error (default: INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, summary in COMMANDS.items():
        module = importlib.import_module(f"analyzer_core.commands.{name}")
        subparser = subparsers.add_parser(name, help=summary, description=summary)
        module.add_arguments(subparser)
    return parser


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    )
    package_logger = logging.getLogger("analyzer_core")
    package_logger.handlers[:] = [handler]
    package_logger.setLevel(level)
    package_logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(args.log_level)
    module = importlib.import_module(f"analyzer_core.commands.{args.command}")
    try:
        return module.run(args)
    except AnalyzerError as error:
        logger.error("%s", error)
        return 2
