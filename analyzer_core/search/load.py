"""Load levels of one variant: client batch sizes times concurrency or request rate.

Each client batch size gets a rising series of concurrency values (or request
rates). The profiler stops raising the load once :func:`throughput_saturated`
returns True because the throughput no longer grows.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from analyzer_core.perf.runner import LoadPoint
from analyzer_core.search.base import powers_of_two

logger = logging.getLogger(__name__)

SATURATION_WINDOW = 4
SATURATION_MIN_GAIN = 0.05


def doubling_sweep(minimum: int, maximum: int) -> list[int]:
    """Return the powers of two within [minimum, maximum], always ending at maximum.

    The concurrency sweep and the request-rate sweep both use it.
    """
    values = powers_of_two(minimum, maximum)
    if not values or values[-1] != maximum:
        values.append(maximum)
    return values


def throughput_saturated(
    throughputs: list[float],
    window: int = SATURATION_WINDOW,
    min_gain: float = SATURATION_MIN_GAIN,
) -> bool:
    """Return True once the last ``window`` throughputs grew by ``min_gain`` or less.

    The growth is the best of the last ``window - 1`` values over the value
    before them, so with the defaults four measurements within 5 % of the first
    of them stop the sweep.
    """
    if len(throughputs) < window:
        return False
    base = throughputs[-window]
    return max(throughputs[-window + 1 :]) <= base * (1 + min_gain)


@dataclass
class LoadPlan:
    """The load levels of one model: exactly one of the two lists is set."""

    batch_sizes: list[int]
    concurrencies: list[int] | None = None
    request_rates: list[float] | None = None

    @property
    def uses_request_rate(self) -> bool:
        return self.request_rates is not None

    def points(
        self, variant: str, max_batch_size: int, log_skips: bool = False
    ) -> list[LoadPoint]:
        """List the load points of a variant, leaving out client batch sizes above
        its ``max_batch_size`` (one log line each when ``log_skips``)."""
        points = []
        for batch_size in self.batch_sizes:
            if batch_size > max(max_batch_size, 1):
                if log_skips:
                    logger.info(
                        "Skipping client batch size %d for %s: above its max "
                        "batch size %d",
                        batch_size,
                        variant,
                        max_batch_size,
                    )
                continue
            points += self._levels(variant, batch_size)
        return points

    def _levels(self, variant: str, batch_size: int) -> list[LoadPoint]:
        if self.request_rates is not None:
            return [
                LoadPoint(variant, batch_size, request_rate=rate)
                for rate in self.request_rates
            ]
        return [
            LoadPoint(variant, batch_size, concurrency=concurrency)
            for concurrency in self.concurrencies or [1]
        ]
