from analyzer_core.search.load import LoadPlan, doubling_sweep, throughput_saturated


def test_sweep_ends_at_maximum():
    assert doubling_sweep(1, 4) == [1, 2, 4]
    assert doubling_sweep(1, 6) == [1, 2, 4, 6]
    assert doubling_sweep(16, 100) == [16, 32, 64, 100]


def test_saturation_needs_four_steps():
    assert not throughput_saturated([100, 100, 100])
    assert throughput_saturated([100, 100, 100, 100])


def test_saturation_boundary_is_five_percent():
    assert throughput_saturated([100, 101, 103, 105])
    assert not throughput_saturated([100, 101, 103, 105.1])


def test_saturation_uses_last_four_only():
    # Growth early in the sweep does not matter once the last four are flat.
    assert throughput_saturated([10, 50, 100, 101, 102, 103])
    assert not throughput_saturated([10, 50, 100, 101, 102])


def test_saturation_ignores_a_dip():
    # The best of the last three counts, so a dip followed by growth goes on.
    assert not throughput_saturated([100, 80, 90, 120])


def test_plan_uses_concurrency():
    points = LoadPlan([1], concurrencies=[1, 2]).points("v", 8)
    assert [(p.concurrency, p.request_rate) for p in points] == [(1, None), (2, None)]


def test_plan_uses_request_rate():
    points = LoadPlan([1], request_rates=[16, 32.5]).points("v", 8)
    assert [(p.concurrency, p.request_rate) for p in points] == [
        (None, 16),
        (None, 32.5),
    ]


def test_batch_above_max_is_skipped():
    plan = LoadPlan([1, 4, 16], concurrencies=[1])
    assert [p.batch_size for p in plan.points("v", 8)] == [1, 4]


def test_non_batching_model_takes_batch_one():
    plan = LoadPlan([1, 2], concurrencies=[1])
    assert [p.batch_size for p in plan.points("v", 0)] == [1]


def test_skip_logs_one_line_each(caplog):
    caplog.set_level("INFO")
    LoadPlan([1, 16, 32], concurrencies=[1, 2, 4]).points("v", 8, log_skips=True)
    lines = [r.message for r in caplog.records if "Skipping client batch" in r.message]
    assert lines == [
        "Skipping client batch size 16 for v: above its max batch size 8",
        "Skipping client batch size 32 for v: above its max batch size 8",
    ]


def test_skip_is_quiet_when_planning(caplog):
    caplog.set_level("INFO")
    LoadPlan([16], concurrencies=[1]).points("", 8)
    assert caplog.records == []
