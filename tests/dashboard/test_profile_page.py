"""AppTest tests of the Profile page, with a stand-in for the profile command."""

from __future__ import annotations

import time
from pathlib import Path

from dashboard_fixtures import (  # noqa: F401
    open_page,
    save,
    small_checkpoint,
    stand_in_profile_fixture,
    texts,
    working_folder_fixture,
)

from analyzer_core import jobs
from analyzer_core.access import BUNDLED_MODEL_REPOSITORY
from analyzer_core.config import list_repository_models


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
    assert f"python {job.record.command[1]}" in texts(second.code)
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
