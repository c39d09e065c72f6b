"""The bundled tritonserver and perf_analyzer binaries and their environments.

``tritonserver`` 2.51 comes from the ``nvidia-pytriton`` wheel (with its shared
libraries in ``nvidia_pytriton.libs`` and a Python-backend stub per Python
version); ``perf_analyzer`` from the ``tritonclient[all]`` 2.51 wheel, which
needs ``libcudart.so.12`` from ``nvidia-cuda-runtime-cu12`` even without a GPU.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from pathlib import Path

from analyzer_core.errors import PerfAnalyzerError, ServerError


def _package_directory(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def pytriton_directory() -> Path:
    directory = _package_directory("pytriton")
    if directory is None:
        raise ServerError(
            "The nvidia-pytriton package, which bundles tritonserver, is not installed; "
            "run the set-up (make setup) or 'pip install -r requirements.txt'."
        )
    return directory


def tritonserver_path() -> Path:
    path = pytriton_directory() / "tritonserver" / "bin" / "tritonserver"
    if not path.is_file():
        raise ServerError(
            f"tritonserver not found at {path}; reinstall nvidia-pytriton==0.7.0."
        )
    return path


def tritonserver_environment() -> dict[str, str]:
    """Environment for tritonserver: its bundled libraries, and this venv's python on PATH.

    The Python-backend stub embeds an interpreter that finds the model's imports
    (numpy and the rest) through the ``python3`` first on PATH.
    """
    environment = dict(os.environ)
    libraries = pytriton_directory().parent / "nvidia_pytriton.libs"
    _prepend(environment, "LD_LIBRARY_PATH", str(libraries))
    _prepend(environment, "PATH", str(Path(sys.executable).parent))
    return environment


def prepare_backend_directory(destination: Path) -> Path:
    """Lay out a backend directory with the Python backend and this Python's stub.

    Symbolic links keep the installed wheel untouched; returns ``destination``.
    """
    source = pytriton_directory() / "tritonserver"
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stub = source / "python_backend_stubs" / version / "triton_python_backend_stub"
    if not stub.is_file():
        raise ServerError(
            f"No Python-backend stub for Python {version} in {stub.parent.parent}; "
            "use a Python version that nvidia-pytriton 0.7.0 ships a stub for (3.8-3.13)."
        )
    python_backend = destination / "python"
    python_backend.mkdir(parents=True, exist_ok=True)
    for item in (source / "backends" / "python").iterdir():
        if item.name != "__pycache__":
            _link(python_backend / item.name, item)
    _link(python_backend / "triton_python_backend_stub", stub)
    return destination


def _link(link: Path, target: Path) -> None:
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(target)


def perf_analyzer_path(explicit: Path | None = None) -> Path:
    if explicit is not None:
        if not explicit.is_file():
            raise PerfAnalyzerError(
                f"perf_analyzer not found at {explicit}; check --perf-analyzer-path."
            )
        return explicit
    beside_python = Path(sys.executable).parent / "perf_analyzer"
    if beside_python.is_file():
        return beside_python
    found = shutil.which("perf_analyzer")
    if found is None:
        raise PerfAnalyzerError(
            "perf_analyzer not found; install tritonclient[all]==2.51.0 "
            "(pip install -r requirements.txt) or pass --perf-analyzer-path."
        )
    return Path(found)


def perf_analyzer_environment() -> dict[str, str]:
    environment = dict(os.environ)
    cuda_runtime = _package_directory("nvidia.cuda_runtime")
    if cuda_runtime is not None:
        _prepend(environment, "LD_LIBRARY_PATH", str(cuda_runtime / "lib"))
    return environment


def _prepend(environment: dict[str, str], name: str, value: str) -> None:
    current = environment.get(name)
    environment[name] = f"{value}:{current}" if current else value
