"""Time summary and detailed PDF reports as a checkpoint grows.

Run from the repository root:

    .venv/bin/python bench/reports_bench.py
    .venv/bin/python bench/reports_bench.py --sizes 306 --repeats 5 --all-reports

For each size (a measurement count) the script saves a synthetic checkpoint
with one GPU: ``--models`` models (default 1), each with its default config
and as many variants as the size needs, every variant measured at six
concurrencies (1 to 32). Measurements come from
``analyzer_core.results.synthetic``. Size 306 is one model with 50 variants
and the default config. A fresh child process then times the reports of that
checkpoint, so its peak memory belongs to that size alone. The child first
starts the chart renderer (kaleido driving Chromium) and renders one chart,
because the ``report`` command and the dashboard pay that start-up once per
process. Columns, in seconds unless named otherwise:

- load: ``load_for_report``, reading and validating the checkpoint file;
- summary: median of ``--repeats`` calls to ``generate_reports`` for the
  first model without detailed reports, as ``report --summary-only
  --profile-models <model>`` runs it (checkpoint load, CSV tables, ranking,
  two charts, PDF layout). The target is under 3 s;
- cpu: CPU seconds of the same call in this process and in the renderer's
  Chromium processes. On a shared machine it is steadier than wall time;
- PDF: median time of ``summary_report_bytes`` on the loaded checkpoint, the
  dashboard's download path (ranking, charts and layout only);
- detailed: median time of ``detailed_report_bytes`` for the best variant,
  which ranks the model again on each call as the dashboard's download does;
- per PDF (and its cpu): one ``generate_reports`` call writing the summary
  and ``--detailed-sample`` detailed reports, minus the summary median,
  divided by the sample. The estimate for all detailed reports multiplies it
  by the checkpoint's variant count. ``--all-reports`` writes every report
  in one call and divides by the PDF count instead;
- RSS MB: the child's peak resident memory (``ru_maxrss``) over the
  ``generate_reports`` calls, which load their own copy of the checkpoint as
  the ``report`` command does. The figure includes the imported libraries
  (214 MB in all at 306 measurements) but not the Chromium processes. Chrome MB: the renderer's
  proportional set size (PSS), summed over the Chromium processes once the
  timing ends;
- KB: sizes of the summary PDF and of the best variant's detailed PDF.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import math
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

from analyzer_core.checkpoints.store import save_checkpoint
from analyzer_core.records import CheckpointData, GpuInfo, MachineInfo, Variant
from analyzer_core.reports import figures
from analyzer_core.reports.generate import (
    detailed_report_bytes,
    generate_reports,
    load_for_report,
    summary_report_bytes,
)
from analyzer_core.reports.render import shared_renderer
from analyzer_core.results.ranking import RankingSettings, rank_model
from analyzer_core.results.synthetic import (
    CONCURRENCIES,
    GPU_UUID,
    synthetic_measurement,
    synthetic_variants,
)

SUMMARY_TARGET_SECONDS = 3.0
SYNTHETIC_GRID_SIZE = 56
"""Variants ``synthetic_variants`` yields at most, besides the default config."""
QUEUE_DELAY_STEP_US = 100
LATENCY_LIMIT_MS = 20.0


def model_name(index: int, models: int) -> str:
    return "resnet" if models == 1 else f"model_{index:03d}"


def bench_variants(model: str, count: int) -> list[Variant]:
    """Return the default config and ``count`` variants, beyond the synthetic grid.

    The first 56 come from ``synthetic_variants``. Each further one copies
    the max batch size and instance count of a grid cell, with dynamic
    batching on and a max queue delay 100 µs longer per pass over the grid.
    The synthetic measurements ignore the delay.
    """
    variants = synthetic_variants(model, count, gpu=True)
    grid = variants[1:]
    for index in range(len(grid), count):
        source = grid[index % SYNTHETIC_GRID_SIZE]
        config = copy.deepcopy(source.config)
        delay = QUEUE_DELAY_STEP_US * (index // SYNTHETIC_GRID_SIZE)
        config["dynamic_batching"] = {"max_queue_delay_microseconds": delay}
        variants.append(Variant(f"{model}_config_{index}", model, config))
    return variants


def build_checkpoint(measurements: int, models: int) -> CheckpointData:
    """Build a one-GPU checkpoint of at least ``measurements`` measurements.

    The count is rounded up to whole variants of every model.
    """
    generator = random.Random(0)
    per_model = math.ceil(measurements / models / len(CONCURRENCIES))
    machine = MachineInfo(
        "Synthetic CPU", "2.51.0", [GpuInfo("Synthetic GPU", GPU_UUID, 16000.0)]
    )
    data = CheckpointData(machine=machine, created_at=1.7e9)
    for index in range(models):
        model = model_name(index, models)
        for variant in bench_variants(model, max(per_model - 1, 0)):
            data.variants[variant.name] = variant
            for concurrency in CONCURRENCIES:
                data.measurements.append(
                    synthetic_measurement(variant, concurrency, True, generator)
                )
    data.server_only = {
        "gpu_used_memory": 500.0,
        "gpu_utilization": 0.0,
        "gpu_power_usage": 55.0,
    }
    return data


def settings() -> RankingSettings:
    return RankingSettings(constraints={"perf_latency_p99": {"max": LATENCY_LIMIT_MS}})


@dataclass
class Timing:
    """Wall-clock and CPU seconds of one action, or medians over repeats."""

    wall: float
    cpu: float
    """CPU of this process plus the renderer's Chromium processes."""


def cpu_seconds() -> float:
    """Return the CPU seconds this process and its children (Chromium) used so far."""
    total = time.process_time()
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def timed(action) -> tuple[Timing, object]:
    wall, cpu = time.perf_counter(), cpu_seconds()
    result = action()
    return Timing(time.perf_counter() - wall, cpu_seconds() - cpu), result


def median_timing(action, repeats: int) -> Timing:
    samples = [timed(action)[0] for _ in range(repeats)]
    return Timing(
        statistics.median(sample.wall for sample in samples),
        statistics.median(sample.cpu for sample in samples),
    )


def renderer_pss_mb() -> float:
    """Sum the proportional set size (PSS) of this process's children (Chromium).

    PSS splits shared pages among the processes that map them, so unlike RSS
    the sum does not count Chromium's shared libraries once per process.
    """
    total = 0
    for child in psutil.Process().children(recursive=True):
        try:
            total += child.memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total / 2**20


def measure(directory: Path, arguments: argparse.Namespace) -> dict:
    """Time the reports of the checkpoint in ``directory`` (the child's work)."""
    with tempfile.TemporaryDirectory(prefix="reports-bench-") as temporary:
        return measure_into(directory, Path(temporary), arguments)


def measure_into(
    directory: Path, output_root: Path, arguments: argparse.Namespace
) -> dict:
    ranking_settings = settings()
    repeats = arguments.repeats
    loaded = load_for_report(directory)
    model = loaded.data.models()[0]
    variants = [variant.name for variant in loaded.data.variants_of(model)]
    measurements = len(loaded.data.measurements)
    models = len(loaded.data.models())
    best = rank_model(loaded.data, model, ranking_settings).entries[0].name
    warm = figures.throughput_latency_figure(loaded.data, model)
    started = time.perf_counter()
    shared_renderer().render_png(warm, 820, 380)
    renderer_start = time.perf_counter() - started
    # The report command keeps one copy of the checkpoint, which it loads
    # itself, so this one goes before the peak memory is taken.
    del loaded, warm
    gc.collect()

    def summary_call() -> None:
        output = generate_reports(
            directory,
            output_root / "summary",
            settings=ranking_settings,
            models=[model],
            detailed=False,
        )
        if output.warnings:
            raise SystemExit(f"report warnings: {output.warnings}")

    summary = median_timing(summary_call, repeats)
    summary_path = output_root / "summary" / "reports" / "summaries" / model
    summary_kb = (summary_path / "summary-ckpt0.pdf").stat().st_size / 1000

    if arguments.all_reports:
        # Every model's summary and every variant's detailed report.
        elapsed, output = timed(
            lambda: generate_reports(
                directory, output_root / "all", settings=ranking_settings
            )
        )
        sample = len(output.detailed)
        pdf_count = len(output.summaries) + sample
        per_pdf = Timing(elapsed.wall / pdf_count, elapsed.cpu / pdf_count)
    else:
        sample = min(arguments.detailed_sample, len(variants))
        elapsed, _ = timed(
            lambda: generate_reports(
                directory,
                output_root / "sample",
                settings=ranking_settings,
                variants=variants[:sample],
            )
        )
        per_pdf = Timing(
            max(elapsed.wall - summary.wall, 0.0) / sample,
            max(elapsed.cpu - summary.cpu, 0.0) / sample,
        )
    report_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The dashboard's downloads work on a checkpoint it has already loaded.
    load = median_timing(lambda: load_for_report(directory), repeats)
    loaded = load_for_report(directory)
    pdf = median_timing(
        lambda: summary_report_bytes(loaded, model, ranking_settings), repeats
    )
    detailed_pdf = detailed_report_bytes(loaded, best, ranking_settings)
    detailed = median_timing(
        lambda: detailed_report_bytes(loaded, best, ranking_settings), repeats
    )

    return {
        "measurements": measurements,
        "models": models,
        "variants": len(variants),
        "renderer_start": renderer_start,
        "load": load.wall,
        "summary": summary.wall,
        "summary_cpu": summary.cpu,
        "pdf": pdf.wall,
        "detailed": detailed.wall,
        "per_pdf": per_pdf.wall,
        "per_pdf_cpu": per_pdf.cpu,
        "sample": sample,
        "all_reports": arguments.all_reports,
        "all_seconds": elapsed.wall,
        "rss_mb": report_rss_mb,
        "renderer_pss_mb": renderer_pss_mb(),
        "summary_kb": summary_kb,
        "detailed_kb": len(detailed_pdf) / 1000,
    }


def run_child(directory: Path, arguments: argparse.Namespace) -> dict:
    """Measure one saved checkpoint in a fresh process and return its figures."""
    command = [
        sys.executable,
        __file__,
        "--measure",
        str(directory),
        "--repeats",
        str(arguments.repeats),
        "--detailed-sample",
        str(arguments.detailed_sample),
    ]
    if arguments.all_reports:
        command.append("--all-reports")
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise SystemExit(
            f"measuring {directory} failed (exit code {finished.returncode}):\n"
            f"{finished.stderr}"
        )
    return json.loads(finished.stdout.strip().splitlines()[-1])


HEADER = (
    f"{'measurements':>12} {'variants':>8} {'load':>6} {'summary':>8} "
    f"{'cpu':>6} {'PDF':>6} {'detailed':>8} {'per PDF':>7} {'cpu':>6} "
    f"{'RSS MB':>7} {'Chrome MB':>9} {'sum. KB':>7} {'det. KB':>7}"
)


def print_row(row: dict) -> None:
    if row["all_reports"]:
        detail = f"all {row['sample']:,} detailed in {row['all_seconds']:.1f} s"
    else:
        pdfs = row["variants"] * row["models"]
        estimate = row["per_pdf"] * pdfs / 60
        detail = (
            f"{row['sample']} detailed timed; all {pdfs:,} estimated at "
            f"{estimate:,.1f} min"
        )
    verdict = "meets" if row["summary"] < SUMMARY_TARGET_SECONDS else "misses"
    print(
        f"{row['measurements']:>12,} {row['models'] * row['variants']:>8,} "
        f"{row['load']:>6.2f} {row['summary']:>8.2f} {row['summary_cpu']:>6.2f} "
        f"{row['pdf']:>6.2f} {row['detailed']:>8.2f} {row['per_pdf']:>7.2f} "
        f"{row['per_pdf_cpu']:>6.2f} {row['rss_mb']:>7.0f} "
        f"{row['renderer_pss_mb']:>9.0f} {row['summary_kb']:>7.0f} "
        f"{row['detailed_kb']:>7.0f}  {detail}; summary {verdict} the "
        f"{SUMMARY_TARGET_SECONDS:g} s target; renderer start "
        f"{row['renderer_start']:.1f} s",
        flush=True,
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated measurement counts (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--models",
        type=int,
        default=1,
        help="models the measurements are split across (default: 1)",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed runs per figure (default: 5)"
    )
    parser.add_argument(
        "--detailed-sample",
        type=int,
        default=20,
        help="detailed reports timed per size to estimate all of them (default: 20)",
    )
    parser.add_argument(
        "--all-reports",
        action="store_true",
        help="write every summary and detailed report instead of a sample "
        "(hours at 100,000 measurements)",
    )
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    if arguments.measure is not None:
        print(json.dumps(measure(arguments.measure, arguments)))
        shared_renderer().close()
        return
    sizes = [int(part) for part in arguments.sizes.split(",")]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()}")
    print(HEADER)
    with tempfile.TemporaryDirectory() as temporary:
        for size in sizes:
            directory = Path(temporary) / f"size-{size}"
            save_checkpoint(directory, 0, build_checkpoint(size, arguments.models))
            print_row(run_child(directory, arguments))
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
