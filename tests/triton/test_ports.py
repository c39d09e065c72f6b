"""Port choice of a local Triton, checked before tritonserver starts."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from analyzer_core.errors import ServerError
from analyzer_core.triton import server
from analyzer_core.triton.server import LocalTritonServer


def unused_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_shared_port_rejected(tmp_path: Path) -> None:
    port = unused_port()
    with pytest.raises(ServerError) as caught:
        LocalTritonServer(
            tmp_path, tmp_path / "triton.log", http_port=port, metrics_port=port
        )
    message = str(caught.value)
    assert message.startswith(f"Triton endpoints share a port (HTTP {port}, metrics")
    assert "give each endpoint its own port" in message


def test_unset_ports_avoid_requested_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested = unused_port()
    # free_port returns the requested port first, then the same port twice, as
    # the kernel may when no port is bound in between.
    offered = iter([requested, 40001, 40001, 40002])
    monkeypatch.setattr(server, "free_port", lambda: next(offered))

    local = LocalTritonServer(tmp_path, tmp_path / "triton.log", grpc_port=requested)

    assert local.ports == {"http": 40001, "grpc": requested, "metrics": 40002}
