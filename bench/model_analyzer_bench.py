"""Time the sweep of ``sweep_bench.py`` with NVIDIA's Triton Model Analyzer.

Run from the repository root:

    .venv/bin/python bench/model_analyzer_bench.py --repeats 3

Model Analyzer is installed from PyPI into ``bench/.venv-model-analyzer`` on the
first run. Its ``perf_analyzer`` dependency is an empty placeholder package,
so it runs the same perf_analyzer 2.51 and tritonserver 2.51 binaries as
``analyzer_core``, through the timing wrappers of ``sweep_timing.py``.

The configuration requests the same sweep: local launch mode, ``cpu_only``
(KIND_CPU instances), brute search over instance counts 1 and 2 with max
batch size pinned to 1, concurrency 1, 2 and 4, and perf_analyzer's default
count windows of 50 requests. Reports are skipped, because ``profile`` in
``analyzer_core`` writes none either.
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
from pathlib import Path

from sweep_bench import (
    CONCURRENCIES,
    MAX_INSTANCE_COUNT,
    MODEL,
    MODEL_BATCH_SIZE,
    MODEL_REPOSITORY,
    REPOSITORY_ROOT,
    SweepResult,
    collect_result,
    describe,
    median_of,
    timed_run,
)
from sweep_timing import Wrappers, work_folder, write_wrappers

from analyzer_core.triton import paths

VERSION = "1.58.0"
VIRTUAL_ENVIRONMENT = REPOSITORY_ROOT / "bench" / ".venv-model-analyzer"
INSTALL_TIMEOUT_SECONDS = 900

CONFIG_TEMPLATE = """\
model_repository: {model_repository}
profile_models:
  {model}:
    cpu_only: true
concurrency: [{concurrencies}]
run_config_search_min_instance_count: 1
run_config_search_max_instance_count: {max_instance_count}
run_config_search_min_model_batch_size: {model_batch_size}
run_config_search_max_model_batch_size: {model_batch_size}
triton_launch_mode: local
triton_server_path: {tritonserver}
perf_analyzer_path: {perf_analyzer}
# Model Analyzer kills perf_analyzer above this CPU percentage (default 80), but
# it reads the CPU use of the wrapper, which is near 0, so the check never fires.
# The high value states that.
perf_analyzer_cpu_util: 1000
triton_server_flags:
  backend-directory: {backend_directory}
  http-address: 127.0.0.1
  grpc-address: 127.0.0.1
  metrics-address: 127.0.0.1
triton_http_endpoint: 127.0.0.1:{http_port}
triton_grpc_endpoint: 127.0.0.1:{grpc_port}
triton_metrics_url: http://127.0.0.1:{metrics_port}/metrics
triton_output_path: {triton_log}
output_model_repository_path: {output_repository}
override_output_model_repository: true
checkpoint_directory: {checkpoint_directory}
export_path: {export_path}
skip_summary_reports: true
skip_detailed_reports: true
"""


def executable() -> Path:
    return VIRTUAL_ENVIRONMENT / "bin" / "model-analyzer"


def installed_version() -> str | None:
    pip = VIRTUAL_ENVIRONMENT / "bin" / "pip"
    if not executable().is_file() or not pip.is_file():
        return None
    shown = subprocess.run(
        [str(pip), "show", "triton-model-analyzer"],
        capture_output=True,
        text=True,
        check=False,
    )
    for line in shown.stdout.splitlines():
        if line.startswith("Version:"):
            return line.split(":", 1)[1].strip()
    return None


def ensure_installed() -> Path:
    """Install Model Analyzer VERSION into its own virtual environment if missing."""
    if installed_version() == VERSION:
        return executable()
    print(f"Installing triton-model-analyzer=={VERSION} into {VIRTUAL_ENVIRONMENT}")
    subprocess.run(
        [sys.executable, "-m", "venv", "--clear", str(VIRTUAL_ENVIRONMENT)],
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    subprocess.run(
        [
            str(VIRTUAL_ENVIRONMENT / "bin" / "pip"),
            "install",
            "--quiet",
            f"triton-model-analyzer=={VERSION}",
        ],
        check=True,
        timeout=INSTALL_TIMEOUT_SECONDS,
    )
    return executable()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def write_config(work: Path, wrappers: Wrappers) -> Path:
    """Write the profile configuration YAML for one run in ``work``."""
    backend_directory = paths.prepare_backend_directory(work / "backends")
    text = CONFIG_TEMPLATE.format(
        model_repository=MODEL_REPOSITORY,
        model=MODEL,
        concurrencies=", ".join(str(value) for value in CONCURRENCIES),
        max_instance_count=MAX_INSTANCE_COUNT,
        model_batch_size=MODEL_BATCH_SIZE,
        tritonserver=wrappers.tritonserver,
        perf_analyzer=wrappers.perf_analyzer,
        backend_directory=backend_directory,
        http_port=free_port(),
        grpc_port=free_port(),
        metrics_port=free_port(),
        triton_log=work / "tritonserver.log",
        output_repository=work / "output_model_repository",
        checkpoint_directory=work / "checkpoints",
        export_path=work / "export",
    )
    path = work / "config.yaml"
    path.write_text(text)
    return path


def run_model_analyzer(work: Path) -> SweepResult:
    """Run the sweep once with ``model-analyzer profile`` in the empty ``work``."""
    program = ensure_installed()
    wrappers = write_wrappers(work / "wrappers")
    config = write_config(work, wrappers)
    (work / "export").mkdir()
    log_path = work / "model_analyzer.log"
    command = [str(program), "profile", "--config-file", str(config)]
    wall, status = timed_run(command, log_path, work)
    return collect_result(
        "Model Analyzer",
        wall,
        status,
        wrappers,
        work / "tritonserver.log",
        work / "checkpoints",
        log_path,
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="runs (default: 3)")
    parser.add_argument(
        "--work-directory",
        type=Path,
        help="keep each run's logs in a folder under this one (default: deleted)",
    )
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    ensure_installed()
    results = []
    for _ in range(arguments.repeats):
        with work_folder("model-analyzer-", arguments.work_directory) as work:
            result = run_model_analyzer(work)
        results.append(result)
        print(describe(result), flush=True)
    print(f"median wall {median_of(results, 'wall_seconds'):.1f} s")


if __name__ == "__main__":
    main()
