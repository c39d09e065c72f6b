"""GPUs through NVML: the real no-GPU machine, and a fake pynvml for the GPU path."""

from __future__ import annotations

import sys
import types
from types import SimpleNamespace

import pytest

from analyzer_core.metrics.gpu import GpuSampler, detect_gpus, open_nvml
from analyzer_core.metrics.machine import describe_machine

needs_no_gpu = pytest.mark.skipif(
    open_nvml()[0] is not None, reason="this machine has NVML and maybe a GPU"
)


def fake_pynvml() -> types.ModuleType:
    """A pynvml module with one GPU, for machines without one."""
    module = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    module.NVMLError = NVMLError
    module.nvmlInit = lambda: None
    module.nvmlShutdown = lambda: None
    module.nvmlDeviceGetCount = lambda: 1
    module.nvmlDeviceGetHandleByIndex = lambda index: f"handle-{index}"
    module.nvmlDeviceGetName = lambda handle: b"Tesla T4"
    module.nvmlDeviceGetUUID = lambda handle: "GPU-1234"
    module.nvmlDeviceGetMemoryInfo = lambda handle: SimpleNamespace(
        total=16_000_000_000, used=4_000_000_000
    )
    module.nvmlDeviceGetUtilizationRates = lambda handle: SimpleNamespace(gpu=37)
    module.nvmlDeviceGetPowerUsage = lambda handle: 70_500
    return module


@needs_no_gpu
def test_no_gpu_logs_one_reason(caplog):
    caplog.set_level("INFO")
    assert detect_gpus() == []
    lines = [r.getMessage() for r in caplog.records if "No GPU found" in r.message]
    assert len(lines) == 1
    assert "NVML" in lines[0]


@needs_no_gpu
def test_no_gpu_machine_description():
    assert describe_machine("2.51.0").gpus == []


@needs_no_gpu
def test_no_gpu_sampler_is_empty():
    sampler = GpuSampler()
    assert not sampler.open()
    assert sampler.sample() == {}


def test_missing_pynvml_logged(monkeypatch, caplog):
    caplog.set_level("INFO")
    monkeypatch.setitem(sys.modules, "pynvml", None)
    assert detect_gpus() == []
    assert "nvidia-ml-py package (pynvml) is not installed" in caplog.text


def test_fake_gpu_detected(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    [gpu] = detect_gpus()
    assert gpu.name == "Tesla T4"
    assert gpu.uuid == "GPU-1234"
    assert gpu.memory_total_mb == 16000.0


def test_fake_gpu_sampled_in_catalog_units(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", fake_pynvml())
    sampler = GpuSampler()
    assert sampler.open()
    values = sampler.sample()["GPU-1234"]
    sampler.close()
    assert values["gpu_used_memory"] == 4000.0
    assert values["gpu_free_memory"] == 12000.0
    assert values["gpu_utilization"] == 37.0
    assert values["gpu_power_usage"] == 70.5
