from analyzer_core.search.brute import (
    BruteSearch,
    SearchLimits,
    concurrency_sweep,
    powers_of_two,
    throughput_saturated,
)
from analyzer_core.triton.variants import VariantSettings


def test_powers_of_two_within_bounds():
    assert powers_of_two(1, 128) == [1, 2, 4, 8, 16, 32, 64, 128]
    assert powers_of_two(3, 20) == [4, 8, 16]


def test_concurrency_sweep_ends_at_maximum():
    assert concurrency_sweep(1, 4) == [1, 2, 4]
    assert concurrency_sweep(1, 6) == [1, 2, 4, 6]


def test_saturation_needs_four_steps():
    assert not throughput_saturated([100, 100, 100])
    assert throughput_saturated([100, 101, 103, 105])
    assert not throughput_saturated([100, 101, 103, 106])


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


def test_non_batching_model_varies_instances_only():
    search = BruteSearch("m", False, SearchLimits(max_instance_count=3))
    assert list(search)[1:] == [VariantSettings(instance_count=c) for c in (1, 2, 3)]


def test_batch_size_search_stops_without_gain():
    limits = SearchLimits(max_instance_count=1, max_model_batch_size=16)
    search = BruteSearch("m", True, limits)
    throughputs = {1: 100.0, 2: 150.0, 4: 140.0, 8: 500.0, 16: 600.0}
    visited = []
    for settings in search:
        visited.append(settings.max_batch_size)
        search.report(throughputs.get(settings.max_batch_size, 0.0))
    assert visited == [None, 1, 2, 4]
    assert [s.max_batch_size for s in search.pruned] == [8, 16]


def test_early_exit_off_visits_all():
    limits = SearchLimits(
        max_instance_count=1, max_model_batch_size=4, early_exit=False
    )
    search = BruteSearch("m", True, limits)
    visited = []
    for settings in search:
        visited.append(settings.max_batch_size)
        search.report(1.0)
    assert visited == [None, 1, 2, 4]
