"""Quick search: hill climbing over instance count and max batch size.

The search walks the same grid as brute search (instance counts times powers
of two of max batch size, with dynamic batching) but measures only the
neighbors of the best variant found so far. It starts at the grid point
closest to the model's own config. There it measures the up to four neighbors
one step away: one instance more or fewer, max batch size doubled or halved.
It moves to the best neighbor if that beats the current variant, and stops
when none does. "Best" follows the report's ranking when the profiler passes a
:data:`VariantOrder` (weighted objectives, constraints met first), and the
highest throughput otherwise. On a surface with one peak it ends at the same variant as
brute search after measuring a fraction of the grid. A surface with several
peaks, or measurement noise larger than the differences between neighbors,
can stop it at a lower variant, so brute search stays the default.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterator

from analyzer_core.search.base import SearchLimits, VariantOrder, powers_of_two
from analyzer_core.triton.variants import VariantSettings

logger = logging.getLogger(__name__)

Point = tuple[int, int]  # (instance count, index into the max batch sizes)


class QuickSearch:
    def __init__(
        self,
        model: str,
        supports_batching: bool,
        limits: SearchLimits,
        start_instance_count: int = 1,
        start_max_batch_size: int = 1,
        order: VariantOrder | None = None,
        order_description: str = "throughput",
    ) -> None:
        self.model = model
        self.supports_batching = supports_batching
        self.limits = limits
        self.batch_sizes: list[int | None] = [None]
        if supports_batching:
            self.batch_sizes = list(
                powers_of_two(limits.min_model_batch_size, limits.max_model_batch_size)
            )
        self.start = (
            _clamp(
                start_instance_count,
                limits.min_instance_count,
                limits.max_instance_count,
            ),
            self._closest_batch_index(start_max_batch_size),
        )
        self.pruned: list[VariantSettings] = []
        self.throughputs: dict[Point, float] = {}
        self.names: dict[Point, str] = {}
        self.order = order
        # What ``order`` ranks by, for the log: "throughput" or the objectives.
        self.order_description = order_description
        self.chosen: VariantSettings | None = None
        """The grid variant the climb ended on, once it has ended."""
        self._last_throughput = 0.0
        self._last_name = ""

    def _closest_batch_index(self, max_batch_size: int) -> int:
        if not self.supports_batching:
            return 0
        target = math.log2(max(max_batch_size, 1))
        distances = [abs(math.log2(size) - target) for size in self.batch_sizes]
        return distances.index(min(distances))

    def settings(self, point: Point) -> VariantSettings:
        count, batch_index = point
        if not self.supports_batching:
            return VariantSettings(instance_count=count)
        return VariantSettings(count, self.batch_sizes[batch_index], True)

    def neighbors(self, point: Point) -> list[Point]:
        """List the grid points one step from ``point``, larger values first."""
        count, batch_index = point
        candidates = [
            (count, batch_index + 1),
            (count + 1, batch_index),
            (count, batch_index - 1),
            (count - 1, batch_index),
        ]
        return [candidate for candidate in candidates if self._on_grid(candidate)]

    def _on_grid(self, point: Point) -> bool:
        count, batch_index = point
        return (
            self.limits.min_instance_count <= count <= self.limits.max_instance_count
            and 0 <= batch_index < len(self.batch_sizes)
        )

    def planned_settings(self) -> list[VariantSettings]:
        """List the default config, the start and its neighbors, which are always
        measured."""
        if self.limits.default_only:
            return [VariantSettings()]
        points = [self.start, *self.neighbors(self.start)]
        return [VariantSettings()] + [self.settings(point) for point in points]

    def report(self, best_throughput: float, variant: str = "") -> None:
        """Record the best throughput and the name of the variant just measured."""
        self._last_throughput = best_throughput
        self._last_name = variant

    def __iter__(self) -> Iterator[VariantSettings]:
        yield VariantSettings()
        if self.limits.default_only:
            return
        current = self.start
        logger.info(
            "Quick search of %s: starting at %s, the grid point closest to the "
            "model's own config, then measuring its neighbors one step away",
            self.model,
            self._describe(current),
        )
        yield from self._measure(current)
        while True:
            for neighbor in self.neighbors(current):
                if neighbor not in self.throughputs:
                    yield from self._measure(neighbor)
            best = self._best_of(current, self.neighbors(current))
            if best == current:
                self.chosen = self.settings(current)
                self._log_stop(current)
                return
            self._log_move(current, best)
            current = best

    def _measure(self, point: Point) -> Iterator[VariantSettings]:
        self._last_throughput = 0.0
        self._last_name = ""
        yield self.settings(point)
        self.throughputs[point] = self._last_throughput
        self.names[point] = self._last_name

    def _best_of(self, current: Point, neighbors: list[Point]) -> Point:
        """Return the neighbor that beats ``current`` most, or ``current``."""
        by_name = {self.names.get(point): point for point in (current, *neighbors)}
        if self.order is not None and "" not in by_name and None not in by_name:
            ranked = self.order(list(by_name))
            if ranked and ranked[0] in by_name:
                return by_name[ranked[0]]
        best = max(neighbors, key=self.throughputs.__getitem__, default=current)
        if self.throughputs[best] <= self.throughputs[current]:
            return current
        return best

    def _describe(self, point: Point) -> str:
        count, batch_index = point
        if not self.supports_batching:
            return f"{count} instance(s)"
        return f"{count} instance(s), max batch size {self.batch_sizes[batch_index]}"

    def _log_move(self, current: Point, best: Point) -> None:
        if self.order is None:
            reason = "higher throughput"
        else:
            reason = f"ranked higher by {self.order_description}"
        logger.info(
            "Quick search of %s: moving from %s to %s (%s), %s: "
            "%.2f infer/sec against %.2f",
            self.model,
            self.names.get(current) or self._describe(current),
            self.names.get(best) or self._describe(best),
            self._describe(best),
            reason,
            self.throughputs[best],
            self.throughputs[current],
        )

    def _log_stop(self, current: Point) -> None:
        grid_size = len(self.batch_sizes) * (
            self.limits.max_instance_count - self.limits.min_instance_count + 1
        )
        logger.info(
            "Quick search of %s stopped at %s (%s, %.2f infer/sec): no neighbor "
            "%s; measured %d of %d grid variants",
            self.model,
            self.names.get(current) or self._describe(current),
            self._describe(current),
            self.throughputs[current],
            "has higher throughput" if self.order is None else "ranked higher",
            len(self.throughputs),
            grid_size,
        )


def _clamp(value: int, minimum: int, maximum: int) -> int:
    return max(minimum, min(maximum, value))
