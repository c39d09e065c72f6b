"""Time summary and detailed PDF reports of a synthetic 50-variant checkpoint.

Run from the repository root:

    .venv/bin/python bench/reports_bench.py
    .venv/bin/python bench/reports_bench.py --variants 50 --repeats 5 --all-reports

The checkpoint comes from ``analyzer_core.results.synthetic`` with one GPU and
six concurrency levels per variant. The chart renderer (kaleido driving
Chromium) is started and warmed with one chart before timing, because the
``report`` command and the dashboard pay that start-up once per process. The
summary time is the median of ``--repeats`` calls to ``generate_reports`` for
the model without detailed reports (tables, ranking, two charts, PDF layout).
The target is a summary in under 3 s. ``--all-reports`` also times one call
that writes the summary and every detailed report.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

from analyzer_core.checkpoints.store import save_checkpoint
from analyzer_core.reports import figures
from analyzer_core.reports.generate import generate_reports
from analyzer_core.reports.render import shared_renderer
from analyzer_core.results.ranking import RankingSettings
from analyzer_core.results.synthetic import synthetic_checkpoint

MODEL = "resnet"
SUMMARY_TARGET_SECONDS = 3.0


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--variants",
        type=int,
        default=50,
        help="variants besides the default config (at most 56)",
    )
    parser.add_argument("--repeats", type=int, default=5, help="summary runs timed")
    parser.add_argument(
        "--all-reports",
        action="store_true",
        help="also time the summary plus every detailed report in one call",
    )
    return parser.parse_args()


def warm_renderer(data) -> float:
    """Start Chromium and render one chart; return the seconds it took."""
    started = time.perf_counter()
    figure = figures.throughput_latency_figure(data, MODEL)
    shared_renderer().render_png(figure, 820, 380)
    return time.perf_counter() - started


def time_summary(directory: Path, export: Path, settings: RankingSettings) -> float:
    started = time.perf_counter()
    output = generate_reports(directory, export, settings=settings, detailed=False)
    elapsed = time.perf_counter() - started
    if output.warnings:
        raise SystemExit(f"report warnings: {output.warnings}")
    return elapsed


def time_all_reports(
    directory: Path, export: Path, settings: RankingSettings
) -> tuple[float, int]:
    started = time.perf_counter()
    output = generate_reports(directory, export, settings=settings)
    return time.perf_counter() - started, len(output.summaries) + len(output.detailed)


def main() -> None:
    args = parse_arguments()
    data = synthetic_checkpoint({MODEL: args.variants}, gpu=True)
    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 20.0}})
    with tempfile.TemporaryDirectory() as temporary:
        directory = Path(temporary) / "checkpoints"
        save_checkpoint(directory, 0, data)
        start_seconds = warm_renderer(data)
        summaries = [
            time_summary(directory, Path(temporary) / "out", settings)
            for _ in range(args.repeats)
        ]
        print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
        print(
            f"checkpoint: {len(data.variants)} variants, "
            f"{len(data.measurements)} measurements"
        )
        print(f"renderer start and first chart: {start_seconds:.2f} s")
        median = statistics.median(summaries)
        verdict = "meets" if median < SUMMARY_TARGET_SECONDS else "misses"
        print(
            f"summary report, warm renderer: median {median:.2f} s, "
            f"min {min(summaries):.2f} s over {args.repeats} runs "
            f"({verdict} the {SUMMARY_TARGET_SECONDS:g} s target)"
        )
        if args.all_reports:
            seconds, count = time_all_reports(
                directory, Path(temporary) / "all", settings
            )
            print(
                f"all reports: {count} PDFs in {seconds:.1f} s "
                f"({seconds / count:.2f} s per PDF)"
            )
    shared_renderer().close()


if __name__ == "__main__":
    main()
