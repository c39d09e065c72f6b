"""Server metrics from Triton's Prometheus endpoint and the Triton process tree."""

from __future__ import annotations

import http.server
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer_core.metrics.prometheus import (
    MetricsSampler,
    idle_server_usage,
    parse_prometheus_text,
    process_tree_rss_mb,
    server_metrics,
)

# Output of Triton 2.51 (nvidia-pytriton 0.7.0) on a machine without a GPU.
TRITON_CPU_TEXT = """\
# HELP nv_pinned_memory_pool_total_bytes Pinned memory pool total memory size, in bytes
# TYPE nv_pinned_memory_pool_total_bytes gauge
nv_pinned_memory_pool_total_bytes 268435456
# TYPE nv_pinned_memory_pool_used_bytes gauge
nv_pinned_memory_pool_used_bytes 0
# HELP nv_cpu_utilization CPU utilization rate [0.0 - 1.0]
# TYPE nv_cpu_utilization gauge
nv_cpu_utilization 0.25
# TYPE nv_cpu_memory_total_bytes gauge
nv_cpu_memory_total_bytes 25276203008
# TYPE nv_cpu_memory_used_bytes gauge
nv_cpu_memory_used_bytes 831307776
"""

# The GPU gauges Triton exports, in its label format, for two GPUs.
TRITON_GPU_TEXT = """\
nv_gpu_utilization{gpu_uuid="GPU-a"} 0.5
nv_gpu_utilization{gpu_uuid="GPU-b"} 0.25
nv_gpu_memory_used_bytes{gpu_uuid="GPU-a"} 2000000000
nv_gpu_memory_total_bytes{gpu_uuid="GPU-a"} 16000000000
nv_gpu_power_usage{gpu_uuid="GPU-a"} 70.5
"""


class FixedGpuSampler:
    """Stands in for NVML, which this machine does not have."""

    def sample(self):
        return {
            "GPU-a": {"gpu_utilization": 99.0, "gpu_total_memory": 16000.0},
            "GPU-c": {"gpu_used_memory": 10.0},
        }


def test_cpu_metrics_from_triton_text():
    cpu, gpus = server_metrics(parse_prometheus_text(TRITON_CPU_TEXT))
    assert cpu["cpu_utilization"] == 25.0
    assert cpu["cpu_used_ram"] == pytest.approx(831.307776)
    assert cpu["cpu_available_ram"] == pytest.approx(25276.203008 - 831.307776)
    assert gpus == {}


def test_cpu_gauges_before_tritons_first_poll_are_ignored():
    text = TRITON_CPU_TEXT.replace("25276203008", "0").replace("831307776", "0")
    cpu, _ = server_metrics(parse_prometheus_text(text.replace("0.25", "0")))
    assert cpu == {}


def test_gpu_metrics_per_uuid():
    _, gpus = server_metrics(parse_prometheus_text(TRITON_GPU_TEXT))
    assert gpus["GPU-a"]["gpu_utilization"] == 50.0
    assert gpus["GPU-a"]["gpu_used_memory"] == 2000.0
    assert gpus["GPU-a"]["gpu_free_memory"] == 14000.0
    assert gpus["GPU-a"]["gpu_power_usage"] == 70.5
    assert gpus["GPU-b"] == {"gpu_utilization": 25.0}


def test_parse_labels_and_timestamp():
    text = 'metric{a="x,y",b="two words"} 3.5 1700000000000\n'
    [(labels, value)] = parse_prometheus_text(text)["metric"]
    assert labels == {"a": "x,y", "b": "two words"}
    assert value == 3.5


def test_parse_skips_bad_lines():
    samples = parse_prometheus_text("garbage\nname{unclosed 1\nok 2\n\n")
    assert samples == {"ok": [({}, 2.0)]}


def test_own_process_rss_positive():
    assert process_tree_rss_mb(os.getpid()) > 0


def test_missing_process_rss_none():
    assert process_tree_rss_mb(None) is None


def test_unreachable_endpoint_still_samples_rss(caplog):
    sampler = MetricsSampler("http://127.0.0.1:1/metrics", os.getpid())
    sampler.interval_seconds = 0.05
    with sampler:
        time.sleep(0.3)
    cpu, _ = sampler.summary()
    assert cpu["triton_rss"] > 0
    assert "cpu_utilization" not in cpu
    warnings = [r for r in caplog.records if "Reading Triton metrics" in r.message]
    assert len(warnings) == 1


def test_triton_gpu_values_win_over_nvml():
    sampler = MetricsSampler("http://127.0.0.1:1/metrics", None, FixedGpuSampler())
    sampler._scrape = lambda session: server_metrics(
        parse_prometheus_text(TRITON_GPU_TEXT)
    )
    with sampler:
        pass
    _, gpus = sampler.summary()
    assert gpus["GPU-a"]["gpu_utilization"] == 50.0
    assert gpus["GPU-a"]["gpu_total_memory"] == 16000.0
    assert gpus["GPU-c"]["gpu_used_memory"] == 10.0


@pytest.fixture
def metrics_url() -> Iterator[str]:
    """Serve Triton's CPU text and the two-GPU text on a 127.0.0.1 port."""
    body = (TRITON_CPU_TEXT + TRITON_GPU_TEXT).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/metrics"
    finally:
        server.shutdown()
        server.server_close()


def test_idle_usage_folds_gpus_into_one_value(metrics_url):
    usage = idle_server_usage(metrics_url, os.getpid())

    assert usage["cpu_used_ram"] == pytest.approx(831.307776)
    assert usage["triton_rss"] > 0
    assert usage["gpu_utilization"] == pytest.approx(37.5)
    assert usage["gpu_used_memory"] == pytest.approx(2000.0)
    assert usage["gpu_power_usage"] == pytest.approx(70.5)


def test_idle_usage_without_endpoint_keeps_rss():
    started = time.monotonic()
    usage = idle_server_usage("http://127.0.0.1:1/metrics", os.getpid(), None, 0.3)

    assert time.monotonic() - started < 2
    assert set(usage) == {"triton_rss"}


@pytest.mark.slow
def test_real_triton_cpu_metrics(tmp_path: Path):
    from analyzer_core.triton.server import LocalTritonServer

    (tmp_path / "models").mkdir()
    server = LocalTritonServer(tmp_path / "models", tmp_path / "triton.log")
    server.start(timeout=120)
    try:
        sampler = MetricsSampler(server.endpoints.metrics_url, server.pid)
        with sampler:
            # Triton fills its CPU gauges on its first poll, half a second in.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                time.sleep(0.5)
                if "cpu_used_ram" in sampler.summary()[0]:
                    break
        cpu, gpus = sampler.summary()
        idle = idle_server_usage(server.endpoints.metrics_url, server.pid)
    finally:
        server.stop()
    assert idle["cpu_used_ram"] > 0
    assert idle["triton_rss"] > 0
    assert 0 <= cpu["cpu_utilization"] <= 100
    assert cpu["cpu_used_ram"] > 0
    assert cpu["cpu_available_ram"] > 0
    assert cpu["triton_rss"] > 0
    assert gpus == {}
