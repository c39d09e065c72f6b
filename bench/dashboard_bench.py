"""Time the dashboard's Results page in headless Chromium, and the server's memory.

Run from the repository root:

    .venv/bin/python bench/dashboard_bench.py
    .venv/bin/python bench/dashboard_bench.py --sizes 10000 --loads 7

For each size a working folder gets ``checkpoints/0.ckpt`` with that many
synthetic measurements (``analyzer_core.results.synthetic``: 50 variants per
model, each at 10 concurrencies, so 500 measurements per model) and a copy of
the repository's ``.streamlit/config.toml``. A Streamlit server is started
there on a free port of 127.0.0.1, and Chromium opens the Results page. A
load is timed from the request for the page until every expected Plotly chart
has drawn a trace.

- cold: the first load after the server starts, which parses the checkpoint;
- warm: a load in a new browser context, so the server has the checkpoint in
  Streamlit's cache but the browser fetches Streamlit's scripts again;
- reload: a reload in one context, with the browser's cache warm as well.

Memory is the resident set of the server process and its children: once the
server is up, after the first load, and the largest seen after any load.

Every request the pages make is logged, and any whose host is not 127.0.0.1 is
reported: the dashboard must work on a machine without internet access.

``--floor`` times two minimal Streamlit apps the same way, one with only a
title and one with three small Plotly charts, to show how much of a new-context
load is Streamlit's and Plotly's front end rather than the dashboard.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sweep_timing import work_folder

from analyzer_core.checkpoints.store import save_checkpoint
from analyzer_core.results.synthetic import synthetic_checkpoint

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
APP = REPOSITORY_ROOT / "dashboard" / "app.py"
STREAMLIT_CONFIG = REPOSITORY_ROOT / ".streamlit" / "config.toml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Resolve no host but the loopback one, so that a request to any other host
    # fails on this machine. Such requests are still logged and reported.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
VARIANTS_PER_MODEL = 49  # plus the default config: 50 variants
CONCURRENCIES = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
MEASUREMENTS_PER_MODEL = (VARIANTS_PER_MODEL + 1) * len(CONCURRENCIES)
# Throughput vs latency, memory vs latency, and the latency breakdown.
EXPECTED_CHARTS = 3
VIEWPORT = {"width": 1600, "height": 1000}
SERVER_START_TIMEOUT_SECONDS = 60
PAGE_TIMEOUT_SECONDS = 180
LOAD_TARGET_SECONDS = 2.0
MEMORY_TARGET_MB = 500.0

# True once `expected` Plotly charts exist and each has drawn at least one trace.
CHARTS_DRAWN = """
(expected) => {
  const charts = document.querySelectorAll('[data-testid="stPlotlyChart"]');
  if (charts.length < expected) return false;
  const traces = '.scatterlayer .trace, .barlayer .trace';
  return [...charts].every((chart) => chart.querySelector(traces));
}
"""


@dataclass
class DashboardResult:
    measurements: int
    checkpoint_mb: float
    cold_seconds: float
    warm_seconds: list[float]
    reload_seconds: list[float]
    # Server memory after the server starts, after the first load, and the max.
    idle_rss_mb: float
    cold_rss_mb: float
    server_rss_mb: float
    # 1-minute load average from /proc/loadavg when this size started.
    load_average: float = 0.0
    # URLs of requests to any host but 127.0.0.1, which should stay empty.
    outside_requests: list[str] = field(default_factory=list)

    @property
    def warm_median_seconds(self) -> float:
        return statistics.median(self.warm_seconds)

    @property
    def reload_median_seconds(self) -> float:
        return statistics.median(self.reload_seconds)


def write_working_folder(folder: Path, measurements: int) -> int:
    """Write the synthetic checkpoint and the Streamlit config.

    Returns the measurement count, which is rounded up to whole models.
    """
    models = math.ceil(measurements / MEASUREMENTS_PER_MODEL)
    data = synthetic_checkpoint(
        {f"model_{index:03d}": VARIANTS_PER_MODEL for index in range(models)},
        concurrencies=CONCURRENCIES,
    )
    save_checkpoint(folder / "checkpoints", 0, data)
    (folder / ".streamlit").mkdir()
    shutil.copy(STREAMLIT_CONFIG, folder / ".streamlit" / "config.toml")
    return len(data.measurements)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(folder: Path, port: int, app: Path = APP) -> subprocess.Popen:
    """Start ``streamlit run`` of ``app`` in ``folder`` and wait until healthy."""
    streamlit = Path(sys.executable).parent / "streamlit"
    command = [
        str(streamlit), "run", str(app),
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--server.headless", "true",
    ]  # fmt: skip
    with open(folder / "streamlit.log", "wb") as log:
        server = subprocess.Popen(
            command,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_until_healthy(server, port, folder / "streamlit.log")
    except BaseException:
        stop_server(server)
        raise
    return server


def wait_until_healthy(server: subprocess.Popen, port: int, log: Path) -> None:
    url = f"http://127.0.0.1:{port}/_stcore/health"
    deadline = time.monotonic() + SERVER_START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(
                f"Streamlit exited with status {server.returncode} at start-up; "
                f"see {log}"
            )
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except (urllib.error.URLError, ConnectionError):
            pass
        time.sleep(0.1)
    raise RuntimeError(
        f"Streamlit was not healthy after {SERVER_START_TIMEOUT_SECONDS} s; see {log}"
    )


def stop_server(server: subprocess.Popen) -> None:
    """Stop the server's process group: SIGTERM, then SIGKILL after 10 s."""
    try:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
    except ProcessLookupError:
        pass


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, in MB (10^6 bytes)."""
    root = psutil.Process(pid)
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total / 1e6


def load_average() -> float:
    """Return the 1-minute load average from /proc/loadavg."""
    return float(Path("/proc/loadavg").read_text().split()[0])


def wait_for_charts(page: Page, expected: int = EXPECTED_CHARTS) -> None:
    page.wait_for_function(
        CHARTS_DRAWN,
        arg=expected,
        polling="raf",
        timeout=PAGE_TIMEOUT_SECONDS * 1000,
    )


def log_outside_requests(page: Page, outside: list[str]) -> None:
    """Append to ``outside`` the URL of each request to a host but 127.0.0.1."""

    def check(request) -> None:
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob"):
            return
        if parts.hostname != "127.0.0.1" and request.url not in outside:
            outside.append(request.url)

    page.on("request", check)


def time_new_context(
    browser: Browser,
    url: str,
    outside: list[str],
    wait: Callable[[Page], None] = wait_for_charts,
) -> float:
    """Open ``url`` in a fresh context, so with an empty browser cache.

    Returns the seconds until ``wait`` returns, by default once the charts
    are drawn.
    """
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        log_outside_requests(page, outside)
        started = time.perf_counter()
        page.goto(url, wait_until="commit")
        wait(page)
        return time.perf_counter() - started
    finally:
        context.close()


def time_reloads(
    browser: Browser, url: str, count: int, outside: list[str]
) -> list[float]:
    """Open ``url`` once, then time ``count`` reloads with the browser cache warm."""
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        log_outside_requests(page, outside)
        page.goto(url, wait_until="commit")
        wait_for_charts(page)
        seconds = []
        for _ in range(count):
            started = time.perf_counter()
            page.reload(wait_until="commit")
            wait_for_charts(page)
            seconds.append(time.perf_counter() - started)
        return seconds
    finally:
        context.close()


def measure_size(
    browser: Browser, measurements: int, loads: int, keep_under: Path | None
) -> DashboardResult:
    """Serve a checkpoint of ``measurements`` and time one cold load, then
    ``loads - 1`` warm loads in new contexts and as many reloads."""
    started_load = load_average()
    outside: list[str] = []
    with work_folder("dashboard-", keep_under) as folder:
        count = write_working_folder(folder, measurements)
        checkpoint_mb = (folder / "checkpoints" / "0.ckpt").stat().st_size / 1e6
        port = free_port()
        server = start_server(folder, port)
        try:
            url = f"http://127.0.0.1:{port}/results"
            idle_rss = tree_rss_mb(server.pid)
            cold = time_new_context(browser, url, outside)
            cold_rss = tree_rss_mb(server.pid)
            peak_rss = cold_rss
            warm = []
            for _ in range(loads - 1):
                warm.append(time_new_context(browser, url, outside))
                peak_rss = max(peak_rss, tree_rss_mb(server.pid))
            reloads = time_reloads(browser, url, loads - 1, outside)
            peak_rss = max(peak_rss, tree_rss_mb(server.pid))
        finally:
            stop_server(server)
    return DashboardResult(
        count,
        checkpoint_mb,
        cold,
        warm,
        reloads,
        idle_rss,
        cold_rss,
        peak_rss,
        load_average=started_load,
        outside_requests=outside,
    )


def measure_dashboard(
    sizes: list[int], loads: int, keep_under: Path | None = None
) -> list[DashboardResult]:
    """Time the Results page at each checkpoint size, one server per size."""
    if loads < 2:
        raise ValueError(f"loads must be at least 2 (one cold, one warm), not {loads}")
    results = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for size in sizes:
                results.append(measure_size(browser, size, loads, keep_under))
        finally:
            browser.close()
    return results


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(
        executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
    )


# Minimal apps for --floor. Their page icon is an emoji, as the dashboard's,
# so that no icon is fetched from a CDN.
FLOOR_APPS = {
    "title only": """
import streamlit as st

st.set_page_config(page_title="floor", page_icon="📈", layout="wide")
st.title("Floor")
""",
    "three Plotly charts": """
import plotly.graph_objects as go
import streamlit as st

st.set_page_config(page_title="floor", page_icon="📈", layout="wide")
st.title("Floor")
for index in range(3):
    points = list(range(50))
    st.plotly_chart(go.Figure(go.Scatter(x=points, y=points)), key=f"chart{index}")
""",
}


@dataclass
class FloorResult:
    app: str
    warm_seconds: list[float]
    load_average: float
    outside_requests: list[str] = field(default_factory=list)

    @property
    def warm_median_seconds(self) -> float:
        return statistics.median(self.warm_seconds)


def wait_for_title(page: Page) -> None:
    page.wait_for_selector(
        '[data-testid="stHeading"]', timeout=PAGE_TIMEOUT_SECONDS * 1000
    )


def measure_floor(loads: int, keep_under: Path | None = None) -> list[FloorResult]:
    """Time new-context loads of the minimal apps, after one untimed load each.

    The title-only app is done when its title shows, the chart app when its
    three charts have drawn a trace, the same test as for the Results page.
    """
    results = []
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            for name, source in FLOOR_APPS.items():
                wait = wait_for_title if name == "title only" else wait_for_charts
                started_load = load_average()
                outside: list[str] = []
                with work_folder("dashboard-floor-", keep_under) as folder:
                    (folder / ".streamlit").mkdir()
                    shutil.copy(STREAMLIT_CONFIG, folder / ".streamlit" / "config.toml")
                    app = folder / "floor_app.py"
                    app.write_text(source)
                    port = free_port()
                    server = start_server(folder, port, app)
                    try:
                        url = f"http://127.0.0.1:{port}/"
                        time_new_context(browser, url, outside, wait)
                        warm = [
                            time_new_context(browser, url, outside, wait)
                            for _ in range(loads - 1)
                        ]
                    finally:
                        stop_server(server)
                results.append(FloorResult(name, warm, started_load, outside))
        finally:
            browser.close()
    return results


def describe(result: DashboardResult) -> str:
    warm = result.warm_median_seconds
    meets_time = "meets" if warm < LOAD_TARGET_SECONDS else "misses"
    meets_memory = "meets" if result.server_rss_mb < MEMORY_TARGET_MB else "misses"
    text = (
        f"{result.measurements} measurements ({result.checkpoint_mb:.1f} MB "
        f"checkpoint, load average {result.load_average:.2f} at the start): "
        f"Results page charts drawn in {result.cold_seconds:.2f} s cold, "
        f"{warm:.2f} s warm (median of {len(result.warm_seconds)}; {meets_time} the "
        f"{LOAD_TARGET_SECONDS:g} s target), {result.reload_median_seconds:.2f} s "
        f"on reload (median of {len(result.reload_seconds)}); server RSS "
        f"{result.idle_rss_mb:.0f} MB idle, {result.cold_rss_mb:.0f} MB after the "
        f"first load, {result.server_rss_mb:.0f} MB max ({meets_memory} the "
        f"{MEMORY_TARGET_MB:g} MB target)"
    )
    return text + describe_outside(result.outside_requests)


def describe_outside(outside: list[str]) -> str:
    if not outside:
        return "; no request left 127.0.0.1"
    return f"; {len(outside)} request(s) to other hosts: {', '.join(outside)}"


def describe_floor(result: FloorResult) -> str:
    return (
        f"Minimal app, {result.app} (load average {result.load_average:.2f} at "
        f"the start): drawn in {result.warm_median_seconds:.2f} s in a new context "
        f"(median of {len(result.warm_seconds)}: "
        f"{', '.join(f'{value:.2f}' for value in result.warm_seconds)})"
        + describe_outside(result.outside_requests)
    )


def parse_arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="1000,10000,100000",
        help="comma-separated measurement counts (default: 1000,10000,100000)",
    )
    parser.add_argument(
        "--loads",
        type=int,
        default=6,
        help="page loads per size: the first cold, the rest warm (default: 6)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also time minimal Streamlit apps (a title; three Plotly charts) "
        "in new browser contexts, as a lower bound of the page load",
    )
    parser.add_argument(
        "--work-directory",
        type=Path,
        help="keep each working folder and server log under this one",
    )
    return parser.parse_args()


def main() -> None:
    arguments = parse_arguments()
    sizes = [int(part) for part in arguments.sizes.split(",") if part.strip()]
    if arguments.floor:
        for floor in measure_floor(arguments.loads, arguments.work_directory):
            print(describe_floor(floor), flush=True)
    for result in measure_dashboard(sizes, arguments.loads, arguments.work_directory):
        print(describe(result), flush=True)


if __name__ == "__main__":
    main()
