import pytest

from analyzer_core.errors import ConfigError
from analyzer_core.search.manual import ManualSearch, expand_parameters
from analyzer_core.triton.variants import (
    VariantSettings,
    apply_settings,
    read_model_config,
)


def expand(parameters):
    return [dict(pairs) for pairs in expand_parameters(parameters, "here")]


def test_list_sweeps_values():
    variants = expand({"dynamic_batching": {"max_queue_delay_microseconds": [1, 2]}})
    assert variants == [
        {"dynamic_batching.max_queue_delay_microseconds": 1},
        {"dynamic_batching.max_queue_delay_microseconds": 2},
    ]


def test_cross_product_size():
    parameters = {
        "max_batch_size": [6, 8],
        "dynamic_batching": {
            "preferred_batch_size": [[1], [2], [3]],
            "max_queue_delay_microseconds": [200, 300],
        },
        "instance_group": [{"kind": "KIND_CPU", "count": [1, 2]}],
    }
    assert len(expand(parameters)) == 2 * 3 * 2 * 2


def test_flat_preferred_sizes_are_one_value():
    variants = expand({"dynamic_batching": {"preferred_batch_size": [4, 8]}})
    assert variants == [{"dynamic_batching.preferred_batch_size": [4, 8]}]


def test_list_of_lists_sweeps_preferred_sizes():
    variants = expand({"dynamic_batching": {"preferred_batch_size": [[4], [4, 8]]}})
    values = [v["dynamic_batching.preferred_batch_size"] for v in variants]
    assert values == [[4], [4, 8]]


def test_instance_group_count_list_sweeps():
    variants = expand({"instance_group": [{"kind": "KIND_CPU", "count": [1, 3]}]})
    assert variants == [
        {"instance_group": [{"kind": "KIND_CPU", "count": 1}]},
        {"instance_group": [{"kind": "KIND_CPU", "count": 3}]},
    ]


def test_empty_mapping_enables_message():
    assert expand({"dynamic_batching": {}}) == [{"dynamic_batching": {}}]


def test_map_field_sets_one_entry():
    parameters = {"parameters": {"MODE": {"string_value": ["a", "b"]}}}
    assert expand(parameters) == [
        {"parameters.MODE": {"string_value": "a"}},
        {"parameters.MODE": {"string_value": "b"}},
    ]


def test_unknown_field_named():
    with pytest.raises(ConfigError, match="unknown ModelDynamicBatching field 'delay'"):
        expand({"dynamic_batching": {"delay": [1]}})


def test_empty_list_rejected():
    with pytest.raises(ConfigError, match="max_batch_size is an empty list"):
        expand({"max_batch_size": []})


def test_nested_list_for_scalar_rejected():
    with pytest.raises(ConfigError, match="takes one value per variant"):
        expand({"max_batch_size": [[1, 2]]})


def test_variants_apply_to_example(example_repository):
    default = read_model_config(example_repository / "add_sub")
    parameters = {
        "dynamic_batching": {
            "max_queue_delay_microseconds": [100],
            "preferred_batch_size": [[2, 4]],
        },
        "instance_group": [{"kind": "KIND_CPU", "count": [2]}],
    }
    [pairs] = expand_parameters(parameters, "here")
    config = apply_settings(default, VariantSettings(extra=pairs), "KIND_CPU")
    assert config["dynamic_batching"] == {
        "max_queue_delay_microseconds": 100,
        "preferred_batch_size": [2, 4],
    }
    assert config["instance_group"] == [{"kind": "KIND_CPU", "count": 2}]
    assert config["max_batch_size"] == 8


def test_search_yields_default_then_combinations():
    search = ManualSearch("m", {"max_batch_size": [2, 4]})
    visited = list(search)
    assert visited[0] == VariantSettings()
    assert visited[1:] == [
        VariantSettings(extra=(("max_batch_size", 2),)),
        VariantSettings(extra=(("max_batch_size", 4),)),
    ]
    assert search.planned_settings() == visited


def test_search_without_parameters_measures_default():
    assert list(ManualSearch("m", {})) == [VariantSettings()]
