"""Profile page: choose models and sweep limits, start and stop a profiling job.

The job runs as ``python -m analyzer_core profile`` in its own process (see
``analyzer_core.jobs``), so it keeps going when the browser tab closes.
"""

from __future__ import annotations

import logging
from pathlib import Path

import streamlit as st

from analyzer_core import jobs
from analyzer_core.access import BUNDLED_MODEL_REPOSITORY, resolve_existing_directory
from analyzer_core.checkpoints import lock
from analyzer_core.checkpoints.store import LOCK_FILE_NAME, list_checkpoints
from analyzer_core.config import list_repository_models
from analyzer_core.errors import AnalyzerError, CheckpointError
from analyzer_core.progress import JobState
from dashboard import shared

logger = logging.getLogger(__name__)

ERROR_KEY = "profile_error"
LOG_LINES = 20
STATE_LABELS = {
    JobState.STARTING: ":blue-badge[Starting]",
    JobState.RUNNING: ":blue-badge[Running]",
    JobState.STOPPING: ":orange-badge[Stopping after the current run]",
    JobState.STOPPING_NOW: ":orange-badge[Stopping now]",
    JobState.FINISHED: ":green-badge[Finished]",
    JobState.STOPPED: ":gray-badge[Stopped]",
    JobState.FAILED: ":red-badge[Failed]",
}
LATEST_CHECKPOINT = "latest"
STOP_HELP = "Let the current perf_analyzer run finish, then save and exit."
STOP_NOW_HELP = "Save a checkpoint and end Triton and perf_analyzer at once."


def default_repository() -> Path:
    """Return the bundled example, or the first allowed root when
    ANALYZER_ALLOWED_ROOTS leaves the example out."""
    allowed = shared.roots()
    if any(BUNDLED_MODEL_REPOSITORY.is_relative_to(root) for root in allowed):
        return BUNDLED_MODEL_REPOSITORY
    return allowed[0]


def draw_repository() -> tuple[Path, list[str]] | None:
    """Draw the repository input and model list.

    Returns the resolved repository and the chosen models, or None for an
    invalid repository.
    """
    st.text_input(
        "Model repository",
        value=shared.show_path(default_repository()),
        key="model_repository",
        persist_state="session",
        help="Triton model repository: one folder per model with a config.pbtxt. "
        "The bundled example is preselected.",
    )
    try:
        repository = resolve_existing_directory(
            st.session_state.model_repository,
            shared.working_folder(),
            shared.roots(),
            "Model repository",
        )
    except AnalyzerError as error:
        st.error(str(error))
        return None

    available = list_repository_models(repository)
    if not available:
        st.error(
            f"Model repository {repository} holds no model: no sub-folder has a "
            "config.pbtxt. Choose another repository."
        )
        return None

    models = st.multiselect(
        "Models",
        available,
        default=available,
        key=f"models:{repository}",
        persist_state="session",
        help="Models to profile, one after the other.",
    )
    return repository, models


def draw_limits() -> dict[str, int | str | None]:
    """Draw the sweep limits, small enough by default for a first run of minutes.

    The profile command's own defaults (1024, 5 and 128) suit a long run.
    """
    columns = st.columns(4)
    limits = {
        "max_concurrency": columns[0].number_input(
            "Max concurrency",
            min_value=1,
            value=8,
            help="Highest concurrency of the 1, 2, 4, … sweep per variant "
            "(the command line's default is 1024).",
            key="profile_max_concurrency",
            persist_state="session",
        ),
        "max_instance_count": columns[1].number_input(
            "Max instance count",
            min_value=1,
            value=2,
            help="Highest number of model instances a variant gets "
            "(the command line's default is 5).",
            key="profile_max_instance_count",
            persist_state="session",
        ),
        "max_model_batch_size": columns[2].number_input(
            "Max model batch size",
            min_value=1,
            value=8,
            help="Highest max_batch_size of a variant, in powers of two "
            "(the command line's default is 128).",
            key="profile_max_model_batch_size",
            persist_state="session",
        ),
        "measurement_interval_ms": columns[3].number_input(
            "Measurement interval (ms)",
            min_value=100,
            value=None,
            step=500,
            placeholder="count windows",
            help="Time window of each perf_analyzer measurement, in milliseconds. "
            "Empty: windows of 50 requests each.",
            key="profile_measurement_interval_ms",
            persist_state="session",
        ),
    }
    limits["search_mode"] = st.radio(
        "Search mode",
        ["brute", "quick"],
        horizontal=True,
        key="profile_search_mode",
        persist_state="session",
        help="brute: every instance count with every max batch size, with early "
        "exits. quick: climbs from the model's own config to the best neighbor "
        "and stops when none ranks higher, measuring far fewer variants.",
    )
    return limits


def draw_start_from(directory: Path) -> int | None:
    """Draw the choice of checkpoint to continue from; return its index or None.

    None lets the profile command load the latest checkpoint. A damaged latest
    checkpoint makes that fail, so its error is shown here, before Start.
    """
    items = list_checkpoints(directory)
    if not items:
        return None

    by_index = {item.index: item for item in items}
    try:
        shared.read_checkpoint(items[-1])
    except CheckpointError as error:
        st.error(f"{error} Choose an older checkpoint below to continue from.")

    choice = st.selectbox(
        "Continue from checkpoint",
        [LATEST_CHECKPOINT, *sorted(by_index, reverse=True)],
        format_func=lambda option: (
            option
            if option == LATEST_CHECKPOINT
            else shared.describe_checkpoint(by_index[option])
        ),
        key="profile_start_from",
        help="The run loads this checkpoint, skips what it already measured and "
        "saves to a new index.",
    )
    return None if choice == LATEST_CHECKPOINT else int(choice)


def start_profile(request: jobs.ProfileRequest) -> None:
    """Start the job, keeping an error in session state so refreshes still show it."""
    try:
        jobs.start_profile_job(request, shared.working_folder())
    except AnalyzerError as error:
        logger.warning("Starting a profile job failed: %s", error)
        st.session_state[ERROR_KEY] = str(error)
    except OSError as error:
        logger.exception("Starting a profile job failed")
        st.session_state[ERROR_KEY] = f"Starting the profile job failed: {error}."


def send_stop(job: jobs.Job, now: bool) -> None:
    try:
        if now:
            jobs.request_stop_now(job)
        else:
            jobs.request_stop(job)
    except AnalyzerError as error:
        logger.warning("Stopping job %s failed: %s", job.record.job_id, error)
        st.session_state[ERROR_KEY] = str(error)


def draw_controls(
    request: jobs.ProfileRequest | None,
    job: jobs.Job | None,
    active: bool,
    locked: bool,
) -> None:
    row = st.container(horizontal=True)
    start_disabled = request is None or not request.models or active or locked
    start = row.button("Start", type="primary", disabled=start_disabled)
    stop = row.button("Stop", disabled=not active, help=STOP_HELP)
    stop_now = row.button("Stop now", disabled=not active, help=STOP_NOW_HELP)
    if not (start or stop or stop_now):
        return

    st.session_state.pop(ERROR_KEY, None)
    if start:
        start_profile(request)
    else:
        send_stop(job, now=stop_now)
    st.rerun()


def draw_snapshot(snapshot: jobs.JobSnapshot, job: jobs.Job) -> None:
    status = snapshot.status
    st.markdown(
        f"**Job {snapshot.record.job_id}** {STATE_LABELS[snapshot.state]} · "
        f"elapsed {shared.format_duration(snapshot.elapsed_seconds)} · "
        f"pid {snapshot.record.pid}"
    )
    draw_progress(snapshot)
    if status is not None and status.variant and snapshot.active:
        st.caption(
            f"Now measuring model {status.model}, variant {status.variant}, "
            f"batch size {status.batch_size}, {load_label(status)}"
        )
    draw_outcome(snapshot)
    with st.expander("Command line of this job"):
        st.caption(
            "The form above may show other values after a reload; these are the "
            "settings the job runs with. The same command runs the job without "
            "the dashboard."
        )
        st.code(
            jobs.format_command(snapshot.record.command),
            language="bash",
            wrap_lines=True,
        )

    st.caption(f"Last {LOG_LINES} lines of {shared.show_path(job.log_path)}")
    log_text = "\n".join(snapshot.log_tail) or "(no output yet)"
    st.code(log_text, language=None, wrap_lines=True)


def load_label(status) -> str:
    if status.concurrency is None and status.request_rate is not None:
        return f"request rate {status.request_rate:g}/s"
    return f"concurrency {status.concurrency}"


def draw_progress(snapshot: jobs.JobSnapshot) -> None:
    """Draw the progress bar; a job that ended before planning gets none."""
    status = snapshot.status
    if status is None or status.planned <= 0:
        if snapshot.active:
            st.progress(0.0, text="Planning the measurements")
        return

    finished = status.done + status.skipped + status.failed
    fraction = min(1.0, finished / status.planned)
    text = (
        f"{status.done} measured, {finished} of {status.planned} planned runs settled"
    )
    if status.skipped:
        text += f", {status.skipped} skipped as already measured or past an early exit"
    if status.failed:
        text += f", {status.failed} failed"
    remaining = max(0, status.planned - finished)
    if snapshot.active and status.done and remaining:
        # The pace so far times what is left; quick search plans as it goes, so
        # its estimate is a lower bound.
        seconds_left = snapshot.elapsed_seconds / status.done * remaining
        text += f" · about {shared.format_duration(seconds_left)} left"
    st.progress(fraction, text=text)


def draw_outcome(snapshot: jobs.JobSnapshot) -> None:
    message = snapshot.message
    if snapshot.state is JobState.FAILED:
        st.error(message or "The profile job failed; the log below shows why.")
    elif snapshot.state is JobState.FINISHED:
        st.success(message or "Profiling finished.")
    elif snapshot.state is JobState.STOPPED:
        st.warning(message or "Profiling stopped before the end of the sweep.")
    if snapshot.status is not None and snapshot.status.checkpoint_path:
        path = shared.show_path(Path(snapshot.status.checkpoint_path))
        st.caption(f"Checkpoint: {path}")


def lock_holder_message(holder: lock.LockHolder, directory: Path) -> str:
    """Explain which process holds the directory's lock and how to end it."""
    pid = "?" if holder.pid is None else holder.pid
    host = holder.host or "?"
    shown = shared.show_path(directory)
    if holder.exited:
        lock_file = shared.show_path(directory / LOCK_FILE_NAME)
        return (
            f"The profile run that locked `{shown}` (pid {pid} on host {host}) has "
            f"exited, but a process it started still holds `{lock_file}` open, so "
            f"Start is disabled. End that process first (`fuser {lock_file}` "
            "lists it), or choose another directory in the sidebar."
        )
    how_to_stop = "press Ctrl-C in the shell where it runs"
    if holder.pid is not None:
        how_to_stop += f", or run `kill -INT {pid}` on host {host}"
    return (
        f"Another profile run (pid {pid} on host {host}) holds the lock on "
        f"`{shown}`, so Start is disabled. Stop it first ({how_to_stop}), or "
        "choose another directory in the sidebar."
    )


def draw_job_panel(
    request: jobs.ProfileRequest | None, directory: Path, refreshing: bool
) -> None:
    """Draw the buttons and the state of the directory's newest job.

    Start is disabled while a job of this dashboard, or another process found
    by its lock on the directory, profiles into it. When either starts or ends,
    the panel's auto-refresh must change, which only a full rerun can set, so
    the panel then reruns the whole page.
    """
    job = jobs.current_job(shared.working_folder(), directory)
    snapshot = job.snapshot(LOG_LINES) if job is not None else None
    active = snapshot is not None and snapshot.active
    # An active job holds the lock itself, so the probe is only for other runs.
    holder = None if active else lock.find_holder(directory)
    if (active or holder is not None) != refreshing:
        st.rerun()

    draw_controls(request, job, active, locked=holder is not None)
    if active:
        st.caption(
            "A job is profiling into this checkpoint directory; stop it before "
            "starting another, or choose another directory in the sidebar."
        )
    elif holder is not None:
        st.error(lock_holder_message(holder, directory))
    elif request is not None and not request.models:
        st.caption("Select at least one model to start.")
    if ERROR_KEY in st.session_state:
        st.error(st.session_state[ERROR_KEY])
    if snapshot is None:
        if holder is None:
            st.info(
                f"No profiling job has run on `{shared.show_path(directory)}` from "
                "this working folder yet."
            )
        return
    draw_snapshot(snapshot, job)


def build_request(
    choice: tuple[Path, list[str]] | None,
    limits: dict[str, int | str | None],
    directory: Path,
    index: int | None,
) -> jobs.ProfileRequest | None:
    if choice is None:
        return None
    repository, models = choice
    return jobs.ProfileRequest(
        model_repository=repository,
        models=models,
        checkpoint_directory=directory,
        export_path=shared.working_folder().resolve(),
        checkpoint_index=index,
        **limits,
    )


def main() -> None:
    st.title("Profile")
    directory = shared.checkpoint_directory()
    if directory is None:
        return
    st.caption(
        "Measures model configuration variants on Triton with perf_analyzer and "
        f"saves checkpoints to `{shared.show_path(directory)}` (set in the sidebar)."
    )

    choice = draw_repository()
    limits = draw_limits()
    index = draw_start_from(directory)
    request = build_request(choice, limits, directory, index)

    interval = shared.refresh_interval(directory)
    panel = st.fragment(run_every=interval)(draw_job_panel)
    panel(request, directory, refreshing=interval is not None)


main()
