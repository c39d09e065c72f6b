"""Run the benchmark suite and print its figures as Markdown.

Run from the repository root (``make bench`` does the same):

    .venv/bin/python bench/run.py
    .venv/bin/python bench/run.py --only sweep,model-analyzer --repeats 5
    .venv/bin/python bench/run.py --only dashboard --sizes 10000 --json out.json

Parts, in the order they run:

- ``sweep`` and ``model-analyzer``: the same fixed sweep of the bundled add_sub
  model with ``analyzer_core profile`` and with Model Analyzer, runs taken in
  turn (ours, theirs, ours, ...) so that load on the machine hits both alike;
- ``checkpoints`` and ``reports``: ``bench/checkpoint_bench.py`` and
  ``bench/reports_bench.py`` as child processes, their output shown as printed;
- ``dashboard``: the Results page in headless Chromium at each size;
- ``search``: brute and quick search on the bundled simulated_gpu model
  (``bench/search_bench.py``).

Without ``search`` the suite took 17.5 minutes on 2 shared cores. Compare figures only
between runs on a quiet machine: the load average is printed before each part.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import psutil
from dashboard_bench import (
    LOAD_TARGET_SECONDS,
    MEMORY_TARGET_MB,
    DashboardResult,
    measure_dashboard,
)
from model_analyzer_bench import run_model_analyzer
from sweep_bench import REST_TARGET_FRACTION, SweepResult, run_analyzer_core
from sweep_timing import work_folder

BENCH_DIRECTORY = Path(__file__).resolve().parent
PARTS = ("sweep", "model-analyzer", "checkpoints", "reports", "dashboard", "search")
RATIO_TARGET = 0.75
CHILD_TIMEOUT_SECONDS = 900
SEARCH_TIMEOUT_SECONDS = 3600
# 51 variants of 6 measurements: the checkpoint of the summary-report target.
REPORT_BASE_SIZE = 306


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run (default: all of {', '.join(PARTS)})",
    )

    parser.add_argument(
        "--repeats", type=int, default=3, help="sweep runs per profiler (default: 3)"
    )
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="measurement counts for checkpoints and dashboard "
        "(default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--dashboard-loads",
        type=int,
        default=6,
        help="Results page loads per size, the first cold (default: 6)",
    )
    parser.add_argument(
        "--work-directory",
        type=Path,
        help="keep the runs' logs and working folders under this folder",
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")

    arguments = parser.parse_args()
    arguments.parts = [part.strip() for part in arguments.only.split(",")]
    unknown = sorted(set(arguments.parts) - set(PARTS))
    if unknown:
        parser.error(f"unknown part(s) {', '.join(unknown)}; pick from {PARTS}")
    return arguments


def describe_machine() -> str:
    cpu = platform.processor() or platform.machine()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_gib = psutil.virtual_memory().total / 2**30
    return (
        f"{cpu}, {os.cpu_count()} logical CPUs, {memory_gib:.0f} GiB, "
        f"Python {platform.python_version()}, {platform.platform()}"
    )


def load_average() -> str:
    one_minute, five_minutes, fifteen_minutes = os.getloadavg()
    return (
        f"load average {one_minute:.2f} / {five_minutes:.2f} / "
        f"{fifteen_minutes:.2f} (1 / 5 / 15 min)"
    )


def heading(title: str) -> None:
    print(f"\n## {title}\n\n{time.strftime('%H:%M:%S')}, {load_average()}\n")


# -- sweep -------------------------------------------------------------------------


def run_sweeps(
    parts: list[str], repeats: int, keep_under: Path | None
) -> dict[str, list[SweepResult]]:
    """Run the selected profilers ``repeats`` times each, alternating between them."""
    runners = {
        "sweep": ("analyzer_core", run_analyzer_core),
        "model-analyzer": ("Model Analyzer", run_model_analyzer),
    }
    results: dict[str, list[SweepResult]] = {}
    for position in range(repeats):
        for part, (tool, runner) in runners.items():
            if part not in parts:
                continue
            with work_folder(f"{part}-", keep_under) as work:
                result = runner(work)
            results.setdefault(tool, []).append(result)
            print(
                f"- run {position + 1}, {tool}: {result.wall_seconds:.1f} s wall",
                flush=True,
            )
    return results


SWEEP_HEADER = (
    "| profiler | run | wall s | perf_analyzer s (runs, unstable) | model load s "
    "| Triton starts | rest s | rest % | gap s | measurements |\n"
    "|---|---|---|---|---|---|---|---|---|---|"
)


def sweep_row(label: str, run: str, result: SweepResult) -> str:
    gap = result.median_gap_seconds
    gap_text = f"{gap:.2f}" if gap is not None else "?"
    measured = f"{result.measurements}"
    if result.failed_measurements:
        measured += f" (+{result.failed_measurements} failed)"
    cells = [
        label,
        run,
        f"{result.wall_seconds:.1f}",
        f"{result.perf_seconds:.1f} ({result.perf_runs}, {result.failed_perf_runs})",
        f"{result.load_seconds:.1f}",
        str(result.server_starts),
        f"{result.rest_seconds:.1f}",
        f"{result.rest_fraction:.1%}",
        gap_text,
        measured,
    ]
    return "| " + " | ".join(cells) + " |"


def median(results: list[SweepResult], name: str) -> float:
    return statistics.median(getattr(result, name) for result in results)


def print_sweeps(results: dict[str, list[SweepResult]]) -> None:
    print(SWEEP_HEADER)
    for tool, runs in results.items():
        for position, result in enumerate(runs, start=1):
            print(sweep_row(tool, str(position), result))
    print(
        "\nperf_analyzer: summed run times from a wrapper script; model load: from "
        "Triton's log; rest: wall - perf_analyzer - model load; gap: median time "
        "between two perf_analyzer runs of the same variant.\n"
    )
    for tool, runs in results.items():
        print_tool_medians(tool, runs)
    if len(results) == 2:
        print_ratios(results["analyzer_core"], results["Model Analyzer"])


def print_tool_medians(tool: str, runs: list[SweepResult]) -> None:
    fraction = median(runs, "rest_fraction")
    line = (
        f"- {tool}, median of {len(runs)}: wall {median(runs, 'wall_seconds'):.1f} s, "
        f"perf_analyzer {median(runs, 'perf_seconds'):.1f} s, model load "
        f"{median(runs, 'load_seconds'):.1f} s, rest {median(runs, 'rest_seconds'):.1f}"
        f" s = {fraction:.1%} of wall"
    )
    if tool == "analyzer_core":
        verdict = "meets" if fraction < REST_TARGET_FRACTION else "misses"
        line += f" ({verdict} the {REST_TARGET_FRACTION:.0%} target)"
        line += own_split_line(runs)
    print(line)


def own_split_line(runs: list[SweepResult]) -> str:
    splits = [result.own_split for result in runs if result.own_split]
    if not splits:
        return ""
    parts = [
        f"{name} {statistics.median(split[name] for split in splits):.1f} s"
        for name in ("perf", "load", "start", "stop")
    ]
    return "; its own log: " + ", ".join(parts)


def print_ratios(ours: list[SweepResult], theirs: list[SweepResult]) -> None:
    wall = median(ours, "wall_seconds") / median(theirs, "wall_seconds")
    verdict = "meets" if wall <= RATIO_TARGET else "misses"
    paired = [
        mine.wall_seconds / other.wall_seconds
        for mine, other in zip(ours, theirs, strict=False)
    ]
    overhead = (median(ours, "wall_seconds") - median(ours, "perf_seconds")) / (
        median(theirs, "wall_seconds") - median(theirs, "perf_seconds")
    )
    print(
        f"- wall time ratio analyzer_core / Model Analyzer: {wall:.2f} "
        f"({verdict} the {RATIO_TARGET} target); per pair of runs: "
        f"{', '.join(f'{ratio:.2f}' for ratio in paired)}"
    )
    print(f"- ratio of wall minus perf_analyzer time: {overhead:.2f}")


# -- child benchmarks --------------------------------------------------------------


def shown_path(path: Path) -> str:
    """Write ``path`` relative to the repository root when it is inside it."""
    try:
        return str(path.relative_to(BENCH_DIRECTORY.parent))
    except ValueError:
        return str(path)


def run_child(
    script: str, arguments: list[str], timeout: float = CHILD_TIMEOUT_SECONDS
) -> dict:
    """Run another bench script if present; return its status and printed lines."""
    path = BENCH_DIRECTORY / script
    if not path.is_file():
        print(f"{script} is not in bench/ yet; skipped.")
        return {"script": script, "status": "missing", "lines": []}
    command = [sys.executable, str(path), *arguments]
    shown_command = [shown_path(Path(sys.executable)), f"bench/{script}", *arguments]
    print(f"`{' '.join(shown_command)}`\n")
    try:
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        print(f"{script} timed out after {timeout:.0f} s.")
        return {"script": script, "status": "timed out", "lines": []}
    lines = [line for line in completed.stdout.splitlines() if line.strip()]
    print("```\n" + "\n".join(lines) + "\n```")
    if completed.returncode != 0:
        print(f"\n{script} exited with status {completed.returncode}:")
        print("```\n" + completed.stderr.strip()[-2000:] + "\n```")
    return {"script": script, "status": completed.returncode, "lines": lines}


# -- dashboard ---------------------------------------------------------------------


def listing(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def print_dashboard(results: list[DashboardResult]) -> None:
    print(
        "| measurements | checkpoint MB | cold s | warm s (median; runs) "
        "| reload s (median; runs) | server RSS MB: idle, after cold load, max |\n"
        "|---|---|---|---|---|---|"
    )
    for result in results:
        print(
            f"| {result.measurements} | {result.checkpoint_mb:.1f} "
            f"| {result.cold_seconds:.2f} "
            f"| {result.warm_median_seconds:.2f}; {listing(result.warm_seconds)} "
            f"| {result.reload_median_seconds:.2f}; {listing(result.reload_seconds)} "
            f"| {result.idle_rss_mb:.0f}, {result.cold_rss_mb:.0f}, "
            f"{result.server_rss_mb:.0f} |"
        )
    print(
        f"\nTargets: warm load under {LOAD_TARGET_SECONDS:g} s and server RSS under "
        f"{MEMORY_TARGET_MB:g} MB."
    )


# -- main --------------------------------------------------------------------------


def main() -> None:
    arguments = parse_arguments()
    parts = arguments.parts
    sizes = [int(part) for part in arguments.sizes.split(",") if part.strip()]
    figures: dict = {"machine": describe_machine(), "load_before": os.getloadavg()}
    print(f"# Benchmarks\n\n{figures['machine']}")

    if "sweep" in parts or "model-analyzer" in parts:
        heading("Sweep: analyzer_core profile and Model Analyzer")
        sweeps = run_sweeps(parts, arguments.repeats, arguments.work_directory)
        print()
        print_sweeps(sweeps)
        figures["sweep"] = {
            tool: [asdict(result) for result in runs] for tool, runs in sweeps.items()
        }
    if "checkpoints" in parts:
        heading("Checkpoints")
        size_text = ",".join(str(size) for size in sizes)
        figures["checkpoints"] = run_child(
            "checkpoint_bench.py", ["--sizes", size_text]
        )
    if "reports" in parts:
        heading("Reports")
        size_text = ",".join(str(size) for size in [REPORT_BASE_SIZE, *sizes])
        figures["reports"] = run_child("reports_bench.py", ["--sizes", size_text])
    if "search" in parts:
        heading("Search: brute and quick")
        figures["search"] = run_child(
            "search_bench.py", ["--repeats", "1"], timeout=SEARCH_TIMEOUT_SECONDS
        )
    if "dashboard" in parts:
        heading("Dashboard")
        results = measure_dashboard(
            sizes, arguments.dashboard_loads, arguments.work_directory
        )
        print_dashboard(results)
        figures["dashboard"] = [asdict(result) for result in results]

    figures["load_after"] = os.getloadavg()
    print(f"\nFinished at {time.strftime('%H:%M:%S')}, {load_average()}")
    if arguments.json is not None:
        arguments.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
