"""Rank a model's variants by weighted objectives under constraints.

Each measurement gets a score: for every objective, its relative gain over the
mean of that metric across the model's successful measurements (positive when
better, so a lower latency gains), weighted by the objective's share of the
total weight. Model Analyzer compares two measurements by the same weighted
relative gain, but pairwise. Scoring against one reference keeps the order
transitive, and with a single objective it is simply the order of that metric.

A variant is ranked by its best measurement that meets every constraint.
Variants with no such measurement follow, closest to the constraints first.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from statistics import mean

from analyzer_core.metrics.catalog import METRICS
from analyzer_core.records import (
    DEFAULT_VARIANT_SUFFIX,
    CheckpointData,
    Measurement,
    Variant,
)
from analyzer_core.results.settings import (
    Constraints,
    RankingSettings,
    load_ranking_settings,
)
from analyzer_core.results.values import (
    collected_tags,
    describe_constraints,
    format_metric,
    metric_label,
    metric_value,
)

__all__ = [
    "ModelRanking",
    "RankingSettings",
    "VariantRanking",
    "load_ranking_settings",
    "rank_model",
]

logger = logging.getLogger(__name__)

NOTE_NAMES_LISTED = 10
"""Variant names a ranking note lists before it only counts the rest."""


@dataclass
class VariantRanking:
    """One variant's place in the ranking and the measurement that earned it."""

    name: str
    variant: Variant | None
    best: Measurement | None
    passes: bool
    score: float
    violations: list[str] = field(default_factory=list)
    measurements: list[Measurement] = field(default_factory=list)
    distance: float = 0.0
    """Relative amount by which ``best`` misses the constraints; 0 when it passes."""
    passing_count: int = 0
    """Number of leading ``measurements`` that meet the constraints (the rest fail)."""

    @property
    def is_default(self) -> bool:
        if self.variant is not None and self.variant.is_default:
            return True
        return self.name.endswith(DEFAULT_VARIANT_SUFFIX)


@dataclass
class ModelRanking:
    """The ranked variants of one model, with notes for the reader."""

    model: str
    objectives: dict[str, float]
    constraints: Constraints
    unchecked_constraints: Constraints
    entries: list[VariantRanking]
    unmeasured: list[str]
    top_n: int
    notes: list[str] = field(default_factory=list)
    collected: set[str] | None = None
    """Metric tags that at least one successful measurement of the model carries.

    ``rank_model`` fills it in; None means unknown."""
    _positions: dict[str, int] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @property
    def best(self) -> VariantRanking | None:
        """Return the top variant if it meets the constraints, else None."""
        if self.entries and self.entries[0].passes:
            return self.entries[0]
        return None

    @property
    def default(self) -> VariantRanking | None:
        return next((entry for entry in self.entries if entry.is_default), None)

    @property
    def passing(self) -> list[VariantRanking]:
        return [entry for entry in self.entries if entry.passes]

    def position(self, name: str) -> int | None:
        """Return the 1-based rank of variant ``name``, or None if it is not ranked."""
        if len(self._positions) != len(self.entries):
            self._positions = {
                entry.name: index for index, entry in enumerate(self.entries, start=1)
            }
        return self._positions.get(name)

    def entry(self, name: str) -> VariantRanking | None:
        """Return the ranked entry of variant ``name``, or None if it is not ranked."""
        position = self.position(name)
        return None if position is None else self.entries[position - 1]

    def top(self) -> list[VariantRanking]:
        """Return the first ``top_n`` variants, failing ones filling any gap."""
        return self.entries[: self.top_n]

    def violations(self, measurement: Measurement) -> list[str]:
        """Describe each checked constraint that ``measurement`` breaks."""
        return constraint_violations(measurement, self.constraints)

    def gain_over_default(self) -> dict[str, float]:
        """Return the best variant's change over the default config, in percent.

        Positive means better on that objective. Empty when there is no passing
        best variant, no measured default, or the best variant is the default.
        """
        best, default = self.best, self.default
        if best is None or default is None or best is default:
            return {}
        if best.best is None or default.best is None:
            return {}
        gains = {}
        for tag in self.objectives:
            gain = relative_gain(
                tag, metric_value(best.best, tag), metric_value(default.best, tag)
            )
            if gain is not None:
                gains[tag] = 100.0 * gain
        return gains


def relative_gain(
    tag: str, value: float | None, reference: float | None
) -> float | None:
    """Return how much better ``value`` is than ``reference``, as a fraction."""
    if value is None or reference is None:
        return None
    scale = abs(reference) if reference else 1.0
    difference = value - reference
    if not METRICS[tag].higher_is_better:
        difference = -difference
    return difference / scale


def constraint_violations(
    measurement: Measurement, constraints: Constraints
) -> list[str]:
    """Describe each constraint that ``measurement`` breaks, in plain words."""
    problems = []
    for tag, bounds in constraints.items():
        value = metric_value(measurement, tag)
        for bound, limit in bounds.items():
            if value is None:
                problems.append(f"{metric_label(tag)} not collected")
            elif bound == "max" and value > limit:
                problems.append(
                    f"{metric_label(tag)} {format_metric(tag, value)} > "
                    f"{format_metric(tag, limit)}"
                )
            elif bound == "min" and value < limit:
                problems.append(
                    f"{metric_label(tag)} {format_metric(tag, value)} < "
                    f"{format_metric(tag, limit)}"
                )
    return problems


def meets_constraints(measurement: Measurement, constraints: Constraints) -> bool:
    """Tell whether ``constraint_violations`` would find nothing, without wording it."""
    for tag, bounds in constraints.items():
        value = metric_value(measurement, tag)
        for bound, limit in bounds.items():
            if value is None:
                return False
            if bound == "max" and value > limit:
                return False
            if bound == "min" and value < limit:
                return False
    return True


def constraint_distance(measurement: Measurement, constraints: Constraints) -> float:
    """Sum the relative amounts by which ``measurement`` misses each limit."""
    distance = 0.0
    for tag, bounds in constraints.items():
        value = metric_value(measurement, tag)
        for bound, limit in bounds.items():
            if value is None:
                return math.inf
            excess = value - limit if bound == "max" else limit - value
            distance += max(excess, 0.0) / (abs(limit) or 1.0)
    return distance


def rank_model(
    data: CheckpointData, model: str, settings: RankingSettings
) -> ModelRanking:
    """Rank every variant of ``model`` in ``data`` under ``settings``."""
    collected = collected_tags(data, model)
    notes: list[str] = []
    objectives = _usable_objectives(
        settings.objectives_for(model), collected, model, notes
    )
    constraints, unchecked = _split_constraints(
        settings.constraints_for(model), collected, model, notes
    )

    measurements = [m for m in data.measurements if m.model == model and m.ok]
    references = _references(measurements, objectives)
    scorer = _Scorer(objectives, references, constraints)
    names = _variant_names(data, model)
    # Group the measurements in one pass. Filtering them once per variant made
    # ranking quadratic, which took minutes for thousands of variants.
    by_variant: dict[str, list[Measurement]] = {name: [] for name in names}
    for measurement in measurements:
        by_variant[measurement.variant].append(measurement)

    entries = [
        scorer.rank_variant(name, data.variants.get(name), by_variant[name])
        for name in names
        if by_variant[name]
    ]
    entries.sort(key=_entry_order)
    unmeasured = [name for name in names if not by_variant[name]]
    ranking = ModelRanking(
        model,
        objectives,
        constraints,
        unchecked,
        entries,
        unmeasured,
        settings.top_n,
        collected=collected,
    )
    ranking.notes = notes + _ranking_notes(ranking)
    return ranking


def _variant_names(data: CheckpointData, model: str) -> list[str]:
    names = [variant.name for variant in data.variants_of(model)]
    names += [m.variant for m in data.measurements if m.model == model]
    return list(dict.fromkeys(names))


def _usable_objectives(
    objectives: dict[str, float], collected: set[str], model: str, notes: list[str]
) -> dict[str, float]:
    usable = {tag: weight for tag, weight in objectives.items() if tag in collected}
    for tag in objectives.keys() - usable.keys():
        notes.append(
            f"The objective {metric_label(tag)} was ignored: no measurement of "
            f"{model} collected it."
        )
    if usable or not collected:
        return usable or dict(objectives)
    notes.append(f"Variants of {model} are ranked by throughput instead.")
    return {"perf_throughput": 1.0}


def _split_constraints(
    constraints: Constraints, collected: set[str], model: str, notes: list[str]
) -> tuple[Constraints, Constraints]:
    checked = {tag: b for tag, b in constraints.items() if tag in collected}
    unchecked = {tag: b for tag, b in constraints.items() if tag not in collected}
    if unchecked and collected:
        notes.append(
            f"Not checked: {describe_constraints(unchecked)}, because no measurement "
            f"of {model} collected that metric (a run without GPUs collects no GPU "
            "metrics). The ranking applies only the other constraints."
        )
    return checked, unchecked


def _references(
    measurements: list[Measurement], objectives: dict[str, float]
) -> dict[str, float]:
    references = {}
    for tag in objectives:
        values = [metric_value(m, tag) for m in measurements]
        present = [value for value in values if value is not None]
        references[tag] = mean(present) if present else 0.0
    return references


@dataclass
class _Scorer:
    objectives: dict[str, float]
    references: dict[str, float]
    constraints: Constraints

    def score(self, measurement: Measurement) -> float:
        total_weight = sum(self.objectives.values())
        score = 0.0
        for tag, weight in self.objectives.items():
            gain = relative_gain(
                tag, metric_value(measurement, tag), self.references[tag]
            )
            if gain is None:
                return -math.inf
            score += weight / total_weight * gain
        return score

    def rank_variant(
        self, name: str, variant: Variant | None, measurements: list[Measurement]
    ) -> VariantRanking:
        scores = {id(m): self.score(m) for m in measurements}
        passing, failing = [], []
        for m in measurements:
            if meets_constraints(m, self.constraints):
                passing.append(m)
            else:
                failing.append(m)
        passing.sort(key=lambda m: -scores[id(m)])
        failing.sort(key=lambda m: -scores[id(m)])
        ordered = passing + failing
        if passing:
            best = passing[0]
            return VariantRanking(
                name,
                variant,
                best,
                True,
                scores[id(best)],
                [],
                ordered,
                passing_count=len(passing),
            )
        distances = {id(m): constraint_distance(m, self.constraints) for m in failing}
        closest = min(failing, key=lambda m: (distances[id(m)], -scores[id(m)]))
        violations = constraint_violations(closest, self.constraints)
        return VariantRanking(
            name,
            variant,
            closest,
            False,
            scores[id(closest)],
            violations,
            ordered,
            distances[id(closest)],
        )


def _entry_order(entry: VariantRanking) -> tuple:
    if entry.passes:
        return (0, -entry.score, entry.name)
    return (1, entry.distance, -entry.score, entry.name)


def _ranking_notes(ranking: ModelRanking) -> list[str]:
    notes = []
    measured = len(ranking.entries)
    passing = len(ranking.passing)
    if ranking.constraints and measured and not passing:
        notes.append(
            f"No variant of {ranking.model} meets the constraints "
            f"({describe_constraints(ranking.constraints)}). All {measured} measured "
            "variants are listed as failing, closest to the limits first. Relax a "
            "constraint or profile other configurations before deploying one."
        )
    elif passing and passing < min(ranking.top_n, measured):
        notes.append(
            f"Only {passing} of the {measured} measured variants of {ranking.model} "
            "meet the constraints; the others are listed after them, marked failing."
        )
    if 0 < measured < ranking.top_n:
        noun = "variant was" if measured == 1 else "variants were"
        notes.append(
            f"Only {measured} {noun} measured for {ranking.model}, fewer than the "
            f"top {ranking.top_n} requested, so {measured} shown."
        )
    if ranking.unmeasured:
        notes.append(
            f"{len(ranking.unmeasured)} variant(s) of {ranking.model} have no "
            f"successful measurement and are not ranked: "
            f"{_name_list(ranking.unmeasured)}."
        )
    return notes


def _name_list(names: list[str]) -> str:
    """Join names, listing at most NOTE_NAMES_LISTED and counting the rest."""
    listed = ", ".join(names[:NOTE_NAMES_LISTED])
    rest = len(names) - NOTE_NAMES_LISTED
    return listed if rest <= 0 else f"{listed} and {rest} more"
