"""Quick search against brute search on synthetic throughput surfaces (no Triton)."""

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from analyzer_core.search.base import SearchLimits
from analyzer_core.search.brute import BruteSearch
from analyzer_core.search.quick import QuickSearch
from analyzer_core.triton.variants import VariantSettings

LIMITS = SearchLimits(max_instance_count=5, max_model_batch_size=128)


def peak_surface(instances, log_batch, instance_weight=80.0, batch_weight=60.0):
    """A throughput surface with one peak at (instances, 2**log_batch)."""

    def throughput(settings):
        if settings.is_default:
            return 0.0
        count = settings.instance_count
        log_size = math.log2(settings.max_batch_size or 1)
        distance = (
            instance_weight * (count - instances) ** 2
            + batch_weight * (log_size - log_batch) ** 2
        )
        return 1000.0 / (1.0 + distance)

    return throughput


def cpu_like_surface(settings):
    """Throughput rises to 2 instances (2 cores) and flattens in batch size past 16."""
    if settings.is_default:
        return 0.0
    cores = {1: 0.6, 2: 1.0, 3: 0.95, 4: 0.9, 5: 0.85}[settings.instance_count]
    size = settings.max_batch_size
    return 1000.0 * cores * min(size, 16) / 16 - 0.5 * size


def drive(search, surface):
    """Run a search as the profiler does; return the variants in visiting order."""
    visited = []
    for variant in search:
        visited.append(variant)
        search.report(surface(variant))
    return visited


def best(visited, surface):
    return max(visited, key=surface)


def test_same_best_as_brute():
    surface = peak_surface(2, 4)
    brute = drive(BruteSearch("m", True, LIMITS), surface)
    quick = drive(QuickSearch("m", True, LIMITS, 1, 8), surface)
    assert best(quick, surface) == best(brute, surface)
    assert best(quick, surface) == VariantSettings(2, 16, True)


def test_far_fewer_variants_than_brute():
    surface = peak_surface(2, 4)
    brute = drive(BruteSearch("m", True, LIMITS), surface)
    quick = drive(QuickSearch("m", True, LIMITS, 1, 8), surface)
    assert len(brute) == 31
    assert len(quick) == 10


def test_cpu_like_surface_matches_brute():
    brute = drive(BruteSearch("m", True, LIMITS), cpu_like_surface)
    quick = drive(QuickSearch("m", True, LIMITS, 1, 8), cpu_like_surface)
    assert best(quick, cpu_like_surface) == best(brute, cpu_like_surface)
    assert len(quick) < len(brute) / 2


@settings(max_examples=200, deadline=None)
@given(
    peak_count=st.integers(1, 5),
    peak_log_batch=st.integers(0, 7),
    start_count=st.integers(1, 5),
    start_batch=st.sampled_from([1, 2, 4, 8, 16, 32, 64, 128]),
    instance_weight=st.floats(1.0, 500.0),
    batch_weight=st.floats(1.0, 500.0),
)
def test_any_single_peak_matches_brute(
    peak_count, peak_log_batch, start_count, start_batch, instance_weight, batch_weight
):
    surface = peak_surface(peak_count, peak_log_batch, instance_weight, batch_weight)
    brute = drive(BruteSearch("m", True, LIMITS), surface)
    quick = drive(QuickSearch("m", True, LIMITS, start_count, start_batch), surface)
    assert best(quick, surface) == best(brute, surface)


def test_visits_no_variant_twice():
    visited = drive(QuickSearch("m", True, LIMITS, 1, 1), peak_surface(5, 7))
    assert len(visited) == len({(v.instance_count, v.max_batch_size) for v in visited})


def test_default_comes_first():
    visited = drive(QuickSearch("m", True, LIMITS, 1, 8), peak_surface(2, 4))
    assert visited[0] == VariantSettings()


def test_start_is_closest_grid_point():
    search = QuickSearch(
        "m", True, LIMITS, start_instance_count=9, start_max_batch_size=12
    )
    assert search.settings(search.start) == VariantSettings(5, 16, True)


def test_plan_is_start_and_neighbors():
    search = QuickSearch("m", True, LIMITS, 1, 8)
    assert search.planned_settings() == [
        VariantSettings(),
        VariantSettings(1, 8, True),
        VariantSettings(1, 16, True),
        VariantSettings(2, 8, True),
        VariantSettings(1, 4, True),
    ]


def test_planned_variants_are_all_visited():
    search = QuickSearch("m", True, LIMITS, 3, 8)
    planned = search.planned_settings()
    visited = drive(search, peak_surface(1, 0))
    assert all(variant in visited for variant in planned)


def test_non_batching_model_climbs_instances():
    def surface(settings):
        return {None: 0.0, 1: 10.0, 2: 30.0, 3: 20.0, 4: 5.0, 5: 1.0}[
            settings.instance_count
        ]

    visited = drive(QuickSearch("m", False, LIMITS, 1, 0), surface)
    assert visited == [VariantSettings()] + [
        VariantSettings(instance_count=count) for count in (1, 2, 3)
    ]


def test_single_point_grid_stops():
    limits = SearchLimits(max_instance_count=1, max_model_batch_size=1)
    visited = drive(QuickSearch("m", True, limits, 1, 1), peak_surface(1, 0))
    assert visited == [VariantSettings(), VariantSettings(1, 1, True)]


def test_stop_logs_measured_count(caplog):
    caplog.set_level("INFO")
    drive(QuickSearch("m", True, LIMITS, 1, 8), peak_surface(2, 4))
    [line] = [r.message for r in caplog.records if "stopped at" in r.message]
    assert "2 instance(s), max batch size 16" in line
    assert "measured 9 of 40 grid variants" in line


def drive_named(search, surface, record=None):
    """Like ``drive``, but report each variant's name as the profiler does."""
    visited = []
    for variant in search:
        visited.append(variant)
        name = variant_name(variant)
        if record is not None:
            record(name, variant)
        search.report(surface(variant), name)
    return visited


def variant_name(settings):
    if settings.is_default:
        return "m_config_default"
    return f"m_i{settings.instance_count}_b{settings.max_batch_size}"


def test_order_steers_climb_away_from_throughput():
    # Throughput peaks at 2 instances and max batch size 16, but the order
    # ranks a smaller max batch size first, as a latency objective would.
    def by_smaller_batch(names):
        return sorted(names, key=lambda name: int(name.rsplit("_b", 1)[1]))

    search = QuickSearch("m", True, LIMITS, 1, 8, order=by_smaller_batch)
    visited = drive_named(search, peak_surface(2, 4))
    assert search.chosen == VariantSettings(1, 1, True)
    assert VariantSettings(1, 16, True) in visited


def test_logs_name_start_moves_and_reason(caplog):
    caplog.set_level("INFO")

    def by_smaller_batch(names):
        return sorted(names, key=lambda name: int(name.rsplit("_b", 1)[1]))

    search = QuickSearch(
        "m", True, LIMITS, 1, 8, order=by_smaller_batch, order_description="p99"
    )
    drive_named(search, peak_surface(2, 4))
    lines = [r.message for r in caplog.records]

    assert "Quick search of m: starting at 1 instance(s), max batch size 8" in lines[0]
    moves = [line for line in lines if "moving from" in line]
    assert moves[0].startswith("Quick search of m: moving from m_i1_b8 to m_i1_b4")
    assert "ranked higher by p99: " in moves[0]
    [stop] = [line for line in lines if "stopped at" in line]
    assert "stopped at m_i1_b1 (1 instance(s), max batch size 1," in stop


def test_order_unused_without_names():
    calls = []
    search = QuickSearch("m", True, LIMITS, 1, 8, order=calls.append)
    quick = drive(search, peak_surface(2, 4))
    assert calls == []
    assert best(quick, peak_surface(2, 4)) == VariantSettings(2, 16, True)


def test_ranking_order_meets_latency_constraint():
    """Quick search over live checkpoint data ranks as the report does."""
    from analyzer_core.records import CheckpointData, MachineInfo, Measurement
    from analyzer_core.results.settings import RankingSettings
    from analyzer_core.search.order import ranking_order

    surface = peak_surface(2, 4)
    data = CheckpointData(machine=MachineInfo("test CPU", "2.51.0"))

    def record(name, variant):
        size = variant.max_batch_size or 1
        metrics = {"perf_throughput": surface(variant), "perf_latency_p99": size}
        data.measurements.append(Measurement("m", name, 1, 1, metrics))

    settings = RankingSettings(constraints={"perf_latency_p99": {"max": 4}})
    search = QuickSearch(
        "m", True, LIMITS, 1, 2, order=ranking_order(data, "m", settings)
    )
    visited = drive_named(search, surface, record)
    passing = [v for v in visited if (v.max_batch_size or 1) <= 4]
    assert search.chosen == max(passing, key=surface)
    assert search.chosen == VariantSettings(2, 4, True)


def test_describe_ranking_names_throughput_or_config():
    from analyzer_core.results.settings import RankingSettings
    from analyzer_core.search.order import describe_ranking

    assert describe_ranking(RankingSettings(), "m") == "throughput"
    latency = RankingSettings(objectives={"perf_latency_p99": 1.0})
    assert describe_ranking(latency, "m") == (
        "the objectives and constraints of the config file"
    )
    limited = RankingSettings(constraints={"perf_latency_p99": {"max": 5.0}})
    assert describe_ranking(limited, "m") != "throughput"
