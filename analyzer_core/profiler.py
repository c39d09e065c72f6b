"""The measuring loop: variants of each model, load points of each variant.

Data flows one way: settings -> search -> perf_analyzer -> measurements ->
checkpoint. A checkpoint is saved after each variant, after each model, and on
every stop, always to one new index for this run.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from analyzer_core.checkpoints.lock import CheckpointLock
from analyzer_core.checkpoints.store import CheckpointWriter, LoadedCheckpoint, load_checkpoint
from analyzer_core.config import ProfileSettings, validate
from analyzer_core.errors import AnalyzerError, CheckpointError, ServerError
from analyzer_core.metrics.machine import describe_machine
from analyzer_core.metrics.prometheus import MetricsSampler
from analyzer_core.perf.runner import LoadPoint, PerfAnalyzerRunner, RunStatus
from analyzer_core.progress import JobState, JobStatus, write_status
from analyzer_core.records import CheckpointData, Measurement, MeasurementStatus, Variant, variant_name
from analyzer_core.search.brute import BruteSearch, concurrency_sweep, throughput_saturated
from analyzer_core.stop import StopRequests
from analyzer_core.triton.server import LocalTritonServer
from analyzer_core.triton.variants import (
    VariantSettings,
    apply_settings,
    config_identity,
    read_model_config,
    write_variant,
)

logger = logging.getLogger(__name__)

FAILURES_TO_STOP_MODEL = 2


class StopNow(Exception):
    """Raised inside the loop when an immediate stop is requested."""


class ModelFailed(Exception):
    """The first runs of a model failed; the profiler moves on to the next model."""


class Profiler:
    def __init__(self, settings: ProfileSettings, stop: StopRequests | None = None) -> None:
        self.settings = settings
        self.stop = stop or StopRequests()
        self.status = JobStatus()
        self.data: CheckpointData | None = None
        self.writer: CheckpointWriter | None = None
        self.server: LocalTritonServer | None = None
        self.runner: PerfAnalyzerRunner | None = None
        self.changed = False
        self.load_seconds = 0.0
        self.perf_seconds = 0.0

    # -- life cycle -------------------------------------------------------------

    def run(self) -> int:
        """Profile every model; return the process exit status."""
        validate(self.settings)
        self.stop.install()
        lock = CheckpointLock(self.settings.checkpoint_directory)
        lock.acquire()
        try:
            return self._run_locked()
        finally:
            lock.release()
            self.stop.restore()

    def _run_locked(self) -> int:
        loaded = self._load_starting_checkpoint()
        self.writer = CheckpointWriter(self.settings.checkpoint_directory, loaded.index if loaded else None)
        self._set_state(JobState.STARTING)
        try:
            self._start_server(loaded)
            self._profile_models()
        except StopNow:
            logger.info("Stopping now as requested")
        except AnalyzerError as error:
            self._finish(JobState.FAILED, str(error))
            raise
        finally:
            self._shutdown()
        return self._final_status()

    def _final_status(self) -> int:
        self._log_models_measured()
        if self.stop.graceful:
            self._finish(JobState.STOPPED, "Stopped on request; measurements so far are saved.")
            return 130
        self._finish(JobState.FINISHED, "Profiling finished.")
        return 0

    def _load_starting_checkpoint(self) -> LoadedCheckpoint | None:
        directory = self.settings.checkpoint_directory
        loaded = load_checkpoint(directory, self.settings.checkpoint_index)
        machine = describe_machine(triton_version="unknown")
        if loaded is None:
            logger.info("No checkpoint file found, starting a fresh run.")
            self.data = CheckpointData(machine=machine)
            return None
        logger.info(
            "Loaded checkpoint %s with %d measurements", loaded.path, len(loaded.data.measurements)
        )
        if loaded.data.source != "analyzer_core":
            raise CheckpointError(
                f"Checkpoint {loaded.path} was written by Model Analyzer and is read-only "
                "here; profile into another --checkpoint-directory."
            )
        if not loaded.data.machine.same_hardware(machine):
            if not self.settings.fresh_index:
                raise CheckpointError(
                    f"Checkpoint {loaded.path} was measured on different hardware "
                    f"({loaded.data.machine.describe()}) than this machine "
                    f"({machine.describe()}); pass --fresh-index to start a new index "
                    "without its measurements."
                )
            logger.warning("Starting a fresh index: %s was measured on other hardware", loaded.path)
            self.data = CheckpointData(machine=machine)
            return loaded
        self.data = loaded.data
        return loaded

    def _start_server(self, loaded: LoadedCheckpoint | None) -> None:
        settings = self.settings
        settings.output_repository.mkdir(parents=True, exist_ok=True)
        settings.log_directory.mkdir(parents=True, exist_ok=True)
        self.server = LocalTritonServer(
            settings.output_repository.resolve(), settings.log_directory / "tritonserver.log"
        )
        self.server.start(timeout=settings.server_start_timeout)
        self.data.machine.triton_version = self.server.version()
        self.runner = PerfAnalyzerRunner(
            settings.perf,
            self.server.endpoints.grpc_url,
            self.server.endpoints.metrics_url,
            settings.log_directory / "perf_analyzer",
        )
        self.runner.log_directory.mkdir(parents=True, exist_ok=True)

    def _shutdown(self) -> None:
        try:
            self._save("on stop" if self.stop.graceful else "at the end of the run")
        finally:
            if self.server is not None:
                self.server.stop()

    # -- models and variants ------------------------------------------------------

    def _profile_models(self) -> None:
        self._plan()
        self._set_state(JobState.RUNNING)
        for model in self.settings.profile_models:
            if self.stop.graceful:
                return
            try:
                self._profile_model(model)
            except ModelFailed as error:
                logger.error("%s", error)
            self._save(f"after model {model}")

    def _plan(self) -> None:
        planned = 0
        for model in self.settings.profile_models:
            search = self._search(model)
            for settings in search.all_settings():
                planned += len(self._load_points(model, settings))
        self.status.planned = planned

    def _search(self, model: str) -> BruteSearch:
        default_config = read_model_config(self.settings.model_repository / model)
        supports_batching = int(default_config.get("max_batch_size", 0)) > 0
        return BruteSearch(model, supports_batching, self.settings.limits)

    def _profile_model(self, model: str) -> None:
        model_directory = self.settings.model_repository / model
        default_config = read_model_config(model_directory)
        search = self._search(model)
        self.status.model = model
        failures_at_start = [0]
        for variant_settings in search:
            best = self._profile_variant(model, model_directory, default_config, variant_settings, failures_at_start)
            search.report(best)
            if self.stop.graceful:
                return
        self._count_pruned(model, search.pruned)

    def _profile_variant(
        self,
        model: str,
        model_directory: Path,
        default_config: dict,
        variant_settings: VariantSettings,
        failures_at_start: list[int],
    ) -> float:
        kind = "KIND_GPU" if self.data.machine.gpus else "KIND_CPU"
        config = apply_settings(default_config, variant_settings, _instance_kind(default_config, kind))
        variant = self._variant_record(model, config, variant_settings.is_default)
        points = self._load_points(model, variant_settings, variant.name)
        if all(self._measured(point) for point in points):
            logger.info("Skipping %s: all %d load points already measured", variant.name, len(points))
            self._add_progress(skipped=len(points))
            return self._best_throughput(variant.name)
        self.data.variants[variant.name] = variant
        self.status.variant = variant.name
        logger.info("Profiling %s (%s)", variant.name, variant.describe())
        write_variant(self.settings.output_repository, model_directory, variant.name, config)
        try:
            self.load_seconds += self.server.load_model(variant.name)
        except ServerError as error:
            logger.error("%s; skipping variant %s", error, variant.name)
            self._add_progress(failed=len(points))
            return 0.0
        try:
            self._measure_points(points, failures_at_start)
        finally:
            if not self.stop.immediate:
                self.server.unload_model(variant.name)
        self._save(f"after variant {variant.name}")
        return self._best_throughput(variant.name)

    def _variant_record(self, model: str, config: dict, is_default: bool) -> Variant:
        if is_default:
            return Variant(variant_name(model, None), model, config, is_default=True)
        identity = config_identity(config)
        taken = []
        for variant in self.data.variants_of(model):
            if not variant.is_default and config_identity(variant.config) == identity:
                return variant
            suffix = variant.name.rpartition("_config_")[2]
            if suffix.isdigit():
                taken.append(int(suffix))
        return Variant(variant_name(model, max(taken, default=-1) + 1), model, config)

    # -- load points ----------------------------------------------------------------

    def _load_points(self, model: str, settings: VariantSettings, name: str = "") -> list[LoadPoint]:
        concurrencies = self.settings.concurrency or concurrency_sweep(
            self.settings.min_concurrency, self.settings.max_concurrency
        )
        max_batch = settings.max_batch_size
        if max_batch is None:
            max_batch = int(read_model_config(self.settings.model_repository / model).get("max_batch_size", 0))
        points = []
        for batch_size in self.settings.batch_sizes:
            if batch_size > max(max_batch, 1):
                if name:
                    logger.info("Skipping client batch size %d for %s: above max batch size %d", batch_size, name, max_batch)
                continue
            points += [LoadPoint(name, batch_size, concurrency) for concurrency in concurrencies]
        return points

    def _measured(self, point: LoadPoint) -> bool:
        return any(
            m.ok and m.key == (m.model, point.variant, point.batch_size, point.concurrency, point.request_rate)
            for m in self.data.measurements
            if m.variant == point.variant
        )

    def _measure_points(self, points: list[LoadPoint], failures_at_start: list[int]) -> None:
        by_batch: dict[int, list[LoadPoint]] = {}
        for point in points:
            by_batch.setdefault(point.batch_size, []).append(point)
        for batch_points in by_batch.values():
            throughputs: list[float] = []
            for position, point in enumerate(batch_points):
                if self.stop.graceful:
                    return
                throughput = self._measure_point(point, failures_at_start)
                if throughput is not None:
                    throughputs.append(throughput)
                if self.settings.limits.early_exit and throughput_saturated(throughputs):
                    remaining = len(batch_points) - position - 1
                    if remaining:
                        logger.info(
                            "Throughput of %s stopped growing at concurrency %s; skipping %d higher level(s)",
                            point.variant, point.concurrency, remaining,
                        )  # fmt: skip
                        self._add_progress(skipped=remaining)
                    break

    def _measure_point(self, point: LoadPoint, failures_at_start: list[int]) -> float | None:
        existing = self._existing_measurement(point)
        if existing is not None:
            logger.info("Skipping %s: already measured", point.describe())
            self._add_progress(skipped=1)
            return existing.metrics.get("perf_throughput")
        self.status.concurrency = point.concurrency
        self.status.batch_size = point.batch_size
        write_status(self.settings.status_file, self.status) if self.settings.status_file else None
        with MetricsSampler(self.server.endpoints.metrics_url, self.server.pid) as sampler:
            result = self.runner.run(point, lambda: self.stop.immediate)
        self.perf_seconds += result.seconds
        if result.status is RunStatus.ABORTED:
            raise StopNow()
        model = self.status.model
        if result.status is RunStatus.FAILED:
            return self._record_failure(model, point, result, failures_at_start)
        cpu, gpus = sampler.summary()
        metrics = dict(result.row.metrics, **cpu)
        gpu_metrics = _merge_gpu(result.row.gpu_metrics, gpus)
        measurement = Measurement(model, point.variant, point.batch_size, point.concurrency, metrics, point.request_rate, gpu_metrics)
        self._record(measurement)
        failures_at_start[0] = -1  # a success: later failures no longer stop the model
        result.log_path.unlink(missing_ok=True)
        logger.info(
            "Measured %s: %.1f infer/sec, p99 latency %.2f ms",
            point.describe(), metrics["perf_throughput"], metrics.get("perf_latency_p99", float("nan")),
        )  # fmt: skip
        self._add_progress(done=1)
        return metrics["perf_throughput"]

    def _existing_measurement(self, point: LoadPoint) -> Measurement | None:
        for measurement in self.data.measurements:
            if measurement.ok and measurement.variant == point.variant and measurement.batch_size == point.batch_size and measurement.concurrency == point.concurrency and measurement.request_rate == point.request_rate:
                return measurement
        return None

    def _record_failure(self, model: str, point: LoadPoint, result, failures_at_start: list[int]) -> None:
        logger.error("Measurement of %s failed: %s (log: %s)", point.describe(), result.message.strip()[:500], result.log_path)
        failed = Measurement(model, point.variant, point.batch_size, point.concurrency, {}, point.request_rate, status=MeasurementStatus.FAILED, error_log=str(result.log_path))
        self._record(failed)
        self._add_progress(failed=1)
        if failures_at_start[0] >= 0:
            failures_at_start[0] += 1
            if failures_at_start[0] >= FAILURES_TO_STOP_MODEL:
                raise ModelFailed(
                    f"Stopping model {model}: its first {FAILURES_TO_STOP_MODEL} perf_analyzer runs failed; "
                    f"see {result.log_path}"
                )
        return None

    def _record(self, measurement: Measurement) -> None:
        self.data.measurements = [
            m for m in self.data.measurements if m.ok or m.key != measurement.key
        ]
        self.data.measurements.append(measurement)
        self.changed = True

    def _best_throughput(self, variant: str) -> float:
        values = [m.metrics.get("perf_throughput", 0.0) for m in self.data.measurements_of(variant) if m.ok]
        return max(values, default=0.0)

    def _count_pruned(self, model: str, pruned: list[VariantSettings]) -> None:
        count = sum(len(self._load_points(model, settings)) for settings in pruned)
        if count:
            self._add_progress(skipped=count)

    # -- saving and status ------------------------------------------------------------

    def _save(self, when: str) -> None:
        if self.data is None or self.writer is None:
            return
        if not self.changed:
            if self.writer.saves == 0 and when in ("on stop", "at the end of the run"):
                logger.info("No new measurements; no checkpoint written")
            return
        path = self.writer.save(self.data)
        self.changed = False
        self.status.checkpoint_path = str(path)
        self._write_status()

    def _add_progress(self, done: int = 0, skipped: int = 0, failed: int = 0) -> None:
        self.status.done += done
        self.status.skipped += skipped
        self.status.failed += failed
        self._write_status()

    def _set_state(self, state: JobState, message: str | None = None) -> None:
        self.status.state = state
        self.status.message = message
        self._write_status()

    def _finish(self, state: JobState, message: str) -> None:
        self._set_state(state, message)

    def _write_status(self) -> None:
        if self.settings.status_file is not None:
            write_status(self.settings.status_file, self.status)

    def _log_models_measured(self) -> None:
        if self.data is None:
            return
        models = sorted({m.model for m in self.data.measurements if m.ok})
        logger.info("Models with measurements: %s", ", ".join(models) or "none")
        logger.info(
            "Time spent: %.1f s in perf_analyzer, %.1f s loading variants",
            self.perf_seconds,
            self.load_seconds,
        )


def _instance_kind(default_config: dict, fallback: str) -> str:
    groups = default_config.get("instance_group") or []
    return str(groups[0].get("kind", fallback)) if groups else fallback


def _merge_gpu(from_perf: dict, from_server: dict) -> dict:
    merged = {uuid: dict(values) for uuid, values in from_server.items()}
    for uuid, values in from_perf.items():
        merged.setdefault(uuid, {}).update(values)
    return merged
