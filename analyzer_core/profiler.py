"""The measuring loop: the variants of each model, the load points of each variant.

Data flows one way: settings -> search -> perf_analyzer -> measurements ->
checkpoint. A checkpoint is saved after each variant, after each model and on
every stop, always to the one new index of this run. Triton is started only
once a variant needs measuring, and variants are swapped through model control
without restarting it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

from analyzer_core.checkpoints.lock import CheckpointLock
from analyzer_core.checkpoints.store import (
    CheckpointWriter,
    LoadedCheckpoint,
    load_checkpoint,
)
from analyzer_core.config import ProfileSettings
from analyzer_core.errors import AnalyzerError, CheckpointError, ServerError
from analyzer_core.metrics.gpu import GpuSampler
from analyzer_core.metrics.machine import describe_machine
from analyzer_core.metrics.prometheus import idle_server_usage
from analyzer_core.perf.runner import LoadPoint, PerfAnalyzerRunner
from analyzer_core.progress import JobState
from analyzer_core.recorder import RunRecorder
from analyzer_core.records import CheckpointData, Variant, variant_name
from analyzer_core.search.base import SearchMode, VariantSearch
from analyzer_core.search.order import describe_ranking, ranking_order
from analyzer_core.search.select import create_search
from analyzer_core.stop import StopNow, StopRequests
from analyzer_core.sweep import (
    ModelFailed,
    ModelFailures,
    SweepContext,
    measure_points,
)
from analyzer_core.triton.server import LaunchMode, TritonServer, create_server
from analyzer_core.triton.variants import (
    VariantSettings,
    apply_settings,
    config_identity,
    read_model_config,
    write_variant,
)
from analyzer_core.validation import validate

logger = logging.getLogger(__name__)

EXIT_FAILED = 1
EXIT_STOPPED = 130


class Profiler:
    def __init__(
        self, settings: ProfileSettings, stop: StopRequests | None = None
    ) -> None:
        self.settings = settings
        self.stop = stop or StopRequests()
        self.recorder: RunRecorder | None = None
        self.server: TritonServer | None = None
        self.runner: PerfAnalyzerRunner | None = None
        self.gpu_sampler: GpuSampler | None = None
        self._model_planned = 0
        self.timings = {
            "load": 0.0,
            "perf": 0.0,
            "server_start": 0.0,
            "server_stop": 0.0,
        }

    # -- life cycle ------------------------------------------------------------------

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
        data, loaded = self._load_starting_checkpoint()
        loaded_index = loaded.index if loaded else None
        writer = CheckpointWriter(self.settings.checkpoint_directory, loaded_index)
        self.recorder = RunRecorder(data, writer, self.settings.status_file)
        self.recorder.set_state(JobState.STARTING)
        try:
            self._plan()
            self.recorder.set_state(JobState.RUNNING)
            self._profile_models()
        except StopNow:
            logger.info("Stopping now as requested")
        except AnalyzerError as error:
            self._shutdown(failing=True)
            self.recorder.set_state(JobState.FAILED, str(error))
            raise
        except BaseException:
            self._shutdown(failing=True)
            raise
        self._shutdown()
        return self._finish()

    def _finish(self) -> int:
        self._log_summary()
        if self.stop.graceful:
            message = "Stopped on request; measurements are saved."
            if self.recorder.writer.saves == 0:
                message = (
                    "Stopped on request before any new measurement; nothing saved."
                )
            self.recorder.set_state(JobState.STOPPED, message)
            return EXIT_STOPPED
        failure = self._describe_total_failure()
        if failure is not None:
            logger.error("%s", failure)
            self.recorder.set_state(JobState.FAILED, failure)
            return EXIT_FAILED
        self.recorder.set_state(JobState.FINISHED, "Profiling finished.")
        return 0

    def _describe_total_failure(self) -> str | None:
        """Describe a run in which runs failed and no profiled model has a
        successful measurement; return None otherwise."""
        if self.recorder.status.failed == 0:
            return None
        models = set(self.settings.profile_models)
        measurements = [m for m in self.recorder.data.measurements if m.model in models]
        if any(m.ok for m in measurements):
            return None
        logs = [m.error_log for m in measurements if m.error_log]
        if logs:
            where = f"the last perf_analyzer error log is {logs[-1]}"
        elif self.settings.triton.launch_mode is LaunchMode.LOCAL:
            where = f"see {self.settings.log_directory / 'tritonserver.log'}"
        else:
            where = "see the errors logged above and the remote server's log"
        return (
            f"No measurement of {', '.join(self.settings.profile_models)} succeeded "
            f"({self.recorder.status.failed} failed); {where}."
        )

    def _load_starting_checkpoint(
        self,
    ) -> tuple[CheckpointData, LoadedCheckpoint | None]:
        loaded = load_checkpoint(
            self.settings.checkpoint_directory, self.settings.checkpoint_index
        )
        machine = describe_machine(triton_version="unknown")
        if loaded is None:
            logger.info("No checkpoint file found, starting a fresh run.")
            return CheckpointData(machine=machine), None
        logger.info(
            "Loaded checkpoint %s with %d measurements",
            loaded.path,
            len(loaded.data.measurements),
        )
        if loaded.data.source != "analyzer_core":
            raise CheckpointError(
                f"Checkpoint {loaded.path} was written by Model Analyzer and is read-only "
                "here; profile into another --checkpoint-directory."
            )
        if loaded.data.machine.same_hardware(machine):
            return loaded.data, loaded
        if not self.settings.fresh_index:
            raise CheckpointError(
                f"Checkpoint {loaded.path} was measured on different hardware "
                f"({loaded.data.machine.describe()}) than this machine "
                f"({machine.describe()}); pass --fresh-index to start a new index "
                "without its measurements."
            )
        logger.warning(
            "Starting a fresh index: %s was measured on other hardware", loaded.path
        )
        return CheckpointData(machine=machine), loaded

    def _ensure_server(self) -> None:
        if self.server is not None:
            return
        settings = self.settings
        settings.output_repository.mkdir(parents=True, exist_ok=True)
        settings.log_directory.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        self.server = create_server(
            settings.triton,
            settings.output_repository.resolve(),
            settings.log_directory / "tritonserver.log",
        )
        self.server.stop_requested = lambda: self.stop.immediate
        self.server.start(timeout=settings.server_start_timeout)
        self.timings["server_start"] = time.monotonic() - started
        self.recorder.data.machine.triton_version = self.server.version()
        self.runner = PerfAnalyzerRunner(
            settings.perf,
            self.server.endpoints.grpc_url,
            self.server.endpoints.metrics_url,
            settings.log_directory / "perf_analyzer",
        )
        self.runner.log_directory.mkdir(parents=True, exist_ok=True)
        # NVML reads this machine's GPUs only, so a remote server's GPU metrics
        # come from Triton's endpoint alone.
        if settings.triton.launch_mode is LaunchMode.LOCAL:
            self.gpu_sampler = GpuSampler()
            if not self.gpu_sampler.open():
                self.gpu_sampler = None
            self._measure_idle_server()

    def _measure_idle_server(self) -> None:
        """Record the local server's own usage before any model loads.

        Only a checkpoint without this reading gets one, so a rerun that
        measures nothing new leaves the data unchanged.
        """
        data = self.recorder.data
        if data.server_only:
            return
        data.server_only = idle_server_usage(
            self.server.endpoints.metrics_url, self.server.pid, self.gpu_sampler
        )
        self.recorder.changed = True
        logger.info(
            "Server alone: %s",
            ", ".join(f"{tag} {value:.1f}" for tag, value in data.server_only.items())
            or "no reading",
        )

    def _shutdown(self, failing: bool = False) -> None:
        try:
            self._save(final=True)
        except CheckpointError as error:
            if not failing:
                raise
            # The run already fails with its own error; report this one too.
            logger.error("%s", error)
        finally:
            if self.gpu_sampler is not None:
                self.gpu_sampler.close()
                self.gpu_sampler = None
            if self.server is not None:
                started = time.monotonic()
                self.server.stop()
                self.timings["server_stop"] = time.monotonic() - started
                self.server = None

    def _save(self, final: bool = False) -> None:
        written = self.recorder.save()
        if final and written is None and self.recorder.writer.saves == 0:
            logger.info("No new measurements; no checkpoint written")

    # -- planning -------------------------------------------------------------------------

    def _plan(self) -> None:
        """Count the load points of every variant each search plans up front.

        Searches that decide as they go (quick search) add to the count later,
        and early exits count what they leave out as skipped, so at the end
        done + skipped + failed equals planned unless the run was stopped.
        """
        planned = 0
        for model in self.settings.profile_models:
            default_config = read_model_config(self.settings.model_repository / model)
            search = self._search(model, default_config)
            planned += self._count_points(
                model, default_config, search.planned_settings()
            )
        self.recorder.status.planned = planned

    def _search(self, model: str, default_config: dict) -> VariantSearch:
        order = None
        order_description = "throughput"
        if self.settings.search_mode is SearchMode.QUICK:
            order = ranking_order(self.recorder.data, model, self.settings.ranking)
            order_description = describe_ranking(self.settings.ranking, model)
        return create_search(
            model,
            default_config,
            self.settings.search_mode,
            self.settings.limits,
            self.settings.options_for(model).model_config_parameters,
            order=order,
            order_description=order_description,
        )

    def _count_points(
        self, model: str, default_config: dict, settings: list[VariantSettings]
    ) -> int:
        return sum(
            len(self._load_points(model, default_config, one, "")) for one in settings
        )

    def _load_points(
        self, model: str, default_config: dict, settings: VariantSettings, name: str
    ) -> list[LoadPoint]:
        """Return the load points of a variant. With a non-empty ``name``, log
        each client batch size left out."""
        max_batch_size = _max_batch_size(default_config, settings)
        plan = self.settings.load_plan(model)
        return plan.points(name, max_batch_size, log_skips=bool(name))

    # -- models and variants ------------------------------------------------------------------

    def _profile_models(self) -> None:
        for model in self.settings.profile_models:
            if self.stop.graceful:
                return
            counted_before = self._counted()
            try:
                self._profile_model(model)
            except ModelFailed as error:
                logger.error("%s", error)
                rest = self._model_planned - (self._counted() - counted_before)
                if rest > 0:
                    self.recorder.progress(skipped=rest)
            self._save()

    def _counted(self) -> int:
        status = self.recorder.status
        return status.done + status.skipped + status.failed

    def _profile_model(self, model: str) -> None:
        model_directory = self.settings.model_repository / model
        default_config = read_model_config(model_directory)
        search = self._search(model, default_config)
        planned = search.planned_settings()
        self._model_planned = self._count_points(model, default_config, planned)
        failures = ModelFailures()
        self.recorder.status.model = model
        for variant_settings in search:
            if variant_settings not in planned:
                planned.append(variant_settings)
                self._plan_more(model, default_config, variant_settings)
            name, best = self._profile_variant(
                model_directory, default_config, variant_settings, failures
            )
            search.report(best, name)
            if self.stop.graceful:
                return
        pruned = self._count_points(model, default_config, search.pruned)
        if pruned:
            self.recorder.progress(skipped=pruned)

    def _plan_more(
        self, model: str, default_config: dict, settings: VariantSettings
    ) -> None:
        added = self._count_points(model, default_config, [settings])
        self._model_planned += added
        self.recorder.status.planned += added
        self.recorder.write_status()

    def _profile_variant(
        self,
        model_directory: Path,
        default_config: dict,
        variant_settings: VariantSettings,
        failures: ModelFailures,
    ) -> tuple[str, float]:
        """Measure one variant; return its name and best throughput."""
        model = model_directory.name
        config = apply_settings(
            default_config, variant_settings, self._instance_kind(default_config)
        )
        variant = self._variant_record(model, config, variant_settings.is_default)
        points = self._load_points(
            model, default_config, variant_settings, variant.name
        )
        if not points:
            logger.info("Skipping %s: it has no load point to measure", variant.name)
            return variant.name, 0.0
        if all(self.recorder.find((model, *_point_key(point))) for point in points):
            logger.info(
                "Skipping %s: all %d load points already measured",
                variant.name,
                len(points),
            )
            self.recorder.progress(skipped=len(points))
            return variant.name, self.recorder.best_throughput(variant.name)

        self._ensure_server()
        self.recorder.data.variants[variant.name] = variant
        self.recorder.status.variant = variant.name
        logger.info("Profiling %s (%s)", variant.name, variant.describe())
        write_variant(
            self.settings.output_repository, model_directory, variant.name, config
        )
        try:
            self.timings["load"] += self.server.load_model(variant.name)
        except ServerError as error:
            logger.error("%s; skipping variant %s", error, variant.name)
            self.recorder.progress(failed=len(points))
            return variant.name, 0.0
        try:
            measure_points(points, self._sweep_context(model, failures))
        finally:
            if not self.stop.immediate:
                self.server.unload_model(variant.name)
            self._save()
        return variant.name, self.recorder.best_throughput(variant.name)

    def _sweep_context(self, model: str, failures: ModelFailures) -> SweepContext:
        return SweepContext(
            model=model,
            runner=self.runner,
            metrics_url=self.server.endpoints.metrics_url,
            server_pid=lambda: self.server.pid if self.server else None,
            recorder=self.recorder,
            stop=self.stop,
            early_exit=self.settings.limits.concurrency_early_exit,
            failures=failures,
            gpu_sampler=self.gpu_sampler,
        )

    def _instance_kind(self, default_config: dict) -> str:
        groups = default_config.get("instance_group") or []
        if groups and "kind" in groups[0]:
            return str(groups[0]["kind"])
        return "KIND_GPU" if self.recorder.data.machine.gpus else "KIND_CPU"

    def _variant_record(self, model: str, config: dict, is_default: bool) -> Variant:
        """Reuse the name of an identical config already in the checkpoint, or take the next one."""
        if is_default:
            return Variant(variant_name(model, None), model, config, is_default=True)
        identity = config_identity(config)
        taken = []
        for variant in self.recorder.data.variants_of(model):
            if variant.is_default:
                continue
            if config_identity(variant.config) == identity:
                return variant
            suffix = variant.name.rpartition("_config_")[2]
            if suffix.isdigit():
                taken.append(int(suffix))
        return Variant(variant_name(model, max(taken, default=-1) + 1), model, config)

    def _log_summary(self) -> None:
        measurements = self.recorder.data.measurements
        models = sorted({m.model for m in measurements if m.ok})
        logger.info("Models with measurements: %s", ", ".join(models) or "none")
        logger.info(
            "Time spent: %.1f s in perf_analyzer, %.1f s loading variants, "
            "%.1f s starting and %.1f s stopping Triton",
            self.runner.total_seconds if self.runner else 0.0,
            self.timings["load"],
            self.timings["server_start"],
            self.timings["server_stop"],
        )


def _max_batch_size(default_config: dict, settings: VariantSettings) -> int:
    for key, value in settings.extra:
        if key == "max_batch_size":
            return int(value)
    if settings.max_batch_size is not None:
        return settings.max_batch_size
    return int(default_config.get("max_batch_size", 0))


def _point_key(point: LoadPoint) -> tuple:
    return (point.variant, point.batch_size, point.concurrency, point.request_rate)
