from analyzer_core.search.base import SearchLimits, powers_of_two
from analyzer_core.search.brute import BruteSearch
from analyzer_core.triton.variants import VariantSettings


def walk(search, throughputs):
    """Drive a search like the profiler, reporting throughputs[max_batch_size]."""
    visited = []
    for settings in search:
        visited.append(settings.max_batch_size)
        search.report(throughputs.get(settings.max_batch_size, 0.0))
    return visited


def test_powers_of_two_within_bounds():
    assert powers_of_two(1, 128) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert powers_of_two(3, 20) == [4, 8, 16]


def test_default_comes_first():
    search = BruteSearch(
        "m", True, SearchLimits(max_instance_count=2, max_model_batch_size=2)
    )
    visited = list(search)
    assert visited[0] == VariantSettings()
    assert visited[1:] == [
        VariantSettings(1, 1, True),
        VariantSettings(1, 2, True),
        VariantSettings(2, 1, True),
        VariantSettings(2, 2, True),
    ]


def test_plan_lists_whole_grid():
    search = BruteSearch(
        "m", True, SearchLimits(max_instance_count=5, max_model_batch_size=128)
    )
    assert len(search.planned_settings()) == 1 + 5 * 8


def test_non_batching_model_varies_instances_only():
    search = BruteSearch("m", False, SearchLimits(max_instance_count=3))
    assert list(search)[1:] == [VariantSettings(instance_count=c) for c in (1, 2, 3)]


def test_disable_measures_default_only():
    search = BruteSearch("m", True, SearchLimits(default_only=True))
    assert list(search) == [VariantSettings()]
    assert search.planned_settings() == [VariantSettings()]


def test_batch_size_search_stops_without_gain():
    limits = SearchLimits(max_instance_count=1, max_model_batch_size=16)
    search = BruteSearch("m", True, limits)
    throughputs = {1: 100.0, 2: 150.0, 4: 140.0, 8: 500.0, 16: 600.0}
    assert walk(search, throughputs) == [None, 1, 2, 4]
    assert [s.max_batch_size for s in search.pruned] == [8, 16]


def test_equal_throughput_counts_as_no_gain():
    limits = SearchLimits(max_instance_count=1, max_model_batch_size=8)
    search = BruteSearch("m", True, limits)
    assert walk(search, {1: 100.0, 2: 100.0}) == [None, 1, 2]


def test_batch_size_must_beat_every_smaller():
    limits = SearchLimits(max_instance_count=1, max_model_batch_size=16)
    search = BruteSearch("m", True, limits)
    # 4 beats 2 but not 1, so the row stops at 4.
    throughputs = {1: 300.0, 2: 100.0, 4: 200.0, 8: 900.0}
    assert walk(search, throughputs) == [None, 1, 2]


def test_prune_logs_one_line(caplog):
    limits = SearchLimits(max_instance_count=1, max_model_batch_size=16)
    search = BruteSearch("m", True, limits)
    caplog.set_level("INFO")
    walk(search, {1: 100.0, 2: 90.0})
    lines = [r for r in caplog.records if "Stopping max batch size" in r.message]
    assert len(lines) == 1
    assert "skipping 3 larger size(s)" in lines[0].message


def test_batch_size_early_exit_off_visits_all():
    limits = SearchLimits(
        max_instance_count=1, max_model_batch_size=4, max_batch_size_early_exit=False
    )
    search = BruteSearch("m", True, limits)
    assert walk(search, {1: 1.0, 2: 1.0, 4: 1.0}) == [None, 1, 2, 4]
    assert search.pruned == []


def test_concurrency_switch_leaves_batch_exit_on():
    limits = SearchLimits(
        max_instance_count=1, max_model_batch_size=4, concurrency_early_exit=False
    )
    search = BruteSearch("m", True, limits)
    assert walk(search, {1: 1.0, 2: 1.0, 4: 1.0}) == [None, 1, 2]
