"""The machine a run measures on: CPU model and GPUs (through pynvml, when present)."""

from __future__ import annotations

import logging
import platform
from pathlib import Path

from analyzer_core.metrics.gpu import detect_gpus
from analyzer_core.records import MachineInfo

logger = logging.getLogger(__name__)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def describe_machine(triton_version: str) -> MachineInfo:
    """Describe this machine: its CPU model and the GPUs NVML lists."""
    return MachineInfo(
        cpu_model=cpu_model(), triton_version=triton_version, gpus=detect_gpus()
    )
