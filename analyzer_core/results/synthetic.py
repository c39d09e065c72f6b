"""Synthetic checkpoints with plausible numbers, for tests, demos and benchmarks.

The numbers come from a simple queueing model, not from Triton: each instance
serves a batch in a fixed time that grows with the batch size, and requests
beyond the instances' capacity wait in the server queue.
"""

from __future__ import annotations

import random
from itertools import product

from analyzer_core.records import (
    CheckpointData,
    GpuInfo,
    MachineInfo,
    Measurement,
    Variant,
    variant_name,
)

CONCURRENCIES = (1, 2, 4, 8, 16, 32)
GPU_UUID = "GPU-00000000-0000-0000-0000-000000000000"


def synthetic_checkpoint(
    models: dict[str, int],
    gpu: bool = False,
    concurrencies: tuple[int, ...] = CONCURRENCIES,
    seed: int = 0,
) -> CheckpointData:
    """Build a checkpoint with ``models[name]`` variants per model plus defaults.

    Every variant is measured at batch size 1 at each of ``concurrencies``.
    With ``gpu`` the measurements carry GPU metrics for one GPU, and the
    variants use KIND_GPU instances.
    """
    generator = random.Random(seed)
    gpus = [GpuInfo("Synthetic GPU", GPU_UUID, 16000.0)] if gpu else []
    data = CheckpointData(
        machine=MachineInfo("Synthetic CPU", "2.51.0", gpus), created_at=1.7e9
    )
    for model, count in models.items():
        for variant in synthetic_variants(model, count, gpu):
            data.variants[variant.name] = variant
            for concurrency in concurrencies:
                data.measurements.append(
                    synthetic_measurement(variant, concurrency, gpu, generator)
                )
    data.server_only = _server_only(gpu)
    return data


def synthetic_variants(model: str, count: int, gpu: bool) -> list[Variant]:
    """Return the default config and ``count`` variants of instances and batching.

    The grid has 56 combinations, so a larger ``count`` still yields 56.
    """
    kind = "KIND_GPU" if gpu else "KIND_CPU"
    default = {
        "name": model,
        "max_batch_size": 8,
        "instance_group": [{"count": 1, "kind": kind}],
    }
    variants = [Variant(variant_name(model, None), model, default, is_default=True)]
    grid = product((1, 2, 4, 8, 16, 32, 64), (1, 2, 3, 4), (True, False))
    for index, (batch, instances, dynamic) in enumerate(grid):
        if index >= count:
            break
        config = {
            "name": model,
            "max_batch_size": batch,
            "instance_group": [{"count": instances, "kind": kind}],
        }
        if dynamic:
            config["dynamic_batching"] = {}
        variants.append(Variant(variant_name(model, index), model, config))
    return variants


def synthetic_measurement(
    variant: Variant, concurrency: int, gpu: bool, generator: random.Random
) -> Measurement:
    """Model one perf_analyzer run of ``variant`` at ``concurrency``."""
    batch = variant.max_batch_size if variant.dynamic_batching else 1
    batch = max(1, min(batch, concurrency))

    compute = 2.0 + 0.35 * batch
    capacity = variant.instance_count * batch / compute * 1000.0
    offered = concurrency / (compute + 0.3) * 1000.0
    throughput = min(offered, capacity) * generator.uniform(0.95, 1.05)
    latency = concurrency / throughput * 1000.0
    queue = max(latency - compute - 0.3, 0.0)

    metrics = {
        "perf_throughput": throughput,
        "perf_latency_avg": latency,
        "perf_latency_p50": latency * 0.95,
        "perf_latency_p90": latency * 1.15,
        "perf_latency_p95": latency * 1.25,
        "perf_latency_p99": latency * 1.4,
        "perf_client_send_recv": 0.1,
        "perf_client_response_wait": latency - 0.1,
        "perf_server_queue": queue,
        "perf_server_compute_input": 0.1,
        "perf_server_compute_infer": compute - 0.2,
        "perf_server_compute_output": 0.1,
        "triton_rss": 300.0 + 120.0 * variant.instance_count + 4.0 * batch,
        "cpu_utilization": min(100.0, throughput / capacity * 90.0),
    }

    measurement = Measurement(
        model=variant.model,
        variant=variant.name,
        batch_size=1,
        concurrency=concurrency,
        metrics=metrics,
        timestamp=1.7e9,
    )

    if gpu:
        memory = 800.0 + 350.0 * variant.instance_count + 20.0 * batch
        measurement.gpu_metrics = {
            GPU_UUID: {
                "gpu_used_memory": memory,
                "gpu_free_memory": 16000.0 - memory,
                "gpu_utilization": metrics["cpu_utilization"],
                "gpu_power_usage": 60.0 + metrics["cpu_utilization"],
            }
        }
    return measurement


def _server_only(gpu: bool) -> dict[str, float]:
    if gpu:
        return {
            "gpu_used_memory": 500.0,
            "gpu_utilization": 0.0,
            "gpu_power_usage": 55.0,
        }
    return {"triton_rss": 180.0, "cpu_utilization": 0.5}
