from pathlib import Path

import pytest

from analyzer_core.errors import ConfigError
from analyzer_core.triton.variants import (
    VariantSettings,
    apply_settings,
    config_identity,
    config_to_pbtxt,
    read_model_config,
    write_variant,
)


def test_read_example_config(example_repository):
    config = read_model_config(example_repository / "add_sub")
    assert config["name"] == "add_sub"
    assert config["max_batch_size"] == 8
    assert config["instance_group"] == [{"count": 1, "kind": "KIND_CPU"}]


def test_settings_change_only_their_fields(example_repository):
    default = read_model_config(example_repository / "add_sub")
    variant = apply_settings(default, VariantSettings(3, 16, True), "KIND_CPU")
    assert variant["instance_group"] == [{"count": 3, "kind": "KIND_CPU"}]
    assert variant["max_batch_size"] == 16
    assert variant["dynamic_batching"] == {}
    assert variant["input"] == default["input"]
    assert "dynamic_batching" not in default


def test_unknown_manual_parameter_rejected(example_repository):
    default = read_model_config(example_repository / "add_sub")
    settings = VariantSettings(extra=(("no_such_field", 1),))
    with pytest.raises(ConfigError, match="no_such_field"):
        apply_settings(default, settings, "KIND_CPU")


def test_pbtxt_round_trip(example_repository, tmp_path):
    default = read_model_config(example_repository / "add_sub")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.pbtxt").write_text(config_to_pbtxt(default))
    assert read_model_config(tmp_path / "m") == default


def test_identity_ignores_name(example_repository):
    default = read_model_config(example_repository / "add_sub")
    renamed = dict(default, name="add_sub_config_7")
    assert config_identity(default) == config_identity(renamed)


def test_invalid_pbtxt_names_file(tmp_path):
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "config.pbtxt").write_text("max_batch_size: lots\n")
    with pytest.raises(ConfigError, match="broken/config.pbtxt"):
        read_model_config(tmp_path / "broken")


def test_missing_config_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="has no config.pbtxt"):
        read_model_config(tmp_path / "empty")


def test_write_variant_links_versions(example_repository, tmp_path):
    default = read_model_config(example_repository / "add_sub")
    directory = write_variant(
        tmp_path, example_repository / "add_sub", "add_sub_config_0", default
    )
    written = read_model_config(directory)
    assert written["name"] == "add_sub_config_0"
    assert (directory / "1").is_symlink()
    assert (directory / "1" / "model.py").is_file()
    # Writing again is idempotent.
    write_variant(tmp_path, example_repository / "add_sub", "add_sub_config_0", default)
    assert (
        Path(directory / "1").resolve()
        == (example_repository / "add_sub" / "1").resolve()
    )
