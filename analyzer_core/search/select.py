"""Pick the search for one model from the search mode and its config parameters."""

from __future__ import annotations

from typing import Any

from analyzer_core.search.base import (
    SearchLimits,
    SearchMode,
    VariantOrder,
    VariantSearch,
)
from analyzer_core.search.brute import BruteSearch
from analyzer_core.search.manual import ManualSearch
from analyzer_core.search.quick import QuickSearch


def create_search(
    model: str,
    default_config: dict[str, Any],
    mode: SearchMode,
    limits: SearchLimits,
    parameters: dict[str, Any] | None = None,
    order: VariantOrder | None = None,
    order_description: str = "throughput",
) -> VariantSearch:
    """Return the search for ``model``.

    As in Model Analyzer, ``model_config_parameters`` turn brute mode into a
    manual search of those values; manual mode without them measures the
    default config only. Quick mode with them is rejected by config validation.
    """
    supports_batching = int(default_config.get("max_batch_size", 0)) > 0
    if mode is SearchMode.MANUAL or (mode is SearchMode.BRUTE and parameters):
        return ManualSearch(model, parameters or {})
    if mode is SearchMode.QUICK:
        return QuickSearch(
            model,
            supports_batching,
            limits,
            start_instance_count=_instance_count(default_config),
            start_max_batch_size=int(default_config.get("max_batch_size", 0)),
            order=order,
            order_description=order_description,
        )
    return BruteSearch(model, supports_batching, limits)


def _instance_count(config: dict[str, Any]) -> int:
    groups = config.get("instance_group") or [{}]
    return sum(int(group.get("count", 1)) for group in groups)
