"""Order measured variants the way the report will rank them."""

from __future__ import annotations

from analyzer_core.records import CheckpointData
from analyzer_core.results.ranking import rank_model
from analyzer_core.results.settings import RankingSettings
from analyzer_core.search.base import VariantOrder


def ranking_order(
    data: CheckpointData, model: str, settings: RankingSettings
) -> VariantOrder:
    """Return a :data:`VariantOrder` over the live ``data`` of ``model``.

    Each call ranks the measurements recorded so far, so the scores use the
    same references (means over the model's measurements) as a report built
    from the checkpoint at that moment. Names without a successful measurement
    go last, in their given order.
    """

    def order(names: list[str]) -> list[str]:
        ranking = rank_model(data, model, settings)
        ranked = [entry.name for entry in ranking.entries if entry.name in names]
        return ranked + [name for name in names if name not in ranked]

    return order


def describe_ranking(settings: RankingSettings, model: str) -> str:
    """Name what the ranking of ``model`` follows, for log lines."""
    objectives = settings.objectives_for(model)
    if objectives == {"perf_throughput": 1.0} and not settings.constraints_for(model):
        return "throughput"
    return "the objectives and constraints of the config file"
