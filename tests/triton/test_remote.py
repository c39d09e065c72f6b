"""Remote mode against a tritonserver this test starts itself on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import EXAMPLE_REPOSITORY, run_cli

from analyzer_core.checkpoints.store import read_checkpoint_file
from analyzer_core.errors import ConfigError, ServerError
from analyzer_core.triton.server import (
    LaunchMode,
    LocalTritonServer,
    RemoteTritonServer,
    TritonSettings,
    create_server,
)

pytestmark = pytest.mark.slow

QUICK = [
    "--profile-models", "add_sub",
    "--run-config-search-max-concurrency", "2",
    "--run-config-search-max-instance-count", "1",
    "--run-config-search-max-model-batch-size", "1",
    "--measurement-interval", "300",
    "--perf-analyzer-flags=--stability-percentage=50",
]  # fmt: skip


class PollingTritonServer(LocalTritonServer):
    """A Triton that polls its repository, so it rejects model control."""

    def command(self) -> list[str]:
        return [
            "--model-control-mode=poll"
            if argument.startswith("--model-control-mode")
            else argument
            for argument in super().command()
        ]


@pytest.fixture(scope="module")
def remote(tmp_path_factory):
    """A running Triton in explicit mode whose repository is ``repository``."""
    workdir = tmp_path_factory.mktemp("remote")
    repository = workdir / "output_model_repository"
    repository.mkdir()
    server = LocalTritonServer(repository, workdir / "tritonserver.log")
    server.start(timeout=180)
    yield server, workdir, repository
    server.stop()


def remote_flags(server: LocalTritonServer) -> list[str]:
    return [
        "--triton-launch-mode=remote",
        f"--triton-grpc-endpoint={server.endpoints.grpc_url}",
        f"--triton-metrics-url={server.endpoints.metrics_url}",
    ]


@pytest.fixture(scope="module")
def remote_run(remote):
    server, workdir, repository = remote
    finished = run_cli(
        "profile",
        "-m", str(EXAMPLE_REPOSITORY),
        *QUICK,
        *remote_flags(server),
        f"--output-model-repository-path={repository}",
        cwd=workdir,
    )  # fmt: skip
    return finished


def test_remote_run_exits_zero(remote_run):
    assert remote_run.returncode == 0, remote_run.stderr[-3000:]


def test_remote_run_measures_both_variants(remote, remote_run):
    _, workdir, _ = remote
    data = read_checkpoint_file(workdir / "checkpoints" / "0.ckpt")
    keys = {(m.variant, m.concurrency) for m in data.measurements}
    variants = {"add_sub_config_default", "add_sub_config_0"}
    assert keys == {(v, c) for v in variants for c in (1, 2)}


def test_remote_run_has_server_metrics(remote, remote_run):
    _, workdir, _ = remote
    data = read_checkpoint_file(workdir / "checkpoints" / "0.ckpt")
    for measurement in data.measurements:
        assert measurement.metrics["cpu_used_ram"] > 0
        assert "triton_rss" not in measurement.metrics


def test_remote_server_keeps_running(remote, remote_run):
    server, _, _ = remote
    assert server.is_ready()
    assert server.process.poll() is None


def test_remote_variants_unloaded(remote, remote_run):
    server, _, _ = remote
    index = server.client.get_model_repository_index(as_json=True)
    states = {model["name"]: model.get("state") for model in index["models"]}
    assert set(states) == {"add_sub_config_default", "add_sub_config_0"}
    assert "READY" not in states.values()


def test_remote_run_logs_server(remote_run):
    assert "Using remote Triton Inference Server 2.51.0" in remote_run.stderr


def test_unseen_repository_rejected(remote, tmp_path):
    server, _, _ = remote
    finished = run_cli(
        "profile",
        "-m", str(EXAMPLE_REPOSITORY),
        *QUICK,
        "--profile-models", "dense_mlp",
        *remote_flags(server),
        f"--output-model-repository-path={tmp_path / 'elsewhere'}",
        cwd=tmp_path,
    )  # fmt: skip
    assert finished.returncode == 2
    assert "does not list variant 'dense_mlp_config_default'" in finished.stderr


def test_polling_server_rejected(tmp_path):
    server = PollingTritonServer(tmp_path, tmp_path / "triton.log")
    server.start(timeout=180)
    try:
        remote = RemoteTritonServer(
            server.endpoints.grpc_url, server.endpoints.metrics_url, tmp_path
        )
        with pytest.raises(ConfigError, match="--model-control-mode=explicit"):
            remote.start(timeout=10)
        remote.stop()
    finally:
        server.stop()


def test_unreachable_remote_times_out():
    remote = RemoteTritonServer("127.0.0.1:1", "http://127.0.0.1:1/metrics", Path())
    with pytest.raises(ServerError, match="is not ready after 1 s"):
        remote.start(timeout=1)


def test_create_server_picks_mode(tmp_path):
    settings = TritonSettings(launch_mode=LaunchMode.REMOTE)
    server = create_server(settings, tmp_path, tmp_path / "log")
    assert isinstance(server, RemoteTritonServer)
    assert server.endpoints.grpc_url == "localhost:8001"
    assert server.pid is None
