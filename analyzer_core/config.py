"""Settings of a profile run, built from command-line and config file values.

``analyzer_core.validation.validate`` checks them before anything starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analyzer_core.config_file import profile_model_names
from analyzer_core.errors import ConfigError
from analyzer_core.perf.runner import PerfSettings
from analyzer_core.results.settings import RankingSettings
from analyzer_core.search.base import SearchLimits, SearchMode
from analyzer_core.search.load import LoadPlan, doubling_sweep
from analyzer_core.triton.server import LaunchMode, TritonSettings

DEFAULT_MIN_REQUEST_RATE = 16
DEFAULT_MAX_REQUEST_RATE = 8192


@dataclass
class ModelOptions:
    """Settings of one model from ``profile_models.<model>`` in the config file."""

    model_config_parameters: dict[str, Any] = field(default_factory=dict)
    batch_sizes: list[int] | None = None
    concurrency: list[int] | None = None
    request_rates: list[float] | None = None


@dataclass
class ProfileSettings:
    model_repository: Path
    profile_models: list[str]
    checkpoint_directory: Path = Path("checkpoints")
    export_path: Path = Path(".")
    output_model_repository: Path | None = None
    batch_sizes: list[int] = field(default_factory=lambda: [1])
    concurrency: list[int] | None = None
    min_concurrency: int = 1
    max_concurrency: int = 1024
    limits: SearchLimits = field(default_factory=SearchLimits)
    perf: PerfSettings = field(default_factory=PerfSettings)
    checkpoint_index: int | None = None
    fresh_index: bool = False
    status_file: Path | None = None
    server_start_timeout: float = 120.0
    search_mode: SearchMode = SearchMode.BRUTE
    request_rates: list[float] | None = None
    request_rate_search: bool = False
    min_request_rate: int = DEFAULT_MIN_REQUEST_RATE
    max_request_rate: int = DEFAULT_MAX_REQUEST_RATE
    model_options: dict[str, ModelOptions] = field(default_factory=dict)
    triton: TritonSettings = field(default_factory=TritonSettings)
    ranking: RankingSettings = field(default_factory=RankingSettings)
    """Objectives and constraints from the config file. Quick search climbs by
    them, so it ranks variants as the report will."""

    @property
    def output_repository(self) -> Path:
        return (
            self.output_model_repository or self.export_path / "output_model_repository"
        )

    @property
    def log_directory(self) -> Path:
        return self.export_path / "logs"

    def options_for(self, model: str) -> ModelOptions:
        return self.model_options.get(model) or ModelOptions()

    def load_plan(self, model: str) -> LoadPlan:
        """Return the load levels of ``model``. Its own lists come first, then the
        global lists, then a request-rate sweep if requested, else a concurrency
        sweep."""
        options = self.options_for(model)
        batch_sizes = options.batch_sizes or self.batch_sizes
        if options.concurrency:
            return LoadPlan(batch_sizes, concurrencies=options.concurrency)
        if options.request_rates:
            return LoadPlan(batch_sizes, request_rates=options.request_rates)
        if self.concurrency:
            return LoadPlan(batch_sizes, concurrencies=self.concurrency)
        if self.request_rates:
            return LoadPlan(batch_sizes, request_rates=self.request_rates)
        if self.request_rate_search:
            rates = doubling_sweep(self.min_request_rate, self.max_request_rate)
            return LoadPlan(batch_sizes, request_rates=rates)
        concurrencies = doubling_sweep(self.min_concurrency, self.max_concurrency)
        return LoadPlan(batch_sizes, concurrencies=concurrencies)


def settings_from_values(values: dict[str, Any]) -> ProfileSettings:
    """Build settings from converted option values (see ``config_file``), keyed by
    their YAML names; options left out take their defaults."""
    for key, flag in (
        ("model_repository", "--model-repository"),
        ("profile_models", "--profile-models"),
    ):
        if key not in values:
            raise ConfigError(
                f"{flag} is missing; pass it or set {key} in the --config-file."
            )
    return ProfileSettings(
        model_repository=values["model_repository"],
        profile_models=profile_model_names(values["profile_models"], "profile_models"),
        checkpoint_directory=values.get("checkpoint_directory", Path("checkpoints")),
        export_path=values.get("export_path", Path(".")),
        output_model_repository=values.get("output_model_repository_path"),
        batch_sizes=values.get("batch_sizes", [1]),
        concurrency=values.get("concurrency"),
        min_concurrency=values.get("run_config_search_min_concurrency", 1),
        max_concurrency=values.get("run_config_search_max_concurrency", 1024),
        limits=_limits(values),
        perf=_perf(values),
        checkpoint_index=values.get("checkpoint_index"),
        fresh_index=values.get("fresh_index", False),
        status_file=values.get("status_file"),
        search_mode=SearchMode(values.get("run_config_search_mode", "brute")),
        request_rates=values.get("request_rate"),
        request_rate_search=_request_rate_requested(values),
        min_request_rate=values.get(
            "run_config_search_min_request_rate", DEFAULT_MIN_REQUEST_RATE
        ),
        max_request_rate=values.get(
            "run_config_search_max_request_rate", DEFAULT_MAX_REQUEST_RATE
        ),
        model_options=_model_options(values.get("model_options", {})),
        triton=_triton(values),
        ranking=values.get("ranking") or RankingSettings(),
    )


def _limits(values: dict[str, Any]) -> SearchLimits:
    no_early_exit = values.get("no_early_exit", False)
    return SearchLimits(
        min_instance_count=values.get("run_config_search_min_instance_count", 1),
        max_instance_count=values.get("run_config_search_max_instance_count", 5),
        min_model_batch_size=values.get("run_config_search_min_model_batch_size", 1),
        max_model_batch_size=values.get("run_config_search_max_model_batch_size", 128),
        concurrency_early_exit=not (
            no_early_exit or values.get("no_concurrency_early_exit", False)
        ),
        max_batch_size_early_exit=not (
            no_early_exit or values.get("no_max_batch_size_early_exit", False)
        ),
        default_only=values.get("run_config_search_disable", False),
    )


def _perf(values: dict[str, Any]) -> PerfSettings:
    return PerfSettings(
        measurement_interval_ms=values.get("measurement_interval"),
        measurement_request_count=values.get("measurement_request_count", 50),
        max_retries=values.get("perf_analyzer_max_retries", 3),
        timeout_seconds=values.get("perf_analyzer_timeout", 600.0),
        extra_flags=values.get("perf_analyzer_flags", []),
        executable=values.get("perf_analyzer_path"),
    )


def _request_rate_requested(values: dict[str, Any]) -> bool:
    if values.get("concurrency") and _request_rate_keys(values):
        raise ConfigError(
            "--concurrency cannot be combined with "
            f"{', '.join(_request_rate_keys(values))}; measure either concurrency "
            "or request rate."
        )
    return bool(_request_rate_keys(values))


def _request_rate_keys(values: dict[str, Any]) -> list[str]:
    keys = (
        "request_rate",
        "request_rate_search_enable",
        "run_config_search_min_request_rate",
        "run_config_search_max_request_rate",
    )
    return [f"--{key.replace('_', '-')}" for key in keys if values.get(key)]


def _model_options(sections: dict[str, dict[str, Any]]) -> dict[str, ModelOptions]:
    return {
        model: ModelOptions(
            model_config_parameters=section.get("model_config_parameters") or {},
            batch_sizes=section.get("batch_sizes"),
            concurrency=section.get("concurrency"),
            request_rates=section.get("request_rate"),
        )
        for model, section in sections.items()
    }


def _triton(values: dict[str, Any]) -> TritonSettings:
    mode = LaunchMode(values.get("triton_launch_mode", "local"))
    remote_keys = ("triton_grpc_endpoint", "triton_metrics_url")
    local_keys = ("triton_http_port", "triton_grpc_port", "triton_metrics_port")
    wrong = local_keys if mode is LaunchMode.REMOTE else remote_keys
    misplaced = [f"--{key.replace('_', '-')}" for key in wrong if key in values]
    if misplaced:
        raise ConfigError(
            f"{', '.join(misplaced)} cannot be used with --triton-launch-mode "
            f"{mode.value}; remove it or change the launch mode."
        )
    settings = TritonSettings(launch_mode=mode)
    for key in (*remote_keys, *local_keys):
        if key in values:
            setattr(settings, key.removeprefix("triton_"), values[key])
    return settings


def list_repository_models(model_repository: Path) -> list[str]:
    """Models in a repository: its subdirectories that hold a config.pbtxt."""
    return sorted(
        entry.name
        for entry in model_repository.iterdir()
        if entry.is_dir() and (entry / "config.pbtxt").is_file()
    )
