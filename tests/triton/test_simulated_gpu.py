"""The bundled ``simulated_gpu`` example on the real Triton: it answers, and its
instances take turns on the one simulated device."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import tritonclient.grpc as grpcclient
from conftest import EXAMPLE_REPOSITORY

from analyzer_core.triton.server import LocalTritonServer

pytestmark = pytest.mark.slow

# The model's launch time plus one row plus its max batch size of 4 slots.
DEVICE_SECONDS = 0.008 + 0.001 + 4 * 0.0002


@pytest.fixture
def server(tmp_path: Path):
    """Triton serving a copy of simulated_gpu with two instances."""
    repository = tmp_path / "repository"
    model = repository / "simulated_gpu"
    shutil.copytree(EXAMPLE_REPOSITORY / "simulated_gpu", model)
    config = model / "config.pbtxt"
    config.write_text(config.read_text().replace("count: 1", "count: 2"))
    server = LocalTritonServer(repository, tmp_path / "tritonserver.log")
    server.start(timeout=180)
    try:
        server.load_model("simulated_gpu")
        yield server
    finally:
        server.stop()


def infer(url: str, rows: np.ndarray) -> np.ndarray:
    client = grpcclient.InferenceServerClient(url)
    tensor = grpcclient.InferInput("INPUT", list(rows.shape), "FP32")
    tensor.set_data_from_numpy(rows)
    result = client.infer("simulated_gpu", [tensor])
    return result.as_numpy("OUTPUT")


def test_output_is_input_doubled(server):
    rows = np.arange(32, dtype=np.float32).reshape(2, 16)

    assert np.array_equal(infer(server.endpoints.grpc_url, rows), rows * 2)


def test_instances_share_one_device(server):
    url = server.endpoints.grpc_url
    rows = np.ones((1, 16), dtype=np.float32)
    infer(url, rows)

    # Two requests at once land on the two instances, which hold the device
    # one after the other. On separate devices they would take one device time.
    started = time.monotonic()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda _: infer(url, rows), range(2)))
    elapsed = time.monotonic() - started

    assert elapsed >= 2 * DEVICE_SECONDS
