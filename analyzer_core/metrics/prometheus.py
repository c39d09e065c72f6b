"""Server metrics from Triton's Prometheus endpoint, sampled while perf_analyzer runs."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field

import psutil
import requests

logger = logging.getLogger(__name__)

_MB = 1e6


def parse_prometheus_text(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Parse Prometheus text exposition into ``name -> [(labels, value)]``."""
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, label_text = head.partition("{")
        labels = {}
        for pair in label_text.rstrip("}").split(","):
            key, separator, raw = pair.partition("=")
            if separator:
                labels[key.strip()] = raw.strip().strip('"')
        try:
            samples.setdefault(name.strip(), []).append((labels, float(value)))
        except ValueError:
            continue
    return samples


def server_metrics(
    samples: dict[str, list[tuple[dict[str, str], float]]],
) -> tuple[dict, dict]:
    """Pick CPU metrics and per-GPU metrics (keyed by UUID) out of parsed samples."""
    cpu: dict[str, float] = {}
    for name, tag, scale in (
        ("nv_cpu_utilization", "cpu_utilization", 100.0),
        ("nv_cpu_memory_used_bytes", "cpu_used_ram", 1 / _MB),
    ):
        if samples.get(name):
            cpu[tag] = samples[name][0][1] * scale
    if "cpu_used_ram" in cpu and samples.get("nv_cpu_memory_total_bytes"):
        total = samples["nv_cpu_memory_total_bytes"][0][1] / _MB
        cpu["cpu_available_ram"] = total - cpu["cpu_used_ram"]
    gpus: dict[str, dict[str, float]] = {}
    for name, tag, scale in (
        ("nv_gpu_utilization", "gpu_utilization", 100.0),
        ("nv_gpu_memory_used_bytes", "gpu_used_memory", 1 / _MB),
        ("nv_gpu_power_usage", "gpu_power_usage", 1.0),
    ):
        for labels, value in samples.get(name, []):
            uuid = labels.get("gpu_uuid")
            if uuid:
                gpus.setdefault(uuid, {})[tag] = value * scale
    return cpu, gpus


@dataclass
class MetricsSampler:
    """Samples the metrics endpoint and the Triton process tree's memory in a thread.

    Utilization is averaged over the samples; memory is the maximum seen.
    """

    metrics_url: str
    server_pid: int | None = None
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
        try:
            text = session.get(self.metrics_url, timeout=2).text
        except requests.RequestException as error:
            self._failures += 1
            if self._failures == 1:
                logger.warning(
                    "Reading Triton metrics from %s failed: %s", self.metrics_url, error
                )
            return
        cpu, gpus = server_metrics(parse_prometheus_text(text))
        self._samples.append((cpu, gpus, process_tree_rss_mb(self.server_pid)))

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
            gpus[uuid] = {}
            _reduce_into(gpus[uuid], per_gpu, "gpu_utilization", _mean)
            _reduce_into(gpus[uuid], per_gpu, "gpu_power_usage", _mean)
            _reduce_into(gpus[uuid], per_gpu, "gpu_used_memory", max)
        return cpu, gpus


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
