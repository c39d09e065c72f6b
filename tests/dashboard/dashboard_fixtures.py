"""Fixtures and helpers for the dashboard tests, imported by each test module.

They live outside a ``conftest.py`` because test modules elsewhere import
``conftest`` by name, which a second ``conftest.py`` here would shadow. Test
modules import the ``*_fixture`` functions, and pytest finds them by the
fixture names ``working_folder`` and ``stand_in_profile``.

``AppTest`` runs the page scripts in this process without a browser or server.
Each test gets its own working folder (the current directory), as if
``streamlit run dashboard/app.py`` had been started there.
"""

from __future__ import annotations

import os
import signal
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from analyzer_core import jobs
from analyzer_core.access import ALLOWED_ROOTS_VARIABLE
from analyzer_core.checkpoints.store import save_checkpoint
from analyzer_core.records import CheckpointData
from analyzer_core.results.synthetic import synthetic_checkpoint

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
# The first run imports plotly and pandas, and the Reports page renders charts.
RUN_TIMEOUT_SECONDS = 180

# A stand-in for ``analyzer_core profile``: it reports RUNNING, writes a line
# per SIGINT to the file in argv[1], reports STOPPING after the first and
# STOPPED (then exits) after the third.
STAND_IN_PROFILE = textwrap.dedent(
    """
    import signal, sys, time
    from pathlib import Path
    from analyzer_core.progress import JobState, JobStatus, write_status

    signals_file, status_file = Path(sys.argv[1]), Path(sys.argv[2])
    status = JobStatus(
        state=JobState.RUNNING, planned=8, done=3, model="add_sub",
        variant="add_sub_config_1", concurrency=4, batch_size=1,
    )
    received = 0

    def on_sigint(number, frame):
        global received
        received += 1
        with open(signals_file, "a") as handle:
            handle.write("SIGINT\\n")

    signal.signal(signal.SIGINT, on_sigint)
    write_status(status_file, status)
    print("stand-in profile running", flush=True)
    deadline = time.time() + 60
    seen = 0
    while received < 3 and time.time() < deadline:
        if received != seen:
            seen = received
            status.state = JobState.STOPPING
            write_status(status_file, status)
        time.sleep(0.02)
    status.state = JobState.STOPPED
    status.message = "Stopped on request."
    write_status(status_file, status)
    print(f"stand-in profile stopped after {received} SIGINTs", flush=True)
    """
)


@pytest.fixture(name="working_folder")
def working_folder_fixture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Make an empty folder the current directory; end its jobs afterwards."""
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    monkeypatch.delenv(ALLOWED_ROOTS_VARIABLE, raising=False)
    yield folder
    for job in jobs.list_jobs(folder):
        if job.is_alive():
            os.kill(job.record.pid, signal.SIGKILL)


@pytest.fixture(name="stand_in_profile")
def stand_in_profile_fixture(
    working_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """Replace the profile command with the stand-in; return its SIGINT file."""
    script = working_folder.parent / "stand_in_profile.py"
    script.write_text(STAND_IN_PROFILE)
    signals_file = working_folder.parent / "signals.txt"

    def command(request: jobs.ProfileRequest, status_file: Path) -> list[str]:
        return [sys.executable, str(script), str(signals_file), str(status_file)]

    monkeypatch.setattr(jobs, "profile_command", command)
    return signals_file


def save(folder: Path, index: int, data: CheckpointData) -> Path:
    return save_checkpoint(folder / "checkpoints", index, data)


def small_checkpoint(models: dict[str, int] | None = None, seed: int = 0):
    """Build a synthetic checkpoint at concurrency 1, 2 and 4."""
    return synthetic_checkpoint(
        models or {"add_sub": 2}, concurrencies=(1, 2, 4), seed=seed
    )


def open_page(page: str | None = None) -> AppTest:
    """Run the app on ``page`` (a file name under dashboard/views) and return it."""
    app = AppTest.from_file(str(APP), default_timeout=RUN_TIMEOUT_SECONDS)
    if page is not None:
        app.switch_page(f"views/{page}.py")
    return app.run()


def choose_directory(app: AppTest, text: str) -> AppTest:
    """Type ``text`` into the sidebar's checkpoint directory input and rerun.

    The input is set through session state because AppTest leaves the entry
    script's sidebar out of its element tree after ``switch_page``.
    """
    app.session_state["checkpoint_directory"] = text
    return app.run()


def texts(elements) -> str:
    """Join the values of markdown-like elements (errors, infos, captions)."""
    return "\n".join(str(element.value) for element in elements)


def selectbox_by_label(app, label: str):
    """Return the page's selectbox with ``label``; checkpoint selectors are keyed
    by their directory, so tests find them by label."""
    [box] = [box for box in app.selectbox if box.label == label]
    return box
