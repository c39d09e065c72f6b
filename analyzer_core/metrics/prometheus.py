"""Server metrics from Triton's Prometheus endpoint, sampled while perf_analyzer runs."""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass, field

import psutil
import requests

from analyzer_core.metrics.gpu import GpuSampler

logger = logging.getLogger(__name__)

_MB = 1e6


# One sample line: name, optional {labels}, value, optional timestamp.
_SAMPLE = re.compile(
    r"^(?P<name>[A-Za-z_:][\w:]*)(?:\{(?P<labels>.*)\})?\s+(?P<value>\S+)(?:\s+\S+)?$"
)
_LABEL = re.compile(r'(?P<key>[A-Za-z_]\w*)\s*=\s*"(?P<value>(?:[^"\\]|\\.)*)"')

Samples = dict[str, list[tuple[dict[str, str], float]]]


def parse_prometheus_text(text: str) -> Samples:
    """Parse Prometheus text exposition into ``name -> [(labels, value)]``.

    Comment lines, blank lines and lines that do not parse are skipped.
    """
    samples: Samples = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if match is None:
            continue
        try:
            value = float(match["value"])
        except ValueError:
            continue
        labels = {
            label["key"]: label["value"]
            for label in _LABEL.finditer(match["labels"] or "")
        }
        samples.setdefault(match["name"], []).append((labels, value))
    return samples


def server_metrics(samples: Samples) -> tuple[dict, dict]:
    """Pick CPU metrics and per-GPU metrics (keyed by UUID) out of parsed samples."""
    cpu: dict[str, float] = {}
    total_samples = samples.get("nv_cpu_memory_total_bytes")
    if total_samples and total_samples[0][1] <= 0:
        # Triton publishes its CPU gauges as zeros until its first poll of the
        # host, so such a scrape carries no reading of the machine.
        total_samples = None
        samples = {
            name: values
            for name, values in samples.items()
            if not name.startswith("nv_cpu_")
        }
    for name, tag, scale in (
        ("nv_cpu_utilization", "cpu_utilization", 100.0),
        ("nv_cpu_memory_used_bytes", "cpu_used_ram", 1 / _MB),
    ):
        if samples.get(name):
            cpu[tag] = samples[name][0][1] * scale
    if "cpu_used_ram" in cpu and total_samples:
        total = total_samples[0][1] / _MB
        cpu["cpu_available_ram"] = total - cpu["cpu_used_ram"]
    gpus: dict[str, dict[str, float]] = {}
    for name, tag, scale in (
        ("nv_gpu_utilization", "gpu_utilization", 100.0),
        ("nv_gpu_memory_used_bytes", "gpu_used_memory", 1 / _MB),
        ("nv_gpu_memory_total_bytes", "gpu_total_memory", 1 / _MB),
        ("nv_gpu_power_usage", "gpu_power_usage", 1.0),
    ):
        for labels, value in samples.get(name, []):
            uuid = labels.get("gpu_uuid")
            if uuid:
                gpus.setdefault(uuid, {})[tag] = value * scale
    for values in gpus.values():
        add_free_memory(values)
    return cpu, gpus


def add_free_memory(values: dict[str, float]) -> None:
    """Set ``gpu_free_memory`` from total and used memory when both are known."""
    if "gpu_total_memory" in values and "gpu_used_memory" in values:
        values["gpu_free_memory"] = (
            values["gpu_total_memory"] - values["gpu_used_memory"]
        )


@dataclass
class MetricsSampler:
    """Samples Triton's metrics endpoint, NVML and the Triton process tree's memory
    in a thread while perf_analyzer runs.

    Utilization and power are averaged over the samples; used memory is the
    maximum seen and free memory the minimum. Triton's ``nv_gpu_*`` values win
    over NVML's for the same GPU. A failed scrape of the endpoint is logged once
    and the other sources are still sampled.
    """

    metrics_url: str
    server_pid: int | None = None
    gpu_sampler: GpuSampler | None = None
    interval_seconds: float = 0.5
    _samples: list[tuple[dict, dict, float | None]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    _failures: int = 0

    def __enter__(self) -> MetricsSampler:
        self._thread = threading.Thread(
            target=self._loop, name="metrics-sampler", daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _loop(self) -> None:
        session = requests.Session()
        while True:
            self._sample(session)
            if self._stop.wait(self.interval_seconds):
                break
        self._sample(session)

    def _sample(self, session: requests.Session) -> None:
        cpu, gpus = self._scrape(session)
        if self.gpu_sampler is not None:
            for uuid, values in self.gpu_sampler.sample().items():
                gpus[uuid] = dict(values, **gpus.get(uuid, {}))
        self._samples.append((cpu, gpus, process_tree_rss_mb(self.server_pid)))

    def _scrape(self, session: requests.Session) -> tuple[dict, dict]:
        try:
            text = session.get(self.metrics_url, timeout=2).text
        except requests.RequestException as error:
            self._failures += 1
            if self._failures == 1:
                logger.warning(
                    "Reading Triton metrics from %s failed: %s", self.metrics_url, error
                )
            return {}, {}
        return server_metrics(parse_prometheus_text(text))

    def summary(self) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
        """Return CPU metrics and per-GPU metrics over the samples taken."""
        cpu: dict[str, float] = {}
        gpus: dict[str, dict[str, float]] = {}
        if not self._samples:
            return cpu, gpus
        cpu_samples = [sample[0] for sample in self._samples]
        _reduce_into(cpu, cpu_samples, "cpu_utilization", _mean)
        _reduce_into(cpu, cpu_samples, "cpu_used_ram", max)
        _reduce_into(cpu, cpu_samples, "cpu_available_ram", min)
        rss = [sample[2] for sample in self._samples if sample[2] is not None]
        if rss:
            cpu["triton_rss"] = max(rss)
        for uuid in {uuid for sample in self._samples for uuid in sample[1]}:
            per_gpu = [sample[1][uuid] for sample in self._samples if uuid in sample[1]]
            gpus[uuid] = _summarize_gpu(per_gpu)
        return cpu, gpus


def idle_server_usage(
    metrics_url: str,
    server_pid: int | None,
    gpu_sampler: GpuSampler | None = None,
    wait_seconds: float = 2.0,
) -> dict[str, float]:
    """Sample a server with no model loaded: its CPU, memory and GPU usage.

    Triton opens its metrics port a moment after it reports ready, so the
    endpoint is polled quietly until it responds. Samples are then taken until
    Triton has published a CPU reading or ``wait_seconds`` pass. Several GPUs
    are folded into one value per metric: used memory and power are summed,
    utilization is averaged.
    """
    deadline = time.monotonic() + wait_seconds
    with requests.Session() as session:
        while time.monotonic() < deadline:
            try:
                session.get(metrics_url, timeout=1)
                break
            except requests.RequestException:
                time.sleep(0.05)
    with MetricsSampler(
        metrics_url, server_pid, gpu_sampler, interval_seconds=0.1
    ) as sampler:
        while time.monotonic() < deadline:
            time.sleep(0.1)
            if "cpu_used_ram" in sampler.summary()[0]:
                break
    usage, gpus = sampler.summary()
    for tag, fold in (
        ("gpu_used_memory", sum),
        ("gpu_power_usage", sum),
        ("gpu_utilization", _mean),
    ):
        values = [values[tag] for values in gpus.values() if tag in values]
        if values:
            usage[tag] = fold(values)
    return usage


def _summarize_gpu(samples: list[dict[str, float]]) -> dict[str, float]:
    summary: dict[str, float] = {}
    _reduce_into(summary, samples, "gpu_utilization", _mean)
    _reduce_into(summary, samples, "gpu_power_usage", _mean)
    _reduce_into(summary, samples, "gpu_used_memory", max)
    _reduce_into(summary, samples, "gpu_total_memory", max)
    _reduce_into(summary, samples, "gpu_free_memory", min)
    return summary


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def _reduce_into(target: dict, samples: list[dict], tag: str, reduce) -> None:
    values = [sample[tag] for sample in samples if tag in sample]
    if values:
        target[tag] = reduce(values)


def process_tree_rss_mb(pid: int | None) -> float | None:
    """Resident memory of a process and its children (Python-backend stubs), in MB."""
    if pid is None:
        return None
    try:
        root = psutil.Process(pid)
        processes = [root, *root.children(recursive=True)]
    except psutil.Error:
        return None
    total = 0
    for process in processes:
        try:
            total += process.memory_info().rss
        except psutil.Error:
            continue
    return total / _MB
