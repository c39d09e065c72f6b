"""The machine a run measures on: CPU model and GPUs (through pynvml, when present)."""

from __future__ import annotations

import logging
import platform
from pathlib import Path

from analyzer_core.records import GpuInfo, MachineInfo

logger = logging.getLogger(__name__)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def detect_gpus() -> list[GpuInfo]:
    """List the GPUs NVML sees; a machine without a GPU or driver returns []."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as error:
        logger.info("No GPU found (NVML: %s); GPU metrics stay empty", error)
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
                    memory_total_mb=memory.total / 1e6,
                )
            )
        return gpus
    finally:
        pynvml.nvmlShutdown()


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def describe_machine(triton_version: str) -> MachineInfo:
    return MachineInfo(
        cpu_model=cpu_model(), triton_version=triton_version, gpus=detect_gpus()
    )
