"""config.pbtxt text of a variant's model configuration."""

from __future__ import annotations

import pytest

from analyzer_core.records import Variant
from analyzer_core.reports.pbtxt import ModelConfigError, config_pbtxt


def variant(config: dict) -> Variant:
    return Variant("add_sub_config_0", "add_sub", config)


def test_config_written_as_text():
    text = config_pbtxt(variant({"name": "add_sub", "max_batch_size": 8}))
    assert 'name: "add_sub"' in text
    assert "max_batch_size: 8" in text


@pytest.mark.parametrize(
    "config",
    [
        {"name": "add_sub", "unknown_key": 1},
        {"name": "add_sub", "max_batch_size": 10**30},
        {"name": "add_sub", "instance_group": [{"kind": float("inf")}]},
    ],
    ids=["unknown key", "out of range", "infinite enum"],
)
def test_invalid_config_names_variant(config):
    with pytest.raises(ModelConfigError, match="add_sub_config_0"):
        config_pbtxt(variant(config))
