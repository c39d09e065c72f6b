"""End to end through a browser: profile the bundled example, stop, download a report.

Starts ``streamlit run dashboard/app.py`` on a free 127.0.0.1 port in a
temporary working folder and drives it with the Debian Chromium through
Playwright (Playwright's own browser download is not used). The profile job
runs the real Triton server and perf_analyzer, so this takes minutes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from analyzer_core import jobs

pytestmark = [pytest.mark.browser, pytest.mark.slow]

playwright_api = pytest.importorskip("playwright.sync_api")

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SERVER_START_SECONDS = 60
FIRST_MEASUREMENT_SECONDS = 300
STOP_SECONDS = 300
REPORT_SECONDS = 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_health(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"streamlit exited early:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError(f"streamlit not healthy after {SERVER_START_SECONDS} s")


def end_jobs(working_folder: Path) -> None:
    """Stop every job the dashboard started, at once, and wait for it to exit."""
    for job in jobs.list_jobs(working_folder):
        if not job.is_alive():
            continue
        jobs.request_stop_now(job)
        deadline = time.monotonic() + 60
        while job.is_alive() and time.monotonic() < deadline:
            time.sleep(0.5)
        if job.is_alive():
            os.killpg(job.record.pid, signal.SIGKILL)


@contextlib.contextmanager
def serve_dashboard(working_folder: Path, log: Path) -> Iterator[str]:
    """Run ``streamlit run dashboard/app.py`` in ``working_folder`` on a free
    127.0.0.1 port; yield its URL and stop it on exit."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(APP),
        "--server.address=127.0.0.1",
        f"--server.port={port}",
        "--server.headless=true",
        "--server.fileWatcherType=none",
        "--browser.gatherUsageStats=false",
    ]
    with open(log, "wb") as output:
        server = subprocess.Popen(
            command,
            cwd=working_folder,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for_health(url, server, log)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=15)


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """Start the dashboard in a fresh working folder; yield its URL and folder."""
    working_folder = tmp_path / "work"
    working_folder.mkdir()
    with serve_dashboard(working_folder, tmp_path / "streamlit.log") as url:
        try:
            yield url, working_folder
        finally:
            end_jobs(working_folder)


@pytest.fixture
def page(tmp_path: Path):
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not installed")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1400, "height": 1400}
        )
        yield context.new_page()
        context.close()
        browser.close()


def fill_number(page, label: str, value: int) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(str(value))
    field.press("Enter")


def open_page(page, name: str) -> None:
    page.get_by_role("link", name=name).click()
    page.get_by_role("heading", name=name, level=1).wait_for()


def test_profile_stop_and_report(dashboard, page, tmp_path: Path) -> None:
    url, working_folder = dashboard
    expect = playwright_api.expect

    page.goto(url)
    page.get_by_role("heading", name="Profile", level=1).wait_for()
    fill_number(page, "Max concurrency", 2)
    fill_number(page, "Max instance count", 1)
    fill_number(page, "Max model batch size", 1)
    fill_number(page, "Measurement interval (ms)", 500)
    page.get_by_role("button", name="Start").click()
    expect(page.get_by_text(re.compile(r"\d+ of \d+ planned runs"))).to_be_visible(
        timeout=120_000
    )

    open_page(page, "Results")
    expect(page.get_by_test_id("stPlotlyChart").first).to_be_visible(
        timeout=FIRST_MEASUREMENT_SECONDS * 1000
    )
    expect(page.get_by_text("Checkpoint index")).to_be_visible()

    open_page(page, "Profile")
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_text(re.compile(r"^(Stopped|Finished)$"))).to_be_visible(
        timeout=STOP_SECONDS * 1000
    )

    open_page(page, "Reports")
    page.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name=re.compile(r"^0 · saved")).click()
    page.get_by_text("Detailed report of each variant").click()
    page.get_by_role("button", name="Generate reports").click()
    summary_button = page.get_by_role("button", name="Summary of add_sub")
    expect(summary_button).to_be_visible(timeout=REPORT_SECONDS * 1000)
    with page.expect_download() as download_info:
        summary_button.click()
    pdf = tmp_path / "summary.pdf"
    download_info.value.save_as(pdf)

    assert pdf.read_bytes().startswith(b"%PDF")
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    words = " ".join(text.split())
    assert "add_sub" in words
    assert "Checkpoint 0" in words
