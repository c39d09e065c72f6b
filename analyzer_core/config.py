"""Settings of a profile run, validated before anything starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from analyzer_core.errors import ConfigError
from analyzer_core.perf.runner import PerfSettings
from analyzer_core.search.brute import SearchLimits


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

    @property
    def output_repository(self) -> Path:
        return (
            self.output_model_repository or self.export_path / "output_model_repository"
        )

    @property
    def log_directory(self) -> Path:
        return self.export_path / "logs"


def list_repository_models(model_repository: Path) -> list[str]:
    """Models in a repository: its subdirectories that hold a config.pbtxt."""
    return sorted(
        entry.name
        for entry in model_repository.iterdir()
        if entry.is_dir() and (entry / "config.pbtxt").is_file()
    )


def validate(settings: ProfileSettings) -> None:
    """Reject bad settings with the field and the fix; raises ConfigError."""
    repository = settings.model_repository
    if not repository.is_dir():
        raise ConfigError(
            f"--model-repository {repository} is not a directory; pass the folder that "
            "holds one sub-folder per model."
        )
    available = list_repository_models(repository)
    if not settings.profile_models:
        raise ConfigError(
            f"--profile-models is empty; name one or more of: {', '.join(available) or 'none'}."
        )
    unknown = [name for name in settings.profile_models if name not in available]
    if unknown:
        raise ConfigError(
            f"Model(s) {', '.join(unknown)} not found in {repository}; models there: "
            f"{', '.join(available) or 'none (no sub-folder has a config.pbtxt)'}."
        )
    _check_positive("--batch-sizes", settings.batch_sizes)
    if settings.concurrency is not None:
        _check_positive("--concurrency", settings.concurrency)
    limits = settings.limits
    _check_range("concurrency", settings.min_concurrency, settings.max_concurrency)
    _check_range("instance count", limits.min_instance_count, limits.max_instance_count)
    _check_range(
        "model batch size", limits.min_model_batch_size, limits.max_model_batch_size
    )
    perf = settings.perf
    if perf.measurement_interval_ms is not None and perf.measurement_interval_ms <= 0:
        raise ConfigError(
            f"--measurement-interval {perf.measurement_interval_ms} must be a positive number of ms."
        )
    if perf.measurement_request_count <= 0:
        raise ConfigError(
            f"--measurement-request-count {perf.measurement_request_count} must be positive."
        )


def _check_positive(flag: str, values: list[int]) -> None:
    if not values:
        raise ConfigError(
            f"{flag} is an empty list; give at least one positive integer."
        )
    bad = [value for value in values if value <= 0]
    if bad:
        raise ConfigError(
            f"{flag} has non-positive value(s) {bad}; use integers of 1 or more."
        )


def _check_range(what: str, minimum: int, maximum: int) -> None:
    flag = what.replace(" ", "-")
    if minimum < 1:
        raise ConfigError(
            f"--run-config-search-min-{flag} {minimum} must be 1 or more."
        )
    if maximum < minimum:
        raise ConfigError(
            f"--run-config-search-max-{flag} {maximum} is below the minimum {minimum}; "
            "raise the maximum or lower the minimum."
        )
