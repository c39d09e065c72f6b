"""AppTest tests of the Profile page, with a stand-in for the profile command."""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_fixtures import (  # noqa: F401
    choose_directory,
    open_page,
    save,
    small_checkpoint,
    stand_in_profile_fixture,
    texts,
    working_folder_fixture,
)

from analyzer_core import jobs
from analyzer_core.access import ALLOWED_ROOTS_VARIABLE, BUNDLED_MODEL_REPOSITORY
from analyzer_core.config import list_repository_models
from analyzer_core.progress import JobState, JobStatus, write_status

# Takes the lock on the checkpoint directory in argv[1] as a command-line
# profile run does, reports it on stdout, then waits until killed.
LOCK_HOLDER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from analyzer_core.checkpoints.lock import CheckpointLock

    CheckpointLock(Path(sys.argv[1])).acquire()
    print("locked", flush=True)
    time.sleep(120)
    """
)


def wait_until(condition, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"condition not met within {timeout} s")


def button(app, label: str):
    return next(item for item in app.button if item.label == label)


def signal_count(signals_file: Path) -> int:
    if not signals_file.exists():
        return 0
    return len(signals_file.read_text().splitlines())


def test_navigation_lists_four_pages(working_folder: Path) -> None:
    for page in ("profile", "results", "reports", "compare"):
        app = open_page(page)

        assert not app.exception, page
        assert app.title[0].value == page.capitalize()


def test_bundled_example_preselected(working_folder: Path) -> None:
    app = open_page()

    repository = app.text_input(key="model_repository").value
    assert Path(repository) == BUNDLED_MODEL_REPOSITORY
    models = app.multiselect[0].value
    assert models == list_repository_models(BUNDLED_MODEL_REPOSITORY)
    assert "add_sub" in models
    assert not button(app, "Start").disabled
    assert button(app, "Stop").disabled
    assert button(app, "Stop now").disabled
    assert "No profiling job has run" in texts(app.info)


def test_repository_outside_roots_rejected(working_folder: Path) -> None:
    app = open_page()

    app.text_input(key="model_repository").set_value("/etc").run()

    assert not app.exception
    assert "outside the allowed roots" in texts(app.error)
    assert button(app, "Start").disabled


def test_roots_without_example_preselect_first_root(
    working_folder: Path, monkeypatch
) -> None:
    models = working_folder / "models"
    shutil.copytree(BUNDLED_MODEL_REPOSITORY / "add_sub", models / "add_sub")
    monkeypatch.setenv(ALLOWED_ROOTS_VARIABLE, f"{models}{os.pathsep}{working_folder}")

    app = open_page()

    assert texts(app.error) == ""
    assert app.text_input(key="model_repository").value == "models"
    assert app.multiselect[0].value == ["add_sub"]


def test_repository_dot_dot_rejected(working_folder: Path) -> None:
    app = open_page()

    app.text_input(key="model_repository").set_value("../..").run()

    assert "outside the allowed roots" in texts(app.error)


def test_repository_without_models(working_folder: Path) -> None:
    (working_folder / "empty_repository").mkdir()
    app = open_page()

    app.text_input(key="model_repository").set_value("empty_repository").run()

    assert "holds no model" in texts(app.error)
    assert button(app, "Start").disabled


def test_checkpoint_directory_outside_rejected(working_folder: Path) -> None:
    app = open_page()

    app.sidebar.text_input[0].set_value("/tmp").run()

    assert "Checkpoint directory /tmp" in texts(app.error)
    assert not app.button


def test_no_model_selected_disables_start(working_folder: Path) -> None:
    app = open_page()

    app.multiselect[0].set_value([]).run()

    assert button(app, "Start").disabled
    assert "Select at least one model" in texts(app.caption)


def test_start_stop_and_stop_now(working_folder: Path, stand_in_profile: Path) -> None:
    app = open_page()

    button(app, "Start").click().run()
    job = jobs.current_job(working_folder)
    assert job is not None
    wait_until(lambda: job.status_path.exists())
    app.run()

    assert "Running" in texts(app.markdown)
    assert "Now measuring model add_sub, variant add_sub_config_1" in texts(app.caption)
    assert button(app, "Start").disabled
    assert not button(app, "Stop").disabled

    button(app, "Stop").click().run()
    wait_until(lambda: signal_count(stand_in_profile) == 1)
    assert "Stopping after the current run" in texts(app.markdown)

    button(app, "Stop now").click().run()
    wait_until(lambda: not job.is_alive())
    app.run()

    assert signal_count(stand_in_profile) == jobs.STOP_NOW_SIGNAL_COUNT
    assert "Stopped" in texts(app.markdown)
    assert "Stopped on request." in texts(app.warning)
    assert "stopped after 3 SIGINTs" in texts(app.code)
    assert not button(app, "Start").disabled


def test_start_builds_profile_request(
    working_folder: Path, stand_in_profile: Path, monkeypatch
) -> None:
    requests: list[jobs.ProfileRequest] = []
    stand_in = jobs.profile_command

    def record(request: jobs.ProfileRequest, status_file: Path) -> list[str]:
        requests.append(request)
        return stand_in(request, status_file)

    monkeypatch.setattr(jobs, "profile_command", record)
    app = open_page()
    app.number_input(key="profile_max_concurrency").set_value(4)
    app.number_input(key="profile_max_instance_count").set_value(2)
    app.number_input(key="profile_max_model_batch_size").set_value(8)
    app.number_input(key="profile_measurement_interval_ms").set_value(500)
    app.radio(key="profile_search_mode").set_value("quick")
    app.multiselect[0].set_value(["add_sub"])

    button(app, "Start").click().run()

    request = requests[0]
    assert request.models == ["add_sub"]
    assert request.model_repository == BUNDLED_MODEL_REPOSITORY
    assert request.checkpoint_directory == working_folder.resolve() / "checkpoints"
    assert request.max_concurrency == 4
    assert request.max_instance_count == 2
    assert request.max_model_batch_size == 8
    assert request.measurement_interval_ms == 500
    assert request.search_mode == "quick"
    assert request.checkpoint_index is None


def test_running_job_seen_by_new_session(
    working_folder: Path, stand_in_profile: Path
) -> None:
    first = open_page()
    button(first, "Start").click().run()
    job = jobs.current_job(working_folder)
    wait_until(lambda: job.status_path.exists())

    second = open_page()

    assert button(second, "Start").disabled
    assert job.record.job_id in texts(second.markdown)
    interpreter, script = job.record.command[:2]
    assert f"{shlex.quote(interpreter)} {shlex.quote(script)}" in texts(second.code)
    assert len(jobs.list_jobs(working_folder)) == 1


def test_dead_job_shows_failed(working_folder: Path, stand_in_profile: Path) -> None:
    app = open_page()
    button(app, "Start").click().run()
    job = jobs.current_job(working_folder)
    wait_until(lambda: job.status_path.exists())

    job.record.process_created_at = None
    jobs._CHILDREN[job.record.pid].kill()
    wait_until(lambda: not job.is_alive())
    app.run()

    assert "Failed" in texts(app.markdown)
    assert "without recording a final state" in texts(app.error)
    assert "stand-in profile running" in texts(app.code)
    assert not button(app, "Start").disabled


def test_damaged_latest_checkpoint_shown(
    working_folder: Path, stand_in_profile: Path, monkeypatch
) -> None:
    save(working_folder, 0, small_checkpoint())
    (working_folder / "checkpoints" / "1.ckpt").write_text("{")
    requests: list[jobs.ProfileRequest] = []
    stand_in = jobs.profile_command

    def record(request: jobs.ProfileRequest, status_file: Path) -> list[str]:
        requests.append(request)
        return stand_in(request, status_file)

    monkeypatch.setattr(jobs, "profile_command", record)
    app = open_page()

    assert "not valid JSON" in texts(app.error)
    assert "Choose an older checkpoint" in texts(app.error)
    start_from = app.selectbox(key="profile_start_from")
    assert start_from.options[1].endswith("damaged")

    start_from.set_value(0).run()
    button(app, "Start").click().run()

    assert requests[0].checkpoint_index == 0


@pytest.fixture
def lock_holder(working_folder: Path) -> Iterator[subprocess.Popen]:
    """A process outside the dashboard that holds the lock on ``checkpoints``."""
    process = subprocess.Popen(
        [sys.executable, "-c", LOCK_HOLDER, str(working_folder / "checkpoints")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline() == "locked\n"
        yield process
    finally:
        process.kill()
        process.wait(timeout=10)
        process.stdout.close()


def test_lock_held_elsewhere_disables_start(
    working_folder: Path, lock_holder: subprocess.Popen
) -> None:
    app = open_page()

    assert not app.exception
    assert button(app, "Start").disabled
    error = texts(app.error)
    assert f"pid {lock_holder.pid} on host {socket.gethostname()}" in error
    assert "holds the lock on `checkpoints`" in error
    assert "Ctrl-C" in error
    assert "No profiling job has run" not in texts(app.info)


def test_start_enabled_after_lock_released(
    working_folder: Path, lock_holder: subprocess.Popen
) -> None:
    app = open_page()
    assert button(app, "Start").disabled

    lock_holder.kill()
    lock_holder.wait(timeout=10)
    app.run()

    assert not button(app, "Start").disabled
    assert "holds the lock" not in texts(app.error)


def progress_texts(app) -> list[str]:
    return [element.proto.text for element in app.get("progress")]


def start_and_wait_for_exit(working_folder: Path):
    """Click Start, wait until the job's process exits, and rerun the page."""
    app = open_page()
    button(app, "Start").click().run()
    job = jobs.current_job(working_folder)
    wait_until(lambda: not job.is_alive())
    return app.run()


def test_job_failed_before_status_has_no_progress(
    working_folder: Path, monkeypatch
) -> None:
    def exits_at_once(request: jobs.ProfileRequest, status_file: Path) -> list[str]:
        return [sys.executable, "-c", "raise SystemExit(3)"]

    monkeypatch.setattr(jobs, "profile_command", exits_at_once)
    app = start_and_wait_for_exit(working_folder)

    assert "Failed" in texts(app.markdown)
    assert "ended before it wrote its status" in texts(app.error)
    assert progress_texts(app) == []


def test_job_failed_while_planning_has_no_progress(
    working_folder: Path, monkeypatch
) -> None:
    def fails_in_planning(request: jobs.ProfileRequest, status_file: Path) -> list[str]:
        status = JobStatus(state=JobState.FAILED, message="Planning failed here.")
        write_status(status_file, status)
        return [sys.executable, "-c", "pass"]

    monkeypatch.setattr(jobs, "profile_command", fails_in_planning)
    app = start_and_wait_for_exit(working_folder)

    assert "Failed" in texts(app.markdown)
    assert "Planning failed here." in texts(app.error)
    assert progress_texts(app) == []


def test_running_job_before_planning_shows_progress(
    working_folder: Path, monkeypatch
) -> None:
    def plans_slowly(request: jobs.ProfileRequest, status_file: Path) -> list[str]:
        write_status(status_file, JobStatus(state=JobState.RUNNING))
        return [sys.executable, "-c", "import time; time.sleep(60)"]

    monkeypatch.setattr(jobs, "profile_command", plans_slowly)
    app = open_page()
    button(app, "Start").click().run()

    assert progress_texts(app) == ["Planning the measurements"]


@pytest.mark.parametrize("page", ["profile", "results", "reports", "compare"])
def test_checkpoint_directory_file_rejected(working_folder: Path, page: str) -> None:
    (working_folder / "README.md").write_text("not a directory")
    app = open_page(page)

    choose_directory(app, "README.md")

    assert not app.exception
    error = texts(app.error)
    assert "Checkpoint directory README.md is a file, not a directory" in error
    assert "Choose a directory in the sidebar" in error
    assert "No checkpoint in" not in texts(app.info)
    assert "No profiling job has run" not in texts(app.info)
    assert not [item for item in app.button if item.label == "Start"]


def test_checkpoint_directory_under_file_rejected(working_folder: Path) -> None:
    (working_folder / "README.md").write_text("not a directory")
    app = open_page()

    choose_directory(app, "README.md/checkpoints")

    error = texts(app.error)
    assert "Checkpoint directory README.md/checkpoints is inside README.md" in error
    assert "which is a file, not a directory" in error
    assert not [item for item in app.button if item.label == "Start"]


def test_missing_checkpoint_directory_accepted(working_folder: Path) -> None:
    app = open_page()

    choose_directory(app, "new/checkpoints")

    assert not texts(app.error)
    assert not button(app, "Start").disabled
