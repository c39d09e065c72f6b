"""Shared state of the reports of one checkpoint: data, index, save time, rankings."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from analyzer_core.records import CheckpointData, Measurement
from analyzer_core.results.ranking import ModelRanking, RankingSettings, rank_model

UNKNOWN = "unknown"
"""Value of MachineInfo fields the checkpoint did not record (Model Analyzer's)."""


@dataclass
class ReportContext:
    """A loaded checkpoint with the settings its reports are ranked by."""

    data: CheckpointData
    index: int
    checkpoint_time: float
    """Seconds since the epoch when the checkpoint was saved."""
    settings: RankingSettings = field(default_factory=RankingSettings)
    _rankings: dict[str, ModelRanking] = field(default_factory=dict, repr=False)
    _by_variant: dict[str, list[Measurement]] | None = field(default=None, repr=False)

    def ranking(self, model: str) -> ModelRanking:
        """Rank ``model`` once per context and reuse the result."""
        if model not in self._rankings:
            self._rankings[model] = rank_model(self.data, model, self.settings)
        return self._rankings[model]

    def rankings(self, models: list[str]) -> dict[str, ModelRanking]:
        """Rank ``models`` (once each) and return them in checkpoint order."""
        chosen = set(models)
        return {
            model: self.ranking(model)
            for model in self.data.models()
            if model in chosen
        }

    def measurements_of(self, variant: str) -> list[Measurement]:
        """Return the measurements of ``variant``, failed ones included.

        The lists are indexed in one pass over the checkpoint on the first
        call; callers must not change them.
        """
        if self._by_variant is None:
            index: dict[str, list[Measurement]] = {}
            for measurement in self.data.measurements:
                index.setdefault(measurement.variant, []).append(measurement)
            self._by_variant = index
        return self._by_variant.get(variant, [])

    @property
    def time_text(self) -> str:
        moment = datetime.datetime.fromtimestamp(self.checkpoint_time)
        return moment.strftime("%Y-%m-%d %H:%M:%S")

    @property
    def checkpoint_text(self) -> str:
        """Describe the checkpoint, like ``checkpoint 3, saved 2025-01-31 12:00:00``."""
        return f"checkpoint {self.index}, saved {self.time_text}"

    def hardware_text(self) -> str:
        """Describe the GPUs (or their absence), the CPU and the Triton version."""
        machine = self.data.machine
        if machine.gpus:
            gpus = ", ".join(
                f"{gpu.name} ({gpu.uuid})"
                + (f", {gpu.memory_total_mb:,.0f} MB" if gpu.memory_total_mb else "")
                for gpu in machine.gpus
            )
        else:
            gpus = "CPU only, no GPU"
        parts = [gpus]
        if machine.cpu_model != UNKNOWN:
            parts.append(f"CPU: {machine.cpu_model}")
        if machine.triton_version != UNKNOWN:
            parts.append(f"Triton: {machine.triton_version}")
        return ". ".join(parts) + "."
