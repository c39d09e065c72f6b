"""Measure the load points of one loaded variant, raising load until it stops paying."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from analyzer_core.metrics.gpu import GpuSampler
from analyzer_core.metrics.prometheus import MetricsSampler, add_free_memory
from analyzer_core.perf.runner import (
    LoadPoint,
    PerfAnalyzerRunner,
    RunResult,
    RunStatus,
)
from analyzer_core.recorder import RunRecorder
from analyzer_core.records import Measurement, MeasurementStatus
from analyzer_core.search.load import throughput_saturated
from analyzer_core.stop import StopNow, StopRequests

logger = logging.getLogger(__name__)

FAILURES_TO_STOP_MODEL = 2


class ModelFailed(Exception):
    """The first runs of a model failed, so the profiler moves on to the next model."""


@dataclass
class ModelFailures:
    """Counts failed runs until a model's first success."""

    count: int = 0
    succeeded: bool = False

    def add(self) -> bool:
        """Count a failure; True once the model should be stopped."""
        if self.succeeded:
            return False
        self.count += 1
        return self.count >= FAILURES_TO_STOP_MODEL


@dataclass
class SweepContext:
    """Inputs for measuring the load points of one variant.

    ``early_exit`` stops raising concurrency (or request rate) once throughput
    saturates. ``gpu_sampler`` is None without a local GPU.
    """

    model: str
    runner: PerfAnalyzerRunner
    metrics_url: str
    server_pid: Callable[[], int | None]
    recorder: RunRecorder
    stop: StopRequests
    early_exit: bool
    failures: ModelFailures
    gpu_sampler: GpuSampler | None = None


def measure_points(points: list[LoadPoint], context: SweepContext) -> None:
    """Measure ``points`` batch size by batch size, each at rising load."""
    by_batch: dict[int, list[LoadPoint]] = {}
    for point in points:
        by_batch.setdefault(point.batch_size, []).append(point)
    for batch_points in by_batch.values():
        if not _measure_rising_load(batch_points, context):
            return


def _measure_rising_load(points: list[LoadPoint], context: SweepContext) -> bool:
    """Measure one batch size's points; False when a stop was requested."""
    throughputs: list[float] = []
    for position, point in enumerate(points):
        if context.stop.graceful:
            return False
        throughput = measure_point(point, context)
        if throughput is not None:
            throughputs.append(throughput)
        if context.early_exit and throughput_saturated(throughputs):
            _skip_rest(points[position + 1 :], point, context)
            break
    return True


def _skip_rest(rest: list[LoadPoint], last: LoadPoint, context: SweepContext) -> None:
    if not rest:
        return
    logger.info(
        "Throughput of %s stopped growing at concurrency %s; skipping %d higher level(s)",
        last.variant,
        last.concurrency,
        len(rest),
    )
    context.recorder.progress(skipped=len(rest))


def measure_point(point: LoadPoint, context: SweepContext) -> float | None:
    """Measure one load point unless already measured; return its throughput."""
    recorder = context.recorder
    key = (
        context.model,
        point.variant,
        point.batch_size,
        point.concurrency,
        point.request_rate,
    )
    existing = recorder.find(key)
    if existing is not None:
        logger.info("Skipping %s: already measured", point.describe())
        recorder.progress(skipped=1)
        return existing.metrics.get("perf_throughput")
    recorder.status.concurrency = point.concurrency
    recorder.status.request_rate = point.request_rate
    recorder.status.batch_size = point.batch_size
    recorder.write_status()

    with MetricsSampler(
        context.metrics_url, context.server_pid(), context.gpu_sampler
    ) as sampler:
        result = context.runner.run(point, lambda: context.stop.immediate)
    if result.status is RunStatus.ABORTED:
        raise StopNow()
    if result.status is RunStatus.FAILED:
        _record_failure(point, result, context)
        return None

    cpu, gpus = sampler.summary()
    measurement = Measurement(
        model=context.model,
        variant=point.variant,
        batch_size=point.batch_size,
        concurrency=point.concurrency,
        request_rate=point.request_rate,
        metrics=dict(result.row.metrics, **cpu),
        gpu_metrics=_merge_gpu(result.row.gpu_metrics, gpus),
    )
    recorder.record(measurement)
    context.failures.succeeded = True
    result.log_path.unlink(missing_ok=True)
    logger.info(
        "Measured %s: %.1f infer/sec, p99 latency %.2f ms",
        point.describe(),
        measurement.metrics["perf_throughput"],
        measurement.metrics.get("perf_latency_p99", float("nan")),
    )
    # Saving each measurement bounds what a crash loses to the run in flight; a
    # save of 10,000 measurements costs about 0.15 s of CPU (bench/checkpoint_bench.py).
    recorder.save()
    recorder.progress(done=1)
    return measurement.metrics["perf_throughput"]


def _record_failure(point: LoadPoint, result: RunResult, context: SweepContext) -> None:
    logger.error(
        "Measurement of %s failed: %s (log: %s)",
        point.describe(),
        result.message,
        result.log_path,
    )
    failed = Measurement(
        model=context.model,
        variant=point.variant,
        batch_size=point.batch_size,
        concurrency=point.concurrency,
        request_rate=point.request_rate,
        metrics={},
        status=MeasurementStatus.FAILED,
        error_log=str(result.log_path),
    )
    context.recorder.record(failed)
    context.recorder.progress(failed=1)
    if context.failures.add():
        raise ModelFailed(
            f"Stopping model {context.model}: its first {FAILURES_TO_STOP_MODEL} "
            f"perf_analyzer runs failed; see {result.log_path}"
        )


def _merge_gpu(from_perf: dict, from_server: dict) -> dict:
    """Per-GPU metrics from the server side, overridden by perf_analyzer's."""
    merged = {uuid: dict(values) for uuid, values in from_server.items()}
    for uuid, values in from_perf.items():
        merged.setdefault(uuid, {}).update(values)
    for values in merged.values():
        add_free_memory(values)
    return merged
