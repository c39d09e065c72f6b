"""The mode, limits and protocol that every variant search shares.

A search is an iterator of :class:`VariantSettings`. The profiler measures each
variant it yields, then calls :meth:`VariantSearch.report` with that variant's
best throughput and name before asking for the next one, so a search can decide
where to go from the measurements it has seen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from analyzer_core.triton.variants import VariantSettings

VariantOrder = Callable[[list[str]], list[str]]
"""Sorts measured variant names best first by the report's objectives and
constraints."""


class SearchMode(Enum):
    """Search mode for the variants of a model (``--run-config-search-mode``)."""

    BRUTE = "brute"
    QUICK = "quick"
    MANUAL = "manual"


@dataclass
class SearchLimits:
    """Bounds of the automatic searches and their early-exit switches."""

    min_instance_count: int = 1
    max_instance_count: int = 5
    min_model_batch_size: int = 1
    max_model_batch_size: int = 128
    concurrency_early_exit: bool = True  # also covers the request-rate sweep
    max_batch_size_early_exit: bool = True
    default_only: bool = False


class VariantSearch(Protocol):
    """The interface the profiler drives; see the module docstring."""

    pruned: list[VariantSettings]

    def planned_settings(self) -> list[VariantSettings]:
        """List the variants known to be measured before the search starts."""
        ...

    def report(self, best_throughput: float, variant: str = "") -> None:
        """Record the best throughput and the name of the variant just measured."""
        ...

    def __iter__(self) -> Iterator[VariantSettings]: ...


def powers_of_two(minimum: int, maximum: int) -> list[int]:
    """List the powers of two within ``[minimum, maximum]``."""
    values = []
    value = 1
    while value <= maximum:
        if value >= minimum:
            values.append(value)
        value *= 2
    return values
