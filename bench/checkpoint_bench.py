"""Time checkpoint saves and loads, and the bytes stored per measurement.

Run from the repository root:

    .venv/bin/python bench/checkpoint_bench.py
    .venv/bin/python bench/checkpoint_bench.py --sizes 10000 --gpus 2,8 --repeats 9

Each size is saved with ``save_checkpoint`` (JSON encoding, write, fsync and
rename) and loaded with ``read_checkpoint_file`` (read, parse, validate). The
table shows the median of ``--repeats`` runs, in wall-clock seconds and in
CPU seconds of this process (``time.process_time``). On a shared machine the
CPU time is the steadier of the two, but it leaves out waiting for the disk. The measurements are synthetic
but shaped like perf_analyzer's: latencies are whole microseconds stored in
ms, throughput has two decimals, and CPU and GPU values are means of samples.
The targets are a save and a load under 0.3 s at 10,000 measurements and under
1 KB per measurement on disk, with 0 to 8 GPUs. The load average from
/proc/loadavg is printed before and after the table.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from analyzer_core.checkpoints.store import read_checkpoint_file, save_checkpoint
from analyzer_core.records import (
    CheckpointData,
    GpuInfo,
    MachineInfo,
    Measurement,
    Variant,
)

LATENCY_METRICS = (
    "perf_latency_avg",
    "perf_latency_p50",
    "perf_latency_p90",
    "perf_latency_p95",
    "perf_latency_p99",
    "perf_client_send_recv",
    "perf_client_response_wait",
    "perf_server_queue",
    "perf_server_compute_input",
    "perf_server_compute_infer",
    "perf_server_compute_output",
)
MEASUREMENTS_PER_VARIANT = 20
SAVE_TARGET_SECONDS = 0.3
LOAD_TARGET_SECONDS = 0.3
BYTES_TARGET = 1000


def gpu_uuid(index: int) -> str:
    return f"GPU-{index:08x}-5d1c-4b6e-9f3a-0c2d7e8f9a1b"


def make_measurement(
    position: int, gpu_count: int, generator: random.Random
) -> Measurement:
    """Build one measurement with perf_analyzer's metrics and value shapes."""
    variant = f"bench_model_config_{position // MEASUREMENTS_PER_VARIANT}"
    metrics = {"perf_throughput": round(generator.uniform(10, 20000), 2)}
    for name in LATENCY_METRICS:
        metrics[name] = generator.randint(5, 200_000) * 1e-3
    metrics["cpu_utilization"] = generator.uniform(0, 100)
    metrics["cpu_used_ram"] = generator.randint(10**8, 10**10) * 1e-6
    metrics["cpu_available_ram"] = generator.randint(10**9, 10**11) * 1e-6
    metrics["triton_rss"] = generator.randint(10**7, 10**10) * 1e-6
    gpu_metrics = {
        gpu_uuid(index): {
            "gpu_utilization": generator.uniform(0, 100),
            "gpu_power_usage": generator.uniform(20, 400),
            "gpu_used_memory": generator.randint(10**8, 8 * 10**10) * 1e-6,
            "gpu_total_memory": 81_559.2,
        }
        for index in range(gpu_count)
    }
    return Measurement(
        model="bench_model",
        variant=variant,
        batch_size=1,
        concurrency=position % MEASUREMENTS_PER_VARIANT + 1,
        metrics=metrics,
        gpu_metrics=gpu_metrics,
    )


def make_checkpoint(size: int, gpu_count: int, seed: int = 0) -> CheckpointData:
    """Build checkpoint data of ``size`` measurements, 20 per variant."""
    generator = random.Random(seed)
    gpus = [
        GpuInfo("NVIDIA A100-SXM4-80GB", gpu_uuid(i), 81_559.2)
        for i in range(gpu_count)
    ]
    data = CheckpointData(MachineInfo("AMD EPYC 7742", "2.51.0", gpus))
    data.measurements = [make_measurement(i, gpu_count, generator) for i in range(size)]
    for measurement in data.measurements:
        if measurement.variant not in data.variants:
            config = {"max_batch_size": 8, "instance_group": [{"count": 2}]}
            data.variants[measurement.variant] = Variant(
                measurement.variant, "bench_model", config
            )
    return data


@dataclass
class Timing:
    """Medians over the repeats, in seconds, and the file size per measurement."""

    save: float
    load: float
    save_cpu: float
    load_cpu: float
    bytes_per_measurement: float


def time_size(directory: Path, size: int, gpu_count: int, repeats: int) -> Timing:
    data = make_checkpoint(size, gpu_count)
    samples: dict[str, list[float]] = {
        "save": [],
        "load": [],
        "save_cpu": [],
        "load_cpu": [],
    }
    path = directory / "0.ckpt"
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        path = save_checkpoint(directory, 0, data)
        samples["save"].append(time.perf_counter() - wall)
        samples["save_cpu"].append(time.process_time() - cpu)
        wall, cpu = time.perf_counter(), time.process_time()
        read_checkpoint_file(path)
        samples["load"].append(time.perf_counter() - wall)
        samples["load_cpu"].append(time.process_time() - cpu)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return Timing(**medians, bytes_per_measurement=path.stat().st_size / size)


def verdict(timing: Timing) -> str:
    """Compare wall-clock times and size with the targets."""
    misses = []
    if timing.save >= SAVE_TARGET_SECONDS:
        misses.append("save")
    if timing.load >= LOAD_TARGET_SECONDS:
        misses.append("load")
    if timing.bytes_per_measurement >= BYTES_TARGET:
        misses.append("size")
    return "over target: " + ", ".join(misses) if misses else "within target"


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated measurement counts (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--gpus",
        default="0,1,2,4,8",
        help="comma-separated GPU counts per measurement (default: 0,1,2,4,8)",
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="runs per size (default: 5)"
    )
    parser.add_argument(
        "--directory",
        type=Path,
        help="directory to save in, to bench a given disk (default: a temporary one)",
    )
    return parser.parse_args()


def load_average() -> str:
    """Return the 1, 5 and 15 minute load averages, or "unknown" off Linux."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main() -> None:
    arguments = parse_arguments()
    sizes = [int(part) for part in arguments.sizes.split(",")]
    gpu_counts = [int(part) for part in arguments.gpus.split(",")]
    print(f"load average before: {load_average()}")
    print(
        f"{'measurements':>12} {'GPUs':>4} {'save s':>7} {'load s':>7} "
        f"{'save cpu':>8} {'load cpu':>8} {'B/meas':>7}"
    )
    with tempfile.TemporaryDirectory(dir=arguments.directory) as temporary:
        directory = Path(temporary)
        for gpu_count in gpu_counts:
            for size in sizes:
                timing = time_size(directory, size, gpu_count, arguments.repeats)
                print(
                    f"{size:>12} {gpu_count:>4} {timing.save:>7.3f} {timing.load:>7.3f} "
                    f"{timing.save_cpu:>8.3f} {timing.load_cpu:>8.3f} "
                    f"{timing.bytes_per_measurement:>7.0f}  {verdict(timing)}"
                )
    print(f"load average after: {load_average()}")


if __name__ == "__main__":
    main()
