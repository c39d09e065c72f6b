"""Property tests: a mutated checkpoint loads or raises CheckpointError naming it.

Hypothesis mutates a valid checkpoint of schema version 2, the current one,
and of version 1 at the byte level (truncation, flipped bits, inserted and
deleted runs) and at the JSON level (values replaced by any JSON value, keys
deleted or added, containers wrapped). No mutation may raise any exception
other than CheckpointError, and that error must name the file. Whatever loads
must also build the tables that the dashboard and reports show.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from checkpoint_helpers import sample_bytes, sample_data, version_1_bytes
from conftest import SHARED_FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer_core.checkpoints.schema import SCHEMA_VERSION
from analyzer_core.checkpoints.store import (
    load_checkpoint,
    read_checkpoint_file,
    save_checkpoint,
)
from analyzer_core.errors import CheckpointError
from analyzer_core.records import CheckpointData
from analyzer_core.results.tables import (
    gpu_table,
    inference_table,
    measurements_frame,
    server_only_table,
)
from analyzer_core.results.values import collected_tags, metric_value

VALID_BYTES = sample_bytes(measurement_count=3)
VALID_DOCUMENT = json.loads(VALID_BYTES)
VERSION_1_BYTES = version_1_bytes(measurement_count=3)
VERSION_1_DOCUMENT = json.loads(VERSION_1_BYTES)
MODEL_ANALYZER_CHECKPOINT = (
    SHARED_FIXTURES / "model-analyzer-single-model-ckpt" / "0.ckpt"
)

FUZZ_SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=10**300, max_value=10**320),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(["ok", "failed", "KIND_GPU", "", "1", "schema_version"]),
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(max_size=10), children, max_size=4),
    ),
    max_leaves=12,
)


@st.composite
def byte_mutations(draw: st.DrawFn, original: bytes = VALID_BYTES) -> bytes:
    """Apply one to four byte-level edits to ``original``."""
    content = bytearray(original)
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["truncate", "flip", "insert", "delete", "swap"]))
        position = draw(st.integers(0, max(len(content) - 1, 0)))
        if kind == "truncate":
            del content[position:]
        elif kind == "flip" and content:
            content[position] ^= 1 << draw(st.integers(0, 7))
        elif kind == "insert":
            content[position:position] = draw(st.binary(min_size=1, max_size=16))
        elif kind == "delete":
            del content[position : position + draw(st.integers(1, 64))]
        elif kind == "swap" and content:
            content[position] = draw(st.sampled_from(b'{}[]",:0123456789-.eE \\n'))
    return bytes(content)


def _containers(document: Any, path: tuple = ()) -> list[tuple]:
    """List the paths of every dict and list in ``document``."""
    found = []
    if isinstance(document, dict):
        found.append(path)
        for key, value in document.items():
            found += _containers(value, (*path, key))
    elif isinstance(document, list):
        found.append(path)
        for index, value in enumerate(document):
            found += _containers(value, (*path, index))
    return found


def _at(document: Any, path: tuple) -> Any:
    for step in path:
        document = document[step]
    return document


@st.composite
def structure_mutations(draw: st.DrawFn, original: Any = VALID_DOCUMENT) -> bytes:
    """Apply one to three JSON-level edits to a copy of ``original``."""
    document = json.loads(json.dumps(original))
    for _ in range(draw(st.integers(1, 3))):
        containers = _containers(document)
        if not containers:
            break
        container = _at(document, draw(st.sampled_from(containers)))
        _mutate(draw, container)
    if draw(st.booleans()) and isinstance(document, dict):
        document = draw(st.sampled_from([[document], {"checkpoint": document}]))
    return json.dumps(document, allow_nan=True).encode()


def _mutate(draw: st.DrawFn, container: dict | list) -> None:
    keys = (
        list(container) if isinstance(container, dict) else list(range(len(container)))
    )
    kind = draw(st.sampled_from(["replace", "delete", "add", "wrap"]))
    if kind == "add" or not keys:
        if isinstance(container, dict):
            container[draw(st.text(max_size=10))] = draw(json_values)
        else:
            container.append(draw(json_values))
        return
    key = draw(st.sampled_from(keys))
    if kind == "replace":
        container[key] = draw(json_values)
    elif kind == "delete":
        del container[key]
    else:
        container[key] = [container[key]]


# Values that break naive validation: huge integers overflow float(), NaN and
# infinity pass isinstance(value, float), and containers replace scalars.
BAD_VALUES = [
    None,
    True,
    "text",
    -1,
    0,
    1.5,
    10**400,
    float("nan"),
    float("inf"),
    [],
    {},
    [1],
    {"a": 1},
]


def _leaf_paths(document: Any, path: tuple = ()) -> list[tuple]:
    """List the path of every value below the top level of ``document``."""
    found = [path] if path else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += _leaf_paths(value, (*path, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _leaf_paths(value, (*path, index))
    return found


def _every_single_edit(original: bytes) -> list[tuple[str, bytes]]:
    """Each field of a valid checkpoint replaced by each bad value, or deleted."""
    edits = []
    for path in _leaf_paths(json.loads(original)):
        for value in [*BAD_VALUES, "delete"]:
            document = json.loads(original)
            parent = _at(document, path[:-1])
            if value == "delete":
                del parent[path[-1]]
            else:
                parent[path[-1]] = value
            label = f"{'.'.join(map(str, path))}={value!r:.20}"
            edits.append((label, json.dumps(document, allow_nan=True).encode()))
    return edits


@pytest.fixture(scope="module")
def fuzz_directory(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def assert_loads_or_names_file(path: Path, content: bytes) -> CheckpointData | None:
    path.write_bytes(content)
    try:
        data = read_checkpoint_file(path)
    except CheckpointError as error:
        assert str(path) in str(error)
        return None
    assert_tables_build(data)
    return data


def assert_tables_build(data: CheckpointData) -> None:
    """Read loaded data the way the dashboard's tables and the reports do."""
    measurements_frame(data)
    inference_table(data)
    gpu_table(data)
    server_only_table(data)
    tags = collected_tags(data)
    for measurement in data.measurements:
        for tag in tags:
            metric_value(measurement, tag)
    for variant in data.variants.values():
        variant.describe()


def test_samples_cover_both_versions():
    assert VALID_DOCUMENT["schema_version"] == SCHEMA_VERSION == 2
    assert VERSION_1_DOCUMENT["schema_version"] == 1


@pytest.mark.parametrize("original", [VALID_BYTES, VERSION_1_BYTES], ids=["v2", "v1"])
def test_every_single_field_edit(fuzz_directory, original):
    edits = _every_single_edit(original)
    for label, content in edits:
        try:
            assert_loads_or_names_file(fuzz_directory / "0.ckpt", content)
        except AssertionError:
            raise
        except Exception as error:
            raise AssertionError(f"{label}: {type(error).__name__}: {error}") from error
    assert len(edits) > 500


@settings(FUZZ_SETTINGS, max_examples=2000)
@given(content=byte_mutations())
def test_byte_mutations(fuzz_directory, content):
    assert_loads_or_names_file(fuzz_directory / "0.ckpt", content)


@settings(FUZZ_SETTINGS, max_examples=1500)
@given(content=structure_mutations())
def test_structure_mutations(fuzz_directory, content):
    assert_loads_or_names_file(fuzz_directory / "0.ckpt", content)


@settings(FUZZ_SETTINGS, max_examples=500)
@given(content=byte_mutations(VERSION_1_BYTES))
def test_version_1_byte_mutations(fuzz_directory, content):
    assert_loads_or_names_file(fuzz_directory / "0.ckpt", content)


@settings(FUZZ_SETTINGS, max_examples=800)
@given(content=structure_mutations(VERSION_1_DOCUMENT))
def test_version_1_structure_mutations(fuzz_directory, content):
    assert_loads_or_names_file(fuzz_directory / "0.ckpt", content)


@settings(FUZZ_SETTINGS, max_examples=600)
@given(content=st.one_of(byte_mutations(), structure_mutations()))
def test_loaded_mutation_saves_again(fuzz_directory, content):
    """Whatever loads can be saved and loads again to the same document."""
    data = assert_loads_or_names_file(fuzz_directory / "0.ckpt", content)
    if data is None:
        return
    path = save_checkpoint(fuzz_directory, 1, data)
    again = read_checkpoint_file(path)
    expected = json.dumps(data.to_json(), allow_nan=True)
    assert json.dumps(again.to_json(), allow_nan=True) == expected


@settings(FUZZ_SETTINGS, max_examples=300)
@given(content=st.one_of(byte_mutations(), structure_mutations()))
def test_mutated_latest_offers_valid_index(tmp_path_factory, content):
    directory = tmp_path_factory.mktemp("latest")
    save_checkpoint(directory, 0, sample_data())
    (directory / "1.ckpt").write_bytes(content)
    try:
        loaded = load_checkpoint(directory)
    except CheckpointError as error:
        assert str(directory / "1.ckpt") in str(error)
        assert "--checkpoint-index 0" in str(error)
        return
    assert loaded.index == 1


@pytest.mark.skipif(
    not MODEL_ANALYZER_CHECKPOINT.is_file(),
    reason=f"Model Analyzer fixture missing: {MODEL_ANALYZER_CHECKPOINT}",
)
@settings(FUZZ_SETTINGS, max_examples=100)
@given(data=st.data())
def test_model_analyzer_mutations(fuzz_directory, data):
    original = json.loads(MODEL_ANALYZER_CHECKPOINT.read_bytes())
    content = data.draw(structure_mutations(original))
    assert_loads_or_names_file(fuzz_directory / "0.ckpt", content)
