"""Triton Inference Server: a local process from the bundled binary, or a remote one.

Both are controlled through tritonclient's gRPC client with explicit model
control: variants are loaded and unloaded without restarting the server.
"""

from __future__ import annotations

import json
import logging
import socket
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

import tritonclient.grpc as grpcclient
from tritonclient.utils import InferenceServerException

from analyzer_core.errors import ConfigError, ServerError
from analyzer_core.processes import read_tail, start_process, stop_process_group
from analyzer_core.stop import StopNow
from analyzer_core.triton import paths
from analyzer_core.triton.variants import read_model_config

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.05
# Deadline of the short status calls made while polling, so a stalled Triton cannot
# hold up a stop-now request for longer than this.
_STATUS_CALL_SECONDS = 2.0
# Bound on the wait for unloads before SIGTERM. The Python backend ends a model's
# instances one after another, in 1.1-1.3 s each (measured with Triton 2.51 and
# the add_sub example on 2 CPUs).
_UNLOAD_WAIT_SECONDS = 30.0
# Triton's own limit after SIGTERM, passed as --exit-timeout-secs.
_EXIT_TIMEOUT_SECONDS = 5
# SIGTERM grace on a stop-now request. Triton exits within 0.2 s when no model
# is loaded, but took 2-3 s when it had to unload or finish loading add_sub first.
_STOP_NOW_GRACE_SECONDS = 1.0
# Prefix of the shared memory files the Python backend creates in /dev/shm.
_PYTHON_BACKEND_SHM_PREFIX = "triton_python_backend_shm_region_"
# Model states in Triton's repository index in which a model has instances or
# is about to get them.
_BUSY_STATES = frozenset({"LOADING", "READY", "UNLOADING"})

# Unloading a model that does not exist succeeds only under explicit model control.
_PROBE_MODEL = "analyzer_core_model_control_probe"


class LaunchMode(Enum):
    """Launch mode of Triton (``--triton-launch-mode``): started here or remote."""

    LOCAL = "local"
    REMOTE = "remote"


@dataclass
class TritonSettings:
    """Launch mode, remote endpoints and local ports of Triton.

    The remote endpoint defaults are Model Analyzer's.
    """

    launch_mode: LaunchMode = LaunchMode.LOCAL
    grpc_endpoint: str = "localhost:8001"
    metrics_url: str = "http://localhost:8002/metrics"
    http_port: int | None = None
    grpc_port: int | None = None
    metrics_port: int | None = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _free_port_except(excluded: list[int]) -> int:
    """Return a free port not in ``excluded``."""
    while True:
        port = free_port()
        if port not in excluded:
            return port


def check_port_free(port: int, what: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ServerError(
                f"Port {port} for the {what} endpoint is already in use on 127.0.0.1; "
                "pick another port or leave it unset to use a free one."
            ) from None


@dataclass
class Endpoints:
    grpc_url: str
    http_url: str
    metrics_url: str


class TritonServer:
    """Model control and status calls shared by local and remote servers.

    ``stop_requested`` returns True once a stop-now request came in. Every wait
    here polls it from the calling thread and raises ``StopNow`` when it does.
    The owner may set it after construction.
    """

    def __init__(
        self, endpoints: Endpoints, stop_requested: Callable[[], bool] | None = None
    ) -> None:
        self.endpoints = endpoints
        self.stop_requested = stop_requested or (lambda: False)
        self._client: grpcclient.InferenceServerClient | None = None

    @property
    def pid(self) -> int | None:
        """The server's process id, or None when it is not a local child."""
        return None

    def start(self, timeout: float = 60.0) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        self.close()

    @property
    def client(self) -> grpcclient.InferenceServerClient:
        if self._client is None:
            self._client = grpcclient.InferenceServerClient(self.endpoints.grpc_url)
        return self._client

    def is_ready(self) -> bool:
        try:
            return bool(
                self.client.is_server_ready(client_timeout=_STATUS_CALL_SECONDS)
            )
        except InferenceServerException:
            return False

    def version(self) -> str:
        return str(self.client.get_server_metadata().version)

    def load_model(self, name: str, config: dict | None = None) -> float:
        """Load ``name`` (with an optional config override), returning seconds taken.

        Raises ``StopNow`` without waiting for the load to end when a stop-now
        request comes in during it.
        """
        started = time.monotonic()
        override = json.dumps(config) if config is not None else None
        client = self.client
        try:
            self._call_until_stop(
                lambda: client.load_model(name, config=override),
                f"load of model {name}",
            )
        except InferenceServerException as error:
            raise ServerError(
                f"Triton failed to load model {name!r}: {error.message()}"
            ) from error
        if not self.client.is_model_ready(name, client_timeout=_STATUS_CALL_SECONDS):
            raise ServerError(
                f"Model {name!r} loaded but is not ready; see the Triton log."
            )
        return time.monotonic() - started

    def _call_until_stop(self, call: Callable[[], object], description: str) -> None:
        """Run a blocking gRPC call in a worker thread while polling for stop-now.

        A gRPC call blocks the main thread in C code, where Python runs no signal
        handler and checks no stop request, and a model load takes seconds. On
        stop-now the call is abandoned: it ends with an error once ``close()``
        closes the channel or Triton exits.
        """
        finished = threading.Event()
        errors: list[BaseException] = []

        def run() -> None:
            try:
                call()
            except BaseException as error:
                errors.append(error)
            finally:
                finished.set()

        worker = threading.Thread(target=run, name=f"triton {description}", daemon=True)
        worker.start()
        while not finished.wait(_POLL_SECONDS):
            if self.stop_requested():
                logger.info("Abandoning the %s: stop-now request", description)
                raise StopNow()
        if errors:
            raise errors[0]

    def unload_model(self, name: str, timeout: float = 60.0) -> None:
        """Request the unload of ``name`` and wait until Triton starts it.

        Triton unloads in the background, and a Python-backend model takes
        1.1-1.3 s per instance, while the next variant loads. ``stop()`` waits
        for the unload of the last one.
        """
        client = self.client
        try:
            self._call_until_stop(
                lambda: client.unload_model(name), f"unload of model {name}"
            )
        except InferenceServerException as error:
            logger.warning("Unloading model %s failed: %s", name, error.message())
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self._model_states().get(name) != "READY":
                    return
            except InferenceServerException as error:
                logger.warning(
                    "Reading the state of model %s after its unload request failed: %s",
                    name,
                    error.message(),
                )
                return
            self._sleep_unless_stop()
        logger.warning(
            "Model %s still loaded %.0f s after the unload request", name, timeout
        )

    def _model_states(self) -> dict[str, str | None]:
        """Return the state of each model in Triton's repository index."""
        index = self.client.get_model_repository_index(
            as_json=True, client_timeout=_STATUS_CALL_SECONDS
        )
        return {
            model.get("name"): model.get("state") for model in index.get("models", [])
        }

    def _sleep_unless_stop(self) -> None:
        if self.stop_requested():
            raise StopNow()
        time.sleep(_POLL_SECONDS)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


class LocalTritonServer(TritonServer):
    """tritonserver from the nvidia-pytriton wheel, bound to 127.0.0.1 only."""

    def __init__(
        self,
        model_repository: Path,
        log_path: Path,
        http_port: int | None = None,
        grpc_port: int | None = None,
        metrics_port: int | None = None,
        stop_requested: Callable[[], bool] | None = None,
    ) -> None:
        # A port of None or 0 means "any free port".
        requested = {"HTTP": http_port, "gRPC": grpc_port, "metrics": metrics_port}
        fixed = {endpoint: port for endpoint, port in requested.items() if port}
        if len(set(fixed.values())) < len(fixed):
            listing = ", ".join(
                f"{endpoint} {port}" for endpoint, port in fixed.items()
            )
            raise ServerError(
                f"Triton endpoints share a port ({listing}); give each endpoint "
                "its own port."
            )
        for endpoint, port in fixed.items():
            check_port_free(port, endpoint)
        # Unset ports get free ports other than the requested ones and each
        # other, since none of them is bound until tritonserver starts.
        self.ports: dict[str, int] = {}
        for key, port in (
            ("http", http_port),
            ("grpc", grpc_port),
            ("metrics", metrics_port),
        ):
            if not port:
                port = _free_port_except([*fixed.values(), *self.ports.values()])
            self.ports[key] = port
        super().__init__(
            Endpoints(
                grpc_url=f"127.0.0.1:{self.ports['grpc']}",
                http_url=f"127.0.0.1:{self.ports['http']}",
                metrics_url=f"http://127.0.0.1:{self.ports['metrics']}/metrics",
            ),
            stop_requested,
        )
        self.model_repository = model_repository
        self.log_path = log_path
        self.process = None
        self._became_ready = False
        self._backend_directory = tempfile.TemporaryDirectory(
            prefix="analyzer-backends-"
        )

    def command(self) -> list[str]:
        backends = paths.prepare_backend_directory(Path(self._backend_directory.name))
        return [
            str(paths.tritonserver_path()),
            f"--model-repository={self.model_repository}",
            f"--backend-directory={backends}",
            "--model-control-mode=explicit",
            "--strict-readiness=false",
            "--http-address=127.0.0.1",
            f"--http-port={self.ports['http']}",
            "--grpc-address=127.0.0.1",
            f"--grpc-port={self.ports['grpc']}",
            "--metrics-address=127.0.0.1",
            f"--metrics-port={self.ports['metrics']}",
            "--allow-metrics=true",
            "--allow-cpu-metrics=true",
            "--metrics-interval-ms=500",
            f"--exit-timeout-secs={_EXIT_TIMEOUT_SECONDS}",
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start tritonserver and wait until it is ready.

        On a stop-now request during the wait, ends it and raises ``StopNow``.
        """
        logger.info("Starting Triton Inference Server; its log is %s", self.log_path)
        command = self.command()
        self.process = start_process(
            command,
            self.log_path,
            paths.tritonserver_environment(),
            end_with_parent=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(
                    f"Triton Inference Server exited with status {self.process.returncode} "
                    f"during start-up; its log {self.log_path} ends with:\n"
                    f"{read_tail(self.log_path, 1500)}"
                )
            if self.stop_requested():
                logger.info("Stop-now request while Triton Inference Server starts")
                self.stop()
                raise StopNow()
            # A gRPC call before Triton listens makes the channel wait out its
            # 1 s reconnect backoff, so wait for the port to accept first.
            if _port_accepts(self.ports["grpc"]) and self.is_ready():
                self._became_ready = True
                logger.info(
                    "Triton Inference Server %s is ready (gRPC %s, metrics %s)",
                    self.version(),
                    self.endpoints.grpc_url,
                    self.endpoints.metrics_url,
                )
                return
            time.sleep(_POLL_SECONDS)
        self.stop()
        raise ServerError(
            f"Triton Inference Server was not ready after {timeout:.0f} s; see {self.log_path}."
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def stop(self) -> None:
        """Stop tritonserver and every process in its process group.

        Waits for model unloads to finish first. After SIGTERM, Triton checks
        for live models only once a second, so a SIGTERM during an unload costs
        up to a second more. On a stop-now request it skips that wait, gives
        Triton a short SIGTERM grace and then kills its group.
        """
        running = self.process is not None and self.process.poll() is None
        if running and self._became_ready and not self.stop_requested():
            self._wait_for_unloads(_UNLOAD_WAIT_SECONDS)
        self.close()
        if self.process is not None:
            if self.stop_requested():
                grace = _STOP_NOW_GRACE_SECONDS
            else:
                # Triton's own exit timeout runs out before SIGKILL comes.
                grace = _EXIT_TIMEOUT_SECONDS + 1.0
            stop_process_group(
                self.process,
                "tritonserver",
                grace_seconds=grace,
                shared_memory_prefix=_PYTHON_BACKEND_SHM_PREFIX,
            )
            logger.info(
                "Stopped Triton Inference Server (exit status %s)",
                self.process.returncode,
            )
            self.process = None
        self._backend_directory.cleanup()

    def _wait_for_unloads(self, timeout: float) -> None:
        """Unload every ready model and wait until none is loading, ready or
        unloading, for at most ``timeout`` seconds or until a stop-now request."""
        deadline = time.monotonic() + timeout
        requested: set[str] = set()
        while not self.stop_requested():
            try:
                states = self._model_states()
                for name, state in states.items():
                    if state == "READY" and name not in requested:
                        self.client.unload_model(
                            name, client_timeout=_STATUS_CALL_SECONDS
                        )
                        requested.add(name)
            except InferenceServerException as error:
                logger.warning(
                    "Unloading the models before stopping Triton failed: %s; "
                    "sending SIGTERM without waiting",
                    error.message(),
                )
                return
            busy = sorted(
                name for name, state in states.items() if state in _BUSY_STATES
            )
            if not busy:
                return
            if time.monotonic() >= deadline:
                logger.warning(
                    "Models still loaded %.0f s after their unload request: %s; "
                    "stopping Triton anyway",
                    timeout,
                    ", ".join(busy),
                )
                return
            time.sleep(_POLL_SECONDS)


class RemoteTritonServer(TritonServer):
    """A Triton that is already running, started by the user.

    It must run with ``--model-control-mode=explicit`` and use the output model
    repository of this run as (one of) its ``--model-repository`` folders, so
    variants written there can be loaded and unloaded. Stopping only closes the
    connection; the server keeps running.
    """

    def __init__(
        self,
        grpc_endpoint: str,
        metrics_url: str,
        output_repository: Path,
        stop_requested: Callable[[], bool] | None = None,
    ) -> None:
        super().__init__(Endpoints(grpc_endpoint, "", metrics_url), stop_requested)
        self.output_repository = output_repository

    def start(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.is_ready():
            if time.monotonic() > deadline:
                raise ServerError(
                    f"Remote Triton at {self.endpoints.grpc_url} is not ready after "
                    f"{timeout:.0f} s; start it, or fix --triton-grpc-endpoint."
                )
            for _ in range(10):
                self._sleep_unless_stop()
        self._check_explicit_model_control()
        logger.info(
            "Using remote Triton Inference Server %s at %s (metrics %s); "
            "triton_rss is not measured because the server is not a local child",
            self.version(),
            self.endpoints.grpc_url,
            self.endpoints.metrics_url,
        )

    def _check_explicit_model_control(self) -> None:
        try:
            self.client.unload_model(_PROBE_MODEL)
        except InferenceServerException as error:
            raise ConfigError(
                f"Remote Triton at {self.endpoints.grpc_url} rejects model control "
                f"({error.message()}); restart it with --model-control-mode=explicit."
            ) from error

    def load_model(self, name: str, config: dict | None = None) -> float:
        """Load ``name`` with the config written to the output repository.

        The config goes with the load request, so a stale ``config.pbtxt`` of
        the same name in the server's repository cannot take its place.

        NOTE: a load abandoned on a stop-now request goes on in the remote
        server, and the variant stays loaded there.
        """
        index = self.client.get_model_repository_index(as_json=True)
        if name not in {model.get("name") for model in index.get("models", [])}:
            raise ConfigError(
                f"Remote Triton at {self.endpoints.grpc_url} does not list variant "
                f"{name!r} in its model repository; start it with "
                f"--model-repository={self.output_repository.resolve()} (this run's "
                "--output-model-repository-path)."
            )
        if config is None:
            config = read_model_config(self.output_repository / name)
        return super().load_model(name, config)


def create_server(
    settings: TritonSettings, model_repository: Path, log_path: Path
) -> TritonServer:
    """Return a server, not yet started: a local one on ``model_repository``, or a
    remote one that must see ``model_repository`` among its own."""
    if settings.launch_mode is LaunchMode.REMOTE:
        return RemoteTritonServer(
            settings.grpc_endpoint, settings.metrics_url, model_repository
        )
    return LocalTritonServer(
        model_repository,
        log_path,
        http_port=settings.http_port,
        grpc_port=settings.grpc_port,
        metrics_port=settings.metrics_port,
    )


def _port_accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.2)
        return probe.connect_ex(("127.0.0.1", port)) == 0
