"""Command lines for profile runs against the stand-in Triton and perf_analyzer.

The example model ``add_sub`` (max_batch_size 8) with these limits gives three
variants (the default config and max batch size 1 and 2 at one instance), each
measured at the given concurrency values.
"""

from __future__ import annotations

from pathlib import Path

from fakes.stand_in_server import STAND_IN_PERF_ANALYZER

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
EXAMPLE_REPOSITORY = REPOSITORY_ROOT / "examples" / "model_repository"


def profile_arguments(
    workdir: Path,
    concurrency: str = "1,2",
    max_model_batch_size: int = 2,
    perf_analyzer: Path | None = STAND_IN_PERF_ANALYZER,
) -> list[str]:
    """Return ``profile`` arguments that keep every file under ``workdir``.

    Checkpoints go to ``workdir/checkpoints``, logs and variants to
    ``workdir/export`` and the status file to ``workdir/status.json``.
    """
    arguments = [
        "profile",
        "--model-repository", str(EXAMPLE_REPOSITORY),
        "--profile-models", "add_sub",
        "--checkpoint-directory", str(workdir / "checkpoints"),
        "--export-path", str(workdir / "export"),
        "--status-file", str(workdir / "status.json"),
        "--concurrency", concurrency,
        "--run-config-search-max-instance-count", "1",
        "--run-config-search-max-model-batch-size", str(max_model_batch_size),
        "--no-early-exit",
    ]  # fmt: skip
    if perf_analyzer is not None:
        arguments += ["--perf-analyzer-path", str(perf_analyzer)]
    return arguments
