"""Brute search: the default config, then instance count x max batch size.

The search is a generator of variant settings. The profiler reports each
variant's best throughput back through :meth:`BruteSearch.report`, so the
search can stop raising max batch size once it no longer pays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

from analyzer_core.search.base import SearchLimits, powers_of_two
from analyzer_core.triton.variants import VariantSettings

logger = logging.getLogger(__name__)


def batch_size_row(
    count: int, supports_batching: bool, limits: SearchLimits
) -> list[VariantSettings]:
    """List the variants of one instance count: every max batch size with
    dynamic batching, or the instance count alone for a model without batching."""
    if not supports_batching:
        return [VariantSettings(instance_count=count)]
    batch_sizes = powers_of_two(
        limits.min_model_batch_size, limits.max_model_batch_size
    )
    return [VariantSettings(count, size, True) for size in batch_sizes]


class BruteSearch:
    def __init__(
        self, model: str, supports_batching: bool, limits: SearchLimits
    ) -> None:
        self.model = model
        self.supports_batching = supports_batching
        self.limits = limits
        self.pruned: list[VariantSettings] = []
        self._last_throughput = 0.0

    def planned_settings(self) -> list[VariantSettings]:
        """List every variant the search may visit, as if no early exit happened."""
        settings = [VariantSettings()]
        if self.limits.default_only:
            return settings
        for count in self._instance_counts():
            settings += batch_size_row(count, self.supports_batching, self.limits)
        return settings

    def _instance_counts(self) -> range:
        return range(self.limits.min_instance_count, self.limits.max_instance_count + 1)

    def report(self, best_throughput: float, variant: str = "") -> None:
        """Record the best throughput of the variant just measured."""
        self._last_throughput = best_throughput

    def __iter__(self) -> Iterator[VariantSettings]:
        yield VariantSettings()
        if self.limits.default_only:
            return
        for count in self._instance_counts():
            row = batch_size_row(count, self.supports_batching, self.limits)
            yield from self._walk_row(row)

    def _walk_row(self, row: list[VariantSettings]) -> Iterator[VariantSettings]:
        """Raise max batch size until a size fails to beat every smaller one."""
        best_smaller = 0.0
        for position, settings in enumerate(row):
            self._last_throughput = 0.0
            yield settings
            if (
                self.limits.max_batch_size_early_exit
                and position > 0
                and self._last_throughput <= best_smaller
            ):
                self._prune(row[position + 1 :], settings)
                return
            best_smaller = max(best_smaller, self._last_throughput)

    def _prune(self, rest: list[VariantSettings], last: VariantSettings) -> None:
        if not rest:
            return
        self.pruned += rest
        logger.info(
            "Stopping max batch size search of %s at %d instance(s): max batch "
            "size %s did not raise throughput above smaller sizes; skipping %d "
            "larger size(s)",
            self.model,
            last.instance_count,
            last.max_batch_size,
            len(rest),
        )
