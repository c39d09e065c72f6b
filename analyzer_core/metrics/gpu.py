"""GPUs through NVML (the ``nvidia-ml-py`` package, imported as ``pynvml``).

A machine without a GPU, driver or ``pynvml`` is normal: :func:`detect_gpus`
returns no GPU and logs one line with the reason, and :class:`GpuSampler`
samples nothing.
"""

from __future__ import annotations

import logging
from types import ModuleType

from analyzer_core.records import GpuInfo

logger = logging.getLogger(__name__)

_MB = 1e6
_MILLIWATTS_TO_WATTS = 1e-3


def open_nvml() -> tuple[ModuleType | None, str]:
    """Import and initialise pynvml; return it, or None and the reason it failed."""
    try:
        import pynvml
    except ImportError:
        return None, "the nvidia-ml-py package (pynvml) is not installed"
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        return None, f"NVML: {error}"
    return pynvml, ""


def detect_gpus() -> list[GpuInfo]:
    """List the GPUs that NVML reports. Without a GPU or driver, log the reason
    and return []."""
    pynvml, reason = open_nvml()
    if pynvml is None:
        logger.info("No GPU found (%s); GPU metrics stay empty", reason)
        return []
    try:
        gpus = []
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            gpus.append(
                GpuInfo(
                    name=_text(pynvml.nvmlDeviceGetName(handle)),
                    uuid=_text(pynvml.nvmlDeviceGetUUID(handle)),
                    memory_total_mb=memory.total / _MB,
                )
            )
    finally:
        pynvml.nvmlShutdown()
    if not gpus:
        logger.info("No GPU found (NVML lists no device); GPU metrics stay empty")
    return gpus


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class GpuSampler:
    """Reads memory, utilization and power of every GPU through NVML.

    Opened once per run; :meth:`sample` returns ``uuid -> {metric tag: value}``
    in the units of ``analyzer_core.metrics.catalog`` (MB, %, W).
    """

    def __init__(self) -> None:
        self._pynvml: ModuleType | None = None
        self._handles: dict[str, object] = {}

    def open(self) -> bool:
        """Start NVML; False (and quietly no samples) when there is no GPU."""
        pynvml, reason = open_nvml()
        if pynvml is None:
            logger.debug("GPU sampling is off: %s", reason)
            return False
        self._pynvml = pynvml
        for index in range(pynvml.nvmlDeviceGetCount()):
            handle = pynvml.nvmlDeviceGetHandleByIndex(index)
            self._handles[_text(pynvml.nvmlDeviceGetUUID(handle))] = handle
        return bool(self._handles)

    def sample(self) -> dict[str, dict[str, float]]:
        if self._pynvml is None:
            return {}
        return {uuid: self._read(handle) for uuid, handle in self._handles.items()}

    def _read(self, handle: object) -> dict[str, float]:
        pynvml = self._pynvml
        values: dict[str, float] = {}
        try:
            memory = pynvml.nvmlDeviceGetMemoryInfo(handle)
            values["gpu_used_memory"] = memory.used / _MB
            values["gpu_total_memory"] = memory.total / _MB
            values["gpu_free_memory"] = (memory.total - memory.used) / _MB
            rates = pynvml.nvmlDeviceGetUtilizationRates(handle)
            values["gpu_utilization"] = float(rates.gpu)
            power = pynvml.nvmlDeviceGetPowerUsage(handle)
            values["gpu_power_usage"] = power * _MILLIWATTS_TO_WATTS
        except pynvml.NVMLError as error:
            logger.debug("NVML read failed: %s", error)
        return values

    def close(self) -> None:
        if self._pynvml is not None:
            self._pynvml.nvmlShutdown()
            self._pynvml = None
            self._handles.clear()
