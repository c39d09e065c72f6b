"""A stand-in for Triton that the profiler can start, load models into and stop.

Model control succeeds at once for any variant the profiler wrote to the output
repository, so a profile run with the stand-in perf_analyzer in this folder
takes milliseconds per load point. A small HTTP server on 127.0.0.1 serves
fixed CPU metrics in Prometheus text format at the metrics URL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING

from analyzer_core import profiler
from analyzer_core.errors import ServerError
from analyzer_core.triton.server import Endpoints

if TYPE_CHECKING:
    import pytest

FAKES_DIRECTORY = Path(__file__).resolve().parent
STAND_IN_PERF_ANALYZER = FAKES_DIRECTORY / "perf_analyzer"
STAND_IN_VERSION = "stand-in"
METRICS_TEXT = b"""# TYPE nv_cpu_utilization gauge
nv_cpu_utilization 0.25
nv_cpu_memory_used_bytes 2000000000
nv_cpu_memory_total_bytes 8000000000
"""


class MetricsHandler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(METRICS_TEXT)))
        self.end_headers()
        self.wfile.write(METRICS_TEXT)

    def log_message(self, format: str, *args: object) -> None:
        pass


class StandInServer:
    """Implements the calls the profiler makes on a Triton server object."""

    # Called with the variant name before each load, so a test can act mid-run.
    on_load: Callable[[str], None] | None = None
    instances: list[StandInServer] = []

    def __init__(self, model_repository: Path, log_path: Path) -> None:
        self.model_repository = model_repository
        self.log_path = log_path
        self._metrics = ThreadingHTTPServer(("127.0.0.1", 0), MetricsHandler)
        self._metrics.daemon_threads = True
        serve = threading.Thread(
            target=self._metrics.serve_forever, args=(0.05,), daemon=True
        )
        serve.start()
        port = self._metrics.server_address[1]
        self.endpoints = Endpoints(
            grpc_url=f"127.0.0.1:{port}",
            http_url=f"127.0.0.1:{port}",
            metrics_url=f"http://127.0.0.1:{port}/metrics",
        )
        self.loaded: set[str] = set()
        self.events: list[str] = []
        StandInServer.instances.append(self)

    @property
    def pid(self) -> int | None:
        return None

    def start(self, timeout: float = 60.0) -> None:
        self.events.append("start")

    def version(self) -> str:
        return STAND_IN_VERSION

    def load_model(self, name: str, config: dict | None = None) -> float:
        if StandInServer.on_load is not None:
            StandInServer.on_load(name)
        if not (self.model_repository / name / "config.pbtxt").is_file():
            raise ServerError(f"Stand-in Triton has no model {name!r} to load")
        self.loaded.add(name)
        self.events.append(f"load {name}")
        return 0.0

    def unload_model(self, name: str, timeout: float = 60.0) -> None:
        self.loaded.discard(name)
        self.events.append(f"unload {name}")

    def stop(self) -> None:
        self.events.append("stop")
        self._metrics.shutdown()
        self._metrics.server_close()

    def close(self) -> None:
        pass


def create_stand_in(settings: object, model_repository: Path, log_path: Path):
    return StandInServer(model_repository, log_path)


def install(monkeypatch: pytest.MonkeyPatch | None = None) -> None:
    """Make the profiler create StandInServer in place of a real Triton.

    Without ``monkeypatch`` the change lasts for the life of the process, as a
    forked profile child needs.
    """
    StandInServer.instances = []
    StandInServer.on_load = None
    if monkeypatch is None:
        profiler.create_server = create_stand_in
    else:
        monkeypatch.setattr(profiler, "create_server", create_stand_in)
