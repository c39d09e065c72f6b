"""Checks of profile settings that run before anything starts.

Each check raises ConfigError naming the flag or config file key, the bad
value and the fix. The last check runs perf_analyzer once to read its usage.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from urllib.parse import urlparse

from analyzer_core.config import ProfileSettings, list_repository_models
from analyzer_core.errors import ConfigError, ServerError
from analyzer_core.perf.runner import LoadPoint, PerfAnalyzerRunner, PerfSettings
from analyzer_core.perf.usage import check_flags, flag_names
from analyzer_core.search.base import SearchLimits, SearchMode, powers_of_two
from analyzer_core.search.load import LoadPlan
from analyzer_core.search.manual import expand_parameters
from analyzer_core.triton.server import LaunchMode, TritonSettings, check_port_free
from analyzer_core.triton.variants import (
    VariantSettings,
    apply_settings,
    read_model_config,
)

# The largest concurrency, request rate or batch size passed to perf_analyzer: a
# signed 32-bit integer, well inside what its option parser accepts.
MAX_LOAD_VALUE = 2**31 - 1


def validate(settings: ProfileSettings) -> None:
    """Reject bad settings with the field and the fix; raises ConfigError."""
    _check_models(settings)
    check_output_directory(settings.checkpoint_directory, "--checkpoint-directory")
    check_output_directory(settings.export_path, "--export-path")
    check_output_directory(settings.output_repository, "--output-model-repository-path")
    _check_load(settings)
    _check_limits(settings.limits)
    _check_perf(settings.perf)
    _check_model_options(settings)
    _check_triton(settings.triton)
    _check_perf_analyzer(settings)


def check_output_directory(path: Path, flag: str) -> None:
    """Reject ``path`` if it is a file or lies under one.

    Write access is left to the first write (the checkpoint lock, a report),
    whose error names the file and the system's reason, such as a read-only
    file system.
    """
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if existing == path and not path.is_dir():
        raise ConfigError(f"{flag} {path} is a file; pass a directory path.")
    if not existing.is_dir():
        raise ConfigError(
            f"{flag} {path} cannot be created because {existing} is a file; pass "
            "another path."
        )


def _check_models(settings: ProfileSettings) -> None:
    repository = settings.model_repository
    if not repository.is_dir():
        raise ConfigError(
            f"--model-repository {repository} is not a directory; pass the folder "
            "that contains one sub-folder per model."
        )
    available = list_repository_models(repository)
    listing = ", ".join(available) or "none (no sub-folder has a config.pbtxt)"
    if not settings.profile_models:
        raise ConfigError(f"--profile-models is empty; name one or more of: {listing}.")
    unknown = [name for name in settings.profile_models if name not in available]
    if unknown:
        raise ConfigError(
            f"Model(s) {', '.join(unknown)} not found in {repository}; models "
            f"there: {listing}."
        )


def _check_load(settings: ProfileSettings) -> None:
    _check_positive("--batch-sizes", settings.batch_sizes)
    if settings.concurrency is not None:
        _check_positive("--concurrency", settings.concurrency)
    if settings.request_rates is not None:
        _check_positive("--request-rate", settings.request_rates)
    _check_range("concurrency", settings.min_concurrency, settings.max_concurrency)
    if settings.request_rate_search:
        _check_range(
            "request rate", settings.min_request_rate, settings.max_request_rate
        )


def _check_limits(limits: SearchLimits) -> None:
    _check_range("instance count", limits.min_instance_count, limits.max_instance_count)
    minimum, maximum = limits.min_model_batch_size, limits.max_model_batch_size
    _check_range("model batch size", minimum, maximum)
    if not powers_of_two(minimum, maximum):
        raise ConfigError(
            f"No power of two lies between --run-config-search-min-model-batch-size "
            f"{minimum} and --run-config-search-max-model-batch-size {maximum}; "
            "widen the range, because the search tries powers of two only."
        )


def _check_perf(perf: PerfSettings) -> None:
    interval = perf.measurement_interval_ms
    if interval is not None and interval <= 0:
        raise ConfigError(
            f"--measurement-interval {interval} must be a positive number of ms."
        )
    if perf.measurement_request_count <= 0:
        raise ConfigError(
            f"--measurement-request-count {perf.measurement_request_count} must be "
            "positive."
        )
    if perf.timeout_seconds <= 0:
        raise ConfigError(
            f"--perf-analyzer-timeout {perf.timeout_seconds:g} must be a positive "
            "number of seconds."
        )
    if perf.max_retries < 0:
        raise ConfigError(
            f"--perf-analyzer-max-retries {perf.max_retries} must be 0 or more."
        )


def _check_model_options(settings: ProfileSettings) -> None:
    """Check per-model lists, and expand and apply every manual parameter set
    to the model's config so a bad field or value fails here."""
    for model in settings.profile_models:
        options = settings.options_for(model)
        where = f"profile_models.{model}.parameters"
        for name, values in (
            ("batch_sizes", options.batch_sizes),
            ("concurrency", options.concurrency),
            ("request_rate", options.request_rates),
        ):
            if values is not None:
                _check_positive(f"{where}.{name}", values)
        parameters = options.model_config_parameters
        if not parameters:
            continue
        if settings.search_mode is SearchMode.QUICK:
            raise ConfigError(
                f"profile_models.{model}.model_config_parameters cannot be used with "
                "--run-config-search-mode quick; use manual or brute mode, or remove "
                "them."
            )
        default_config = read_model_config(settings.model_repository / model)
        where = f"profile_models.{model}.model_config_parameters"
        for combination in expand_parameters(parameters, where):
            apply_settings(default_config, VariantSettings(extra=combination), "")


def _check_triton(triton: TritonSettings) -> None:
    if triton.launch_mode is LaunchMode.REMOTE:
        _check_endpoint(triton.grpc_endpoint)
        url = urlparse(triton.metrics_url)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise ConfigError(
                f"--triton-metrics-url {triton.metrics_url!r} is not an http(s) URL; "
                "write it like http://HOST:8002/metrics."
            )
        return
    ports = (
        ("--triton-http-port", triton.http_port),
        ("--triton-grpc-port", triton.grpc_port),
        ("--triton-metrics-port", triton.metrics_port),
    )
    _check_distinct_ports(ports)
    for flag, port in ports:
        if port is None:
            continue
        if not 1 <= port <= 65535:
            raise ConfigError(f"{flag} {port} is not a TCP port (1-65535).")
        try:
            check_port_free(port, flag.removeprefix("--triton-").removesuffix("-port"))
        except ServerError as error:
            raise ConfigError(f"{flag}: {error}") from None


def _check_distinct_ports(ports: tuple[tuple[str, int | None], ...]) -> None:
    """Reject two endpoints on one port, because tritonserver fails to bind the
    second one and exits with its usage text."""
    flags_by_port: dict[int, list[str]] = {}
    for flag, port in ports:
        if port is not None:
            flags_by_port.setdefault(port, []).append(flag)
    for port, flags in flags_by_port.items():
        if len(flags) == 2:
            raise ConfigError(
                f"{flags[0]} and {flags[1]} are both {port}; give each endpoint its "
                "own port, or leave one unset to use a free port."
            )
        if len(flags) == 3:
            raise ConfigError(
                f"{flags[0]}, {flags[1]} and {flags[2]} are all {port}; give each "
                "endpoint its own port, or leave them unset to use free ports."
            )


def check_checkpoint_directory(path: Path, flag: str) -> None:
    """Reject a checkpoint directory to read from that is a file or lies under one.

    A missing directory passes, because the caller then reports that it
    contains no checkpoint.
    """
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    fix = "pass the checkpoint directory that contains the N.ckpt files."
    if existing == path and not path.is_dir():
        kind = "a file" if path.is_file() else "not a directory"
        raise ConfigError(f"{flag} {path} is {kind}; {fix}")
    if not existing.is_dir():
        raise ConfigError(f"{flag} {path} lies under the file {existing}; {fix}")


def _check_endpoint(endpoint: str) -> None:
    host, separator, port = str(endpoint).rpartition(":")
    if not separator or not host or not port.isdigit():
        raise ConfigError(
            f"--triton-grpc-endpoint {endpoint!r} is not HOST:PORT; write it like "
            "localhost:8001."
        )


def _check_perf_analyzer(settings: ProfileSettings) -> None:
    """Run perf_analyzer once to check it accepts every flag a run will pass,
    and reject extra flags that would override the profiler's own."""
    own_settings = dataclasses.replace(settings.perf, extra_flags=[])
    runner = PerfAnalyzerRunner(own_settings, "localhost:1", "", Path("."))
    points = [_sample_point(settings.load_plan(m)) for m in settings.profile_models]
    needed = flag_names([a for p in points for a in _arguments(runner, p)])
    extra = flag_names(settings.perf.extra_flags)
    clashes = [flag for flag in extra if flag in _all_own_flags(own_settings)]
    if clashes:
        raise ConfigError(
            f"--perf-analyzer-flags sets {', '.join(clashes)}, which the profiler "
            "sets itself; use --measurement-interval, --measurement-request-count, "
            "--concurrency, --request-rate or --batch-sizes instead."
        )
    check_flags(runner.executable, runner.environment, needed + extra)


def _sample_point(plan: LoadPlan) -> LoadPoint:
    if plan.uses_request_rate:
        return LoadPoint("m", 1, request_rate=1)
    return LoadPoint("m", 1, concurrency=1)


def _arguments(runner: PerfAnalyzerRunner, point: LoadPoint) -> list[str]:
    return runner.command(point, Path("m.csv"), 1)[1:]


def _all_own_flags(perf: PerfSettings) -> list[str]:
    """List the profiler's own flags in both load modes and measurement modes."""
    flags: list[str] = []
    for interval in (None, 1000):
        settings = dataclasses.replace(perf, measurement_interval_ms=interval)
        runner = PerfAnalyzerRunner(settings, "localhost:1", "", Path("."))
        for point in (_sample_point(LoadPlan([1])), LoadPoint("m", 1, request_rate=1)):
            flags += flag_names(_arguments(runner, point))
    return flags


def _check_positive(flag: str, values: list[float]) -> None:
    if not values:
        raise ConfigError(f"{flag} is an empty list; give at least one value.")
    # A NaN compares false with everything, so it is caught by the finite check.
    bad = [
        value
        for value in values
        if not math.isfinite(value) or value <= 0 or value > MAX_LOAD_VALUE
    ]
    if bad:
        raise ConfigError(
            f"{flag} has invalid value(s) {', '.join(str(value) for value in bad)}; "
            f"use finite numbers above 0 and at most {MAX_LOAD_VALUE}."
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
    if maximum > MAX_LOAD_VALUE:
        raise ConfigError(
            f"--run-config-search-max-{flag} {maximum} is above {MAX_LOAD_VALUE}; "
            "lower it."
        )
