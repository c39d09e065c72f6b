"""Compare brute and quick search on a model of the bundled example repository.

Run from the repository root:

    .venv/bin/python bench/search_bench.py --repeats 2

By default both modes search ``simulated_gpu`` over the profile command's
default grid: instance count 1-5 by max batch size 1-128 with dynamic
batching, concurrency 1, 2, 4, ... up to 1024, with the default early exits,
client batch size 1 and time windows of 1 s. ``simulated_gpu`` sleeps as a
model on one shared GPU would take time, so its throughput depends on the
config far more than on the load of a 2-core machine. ``--model dense_mlp``
searches the CPU-bound network instead, whose variants differ by less than
the run-to-run noise here. Count windows of 50 requests, Model Analyzer's
default, last about 20 ms on ``dense_mlp``: too short for two runs to agree.
Quick search starts from the model's own config.

For each run the script prints its wall time, the measurements and variants
it took, and the variant it ranks best by throughput. Quick search is judged
against brute search in two ways: whether both pick the same instance count
and max batch size, and how far the throughput of quick's pick, as brute
search measured that same variant, is below brute's best.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sweep_timing import work_folder

from analyzer_core.checkpoints.store import list_checkpoints, read_checkpoint_file
from analyzer_core.records import CheckpointData
from analyzer_core.results.ranking import rank_model
from analyzer_core.results.settings import RankingSettings

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
MODEL_REPOSITORY = REPOSITORY_ROOT / "examples" / "model_repository"
MODEL = "simulated_gpu"
MAX_INSTANCE_COUNT = 5
MAX_MODEL_BATCH_SIZE = 128
MAX_CONCURRENCY = 1024
MEASUREMENT_INTERVAL_MS = 1000
RUN_TIMEOUT_SECONDS = 3600

Settings = tuple[int, int]  # (instance count, max batch size)


@dataclass
class SearchRun:
    """One ``profile`` run in one search mode."""

    mode: str
    wall_seconds: float
    measurements: int
    failed: int
    variants: int
    best: Settings | None
    best_throughput: float
    throughput_by_settings: dict[Settings, float]


def profile_command(mode: str, work: Path, grid: argparse.Namespace) -> list[str]:
    return [
        sys.executable,
        "-m",
        "analyzer_core",
        "profile",
        "--model-repository",
        str(MODEL_REPOSITORY),
        "--profile-models",
        grid.model,
        "--run-config-search-mode",
        mode,
        "--run-config-search-max-instance-count",
        str(grid.max_instance_count),
        "--run-config-search-max-model-batch-size",
        str(grid.max_model_batch_size),
        "--run-config-search-max-concurrency",
        str(grid.max_concurrency),
        *window_flags(grid),
        "--checkpoint-directory",
        str(work / "checkpoints"),
        "--export-path",
        str(work / "export"),
    ]


def window_flags(grid: argparse.Namespace) -> list[str]:
    if grid.measurement_request_count:
        return ["--measurement-request-count", str(grid.measurement_request_count)]
    return ["--measurement-interval", str(grid.measurement_interval)]


def run_search(mode: str, work: Path, grid: argparse.Namespace) -> SearchRun:
    """Run one search in ``work`` and read what its checkpoint holds."""
    started = time.monotonic()
    with open(work / "profile.log", "w", encoding="utf-8") as log:
        completed = subprocess.run(
            profile_command(mode, work, grid),
            cwd=REPOSITORY_ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_SECONDS,
            check=False,
        )
    wall = time.monotonic() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"{mode} search exited with status {completed.returncode}; "
            f"see {work / 'profile.log'}"
        )
    checkpoints = list_checkpoints(work / "checkpoints")
    data = read_checkpoint_file(checkpoints[-1].path)
    return summarize(mode, wall, data, grid.model)


def summarize(mode: str, wall: float, data: CheckpointData, model: str) -> SearchRun:
    ranking = rank_model(data, model, RankingSettings())
    throughput: dict[Settings, float] = {}
    best: Settings | None = None
    for entry in ranking.entries:
        if entry.variant is None or entry.variant.is_default or entry.best is None:
            continue
        key = (entry.variant.instance_count, entry.variant.max_batch_size)
        throughput[key] = entry.best.metrics.get("perf_throughput", 0.0)
        if best is None:
            best = key
    measurements = [m for m in data.measurements if m.model == model]
    return SearchRun(
        mode=mode,
        wall_seconds=wall,
        measurements=sum(1 for m in measurements if m.ok),
        failed=sum(1 for m in measurements if not m.ok),
        variants=len(data.variants_of(model)),
        best=best,
        best_throughput=throughput.get(best, 0.0) if best else 0.0,
        throughput_by_settings=throughput,
    )


def describe(settings: Settings | None) -> str:
    if settings is None:
        return "none"
    return f"{settings[0]} instance(s), max batch {settings[1]}"


def print_runs(runs: list[SearchRun]) -> None:
    print(
        "| mode | wall min | measurements (failed) | variants | best variant "
        "| best infer/s |\n|---|---|---|---|---|---|"
    )
    for run in runs:
        print(
            f"| {run.mode} | {run.wall_seconds / 60:.1f} | {run.measurements} "
            f"({run.failed}) | {run.variants} | {describe(run.best)} "
            f"| {run.best_throughput:.1f} |"
        )


def print_comparison(runs: list[SearchRun]) -> None:
    brute = [run for run in runs if run.mode == "brute"]
    quick = [run for run in runs if run.mode == "quick"]
    if not brute or not quick:
        return
    print()
    for mode, group in (("brute", brute), ("quick", quick)):
        print(
            f"- {mode}: median {statistics.median(r.wall_seconds for r in group) / 60:.1f}"
            f" min, {statistics.median(r.measurements for r in group):.0f} measurements"
        )
    for quick_run in quick:
        for brute_run in brute:
            print(f"- {judge(quick_run, brute_run)}")


def judge(quick: SearchRun, brute: SearchRun) -> str:
    """Describe how quick's pick fares in brute's measurements."""
    same = (
        "the same variant as"
        if quick.best == brute.best
        else "a different variant from"
    )
    measured = brute.throughput_by_settings.get(quick.best) if quick.best else None
    if measured is None or not brute.best_throughput:
        return f"quick picked {describe(quick.best)}, {same} brute; brute did not measure it"
    shortfall = 100.0 * (1.0 - measured / brute.best_throughput)
    return (
        f"quick picked {describe(quick.best)}, {same} brute ({describe(brute.best)}); "
        f"brute measured quick's pick at {measured:.1f} infer/s, {shortfall:.1f} % "
        f"below brute's best of {brute.best_throughput:.1f}"
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=int, default=1, help="runs per search mode (default: 1)"
    )
    parser.add_argument(
        "--model",
        default=MODEL,
        help=f"model of the bundled example repository to search (default: {MODEL})",
    )
    parser.add_argument(
        "--max-instance-count",
        type=int,
        default=MAX_INSTANCE_COUNT,
        help=f"largest instance count searched (default: {MAX_INSTANCE_COUNT})",
    )
    parser.add_argument(
        "--max-model-batch-size",
        type=int,
        default=MAX_MODEL_BATCH_SIZE,
        help=f"largest max batch size searched (default: {MAX_MODEL_BATCH_SIZE})",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=MAX_CONCURRENCY,
        help=f"largest concurrency measured (default: {MAX_CONCURRENCY})",
    )
    parser.add_argument(
        "--measurement-interval",
        type=int,
        default=MEASUREMENT_INTERVAL_MS,
        metavar="MS",
        help="time window of each perf_analyzer measurement "
        f"(default: {MEASUREMENT_INTERVAL_MS})",
    )
    parser.add_argument(
        "--measurement-request-count",
        type=int,
        metavar="N",
        help="measure count windows of N requests instead of time windows",
    )
    parser.add_argument(
        "--modes",
        default="brute,quick",
        help="comma-separated search modes to run (default: brute,quick)",
    )
    parser.add_argument(
        "--work-directory",
        type=Path,
        help="keep each run's checkpoints and logs under this folder",
    )
    return parser.parse_args()


def main() -> int:
    arguments = parse_arguments()
    runs = []
    for position in range(arguments.repeats):
        for mode in arguments.modes.split(","):
            with work_folder(f"search-{mode}-", arguments.work_directory) as work:
                run = run_search(mode, work, arguments)
            runs.append(run)
            print(
                f"- run {position + 1}, {mode}: {run.wall_seconds / 60:.1f} min, "
                f"{run.measurements} measurements",
                flush=True,
            )
    print()
    print_runs(runs)
    print_comparison(runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
