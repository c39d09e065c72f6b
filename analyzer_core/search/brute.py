"""Brute search: the default config, then instance count x max batch size.

The search is a generator of variant settings; the profiler reports each
variant's best throughput back through :meth:`BruteSearch.report`, which lets the
search stop raising max batch size once it no longer pays.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

from analyzer_core.triton.variants import VariantSettings

logger = logging.getLogger(__name__)


def powers_of_two(minimum: int, maximum: int) -> list[int]:
    values = []
    value = 1
    while value <= maximum:
        if value >= minimum:
            values.append(value)
        value *= 2
    return values


def concurrency_sweep(minimum: int, maximum: int) -> list[int]:
    """Concurrency 1, 2, 4, ... within [minimum, maximum], always ending at maximum."""
    values = powers_of_two(minimum, maximum)
    if not values or values[-1] != maximum:
        values.append(maximum)
    return values


def throughput_saturated(
    throughputs: list[float], window: int = 4, min_gain: float = 0.05
) -> bool:
    """True once the best of the last ``window - 1`` steps gains ``min_gain`` or less over
    the step before them."""
    if len(throughputs) < window:
        return False
    base = throughputs[-window]
    return max(throughputs[-window + 1 :]) <= base * (1 + min_gain)


@dataclass
class SearchLimits:
    min_instance_count: int = 1
    max_instance_count: int = 5
    min_model_batch_size: int = 1
    max_model_batch_size: int = 128
    early_exit: bool = True
    default_only: bool = False


class BruteSearch:
    def __init__(
        self, model: str, supports_batching: bool, limits: SearchLimits
    ) -> None:
        self.model = model
        self.supports_batching = supports_batching
        self.limits = limits
        self.pruned: list[VariantSettings] = []
        self._last_throughput = 0.0

    def all_settings(self) -> list[VariantSettings]:
        """Every variant the search may visit, with no early exit."""
        settings = [VariantSettings()]
        if self.limits.default_only:
            return settings
        for count in range(
            self.limits.min_instance_count, self.limits.max_instance_count + 1
        ):
            settings += self._row(count)
        return settings

    def _row(self, count: int) -> list[VariantSettings]:
        if not self.supports_batching:
            return [VariantSettings(instance_count=count)]
        batch_sizes = powers_of_two(
            self.limits.min_model_batch_size, self.limits.max_model_batch_size
        )
        return [VariantSettings(count, size, True) for size in batch_sizes]

    def report(self, best_throughput: float) -> None:
        """Record the best throughput of the variant just measured."""
        self._last_throughput = best_throughput

    def __iter__(self) -> Iterator[VariantSettings]:
        yield VariantSettings()
        if self.limits.default_only:
            return
        for count in range(
            self.limits.min_instance_count, self.limits.max_instance_count + 1
        ):
            yield from self._walk_row(self._row(count))

    def _walk_row(self, row: list[VariantSettings]) -> Iterator[VariantSettings]:
        best_smaller = 0.0
        for position, settings in enumerate(row):
            self._last_throughput = 0.0
            yield settings
            if (
                self.limits.early_exit
                and position > 0
                and self._last_throughput <= best_smaller
            ):
                self.pruned += row[position + 1 :]
                if position + 1 < len(row):
                    logger.info(
                        "Stopping max batch size search of %s at %d instance(s): %s did "
                        "not raise throughput above smaller sizes",
                        self.model,
                        settings.instance_count,
                        settings.max_batch_size,
                    )
                return
            best_smaller = max(best_smaller, self._last_throughput)
