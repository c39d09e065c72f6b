"""The Results page in headless Chromium: requests stay local, CSVs hold their rows.

Starts ``streamlit run dashboard/app.py`` on a free 127.0.0.1 port in a
temporary working folder with a synthetic checkpoint, as ``test_end_to_end``
does, but without Triton.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from dashboard_fixtures import save, small_checkpoint
from test_end_to_end import CHROMIUM, CHROMIUM_ARGS, serve_dashboard

from analyzer_core.records import CheckpointData

pytestmark = pytest.mark.browser

playwright_api = pytest.importorskip("playwright.sync_api")

# A request to any host but 127.0.0.1 fails to resolve, so that a regression
# is caught by the request log below without reaching the network.
LOCAL_ONLY_ARGS = [
    *CHROMIUM_ARGS,
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
CHART_SECONDS = 120
DOWNLOAD_SECONDS = 60


@pytest.fixture
def checkpoint() -> CheckpointData:
    return small_checkpoint({"add_sub": 3, "dense": 2})


@pytest.fixture
def results_url(tmp_path: Path, checkpoint: CheckpointData) -> Iterator[str]:
    """Serve the dashboard on a folder with ``checkpoint`` as index 0."""
    working_folder = tmp_path / "work"
    working_folder.mkdir()
    save(working_folder, 0, checkpoint)
    with serve_dashboard(working_folder, tmp_path / "streamlit.log") as url:
        yield f"{url}/results"


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def download(page, label: str, folder: Path) -> Path:
    with page.expect_download(timeout=DOWNLOAD_SECONDS * 1000) as info:
        page.get_by_role("button", name=label).click()
    path = folder / info.value.suggested_filename
    info.value.save_as(path)
    return path


def test_results_local_and_downloads(
    results_url: str, checkpoint: CheckpointData, tmp_path: Path
) -> None:
    if not CHROMIUM.is_file():
        pytest.skip(f"{CHROMIUM} not installed")
    requests: list[str] = []
    server_errors: list[str] = []
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=LOCAL_ONLY_ARGS
        )
        try:
            context = browser.new_context(
                accept_downloads=True, viewport={"width": 1400, "height": 1400}
            )
            page = context.new_page()
            page.on("request", lambda request: requests.append(request.url))
            page.on(
                "response",
                lambda response: (
                    response.status >= 500
                    and server_errors.append(f"{response.status} {response.url}")
                ),
            )
            page.goto(results_url)
            charts = page.get_by_test_id("stPlotlyChart")
            playwright_api.expect(charts.first).to_be_visible(
                timeout=CHART_SECONDS * 1000
            )

            whole = download(page, "Download measurements-ckpt0.csv", tmp_path)
            model = download(page, "Download measurements-add_sub-ckpt0.csv", tmp_path)
        finally:
            browser.close()

    hosts = {urlsplit(url).hostname for url in requests}
    hosts.discard(None)
    assert hosts == {"127.0.0.1"}
    # Starlette 1.8 and later broke Streamlit 1.60's response for /favicon.png.
    assert server_errors == []
    assert "Traceback" not in (tmp_path / "streamlit.log").read_text()
    whole_rows = csv_rows(whole)
    model_rows = csv_rows(model)
    assert len(whole_rows) == len(checkpoint.measurements)
    assert [row["variant"] for row in whole_rows] == [
        m.variant for m in checkpoint.measurements
    ]
    assert {row["model"] for row in model_rows} == {"add_sub"}
    assert len(model_rows) == sum(
        1 for m in checkpoint.measurements if m.model == "add_sub"
    )
