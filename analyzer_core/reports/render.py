"""Render plotly figures to PNG through one long-lived kaleido browser.

kaleido 1.x drives a headless Chromium. Starting it takes seconds, so one
renderer serves every chart of a process: it runs on its own thread with its
own asyncio event loop, and every wait on it is bounded by a timeout. MathJax
is turned off because kaleido would otherwise load it from a CDN.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import threading
from concurrent.futures import TimeoutError as FutureTimeoutError
from dataclasses import dataclass, field

import plotly.graph_objects as go

logger = logging.getLogger(__name__)

START_TIMEOUT_SECONDS = 60.0
TABS = 2
"""Chromium tabs rendering at once; a report's charts are rendered together."""
RENDER_TIMEOUT_SECONDS = 30.0
CLOSE_TIMEOUT_SECONDS = 15.0


class ChartRenderError(RuntimeError):
    """Chromium or kaleido could not start or render a figure."""


class ChartRenderer:
    """One kaleido browser on a background thread; thread-safe, started lazily."""

    def __init__(self, render_timeout: float = RENDER_TIMEOUT_SECONDS) -> None:
        self.render_timeout = render_timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._kaleido = None

    @property
    def running(self) -> bool:
        return self._kaleido is not None

    def render_png(
        self, figure: go.Figure, width: int, height: int, scale: float = 2.0
    ) -> bytes:
        """Render ``figure`` at ``width`` x ``height`` CSS pixels, times ``scale``.

        Raises ChartRenderError, after which the browser is closed and the next
        call starts a new one.
        """
        return self.render_pngs([(figure, width, height)], scale)[0]

    def render_pngs(
        self, requests: list[tuple[go.Figure, int, int]], scale: float = 2.0
    ) -> list[bytes]:
        """Render several ``(figure, width, height)`` at once, in order."""
        with self._lock:
            self._start_locked()
            browser = self._kaleido

            async def render_all():
                return await asyncio.gather(
                    *(
                        browser.calc_fig(figure, opts=_options(width, height, scale))
                        for figure, width, height in requests
                    )
                )

            try:
                return self._run(render_all(), self.render_timeout * len(requests))
            except ChartRenderError:
                self._close_locked()
                raise

    def close(self) -> None:
        """Stop the browser and its thread; a later render starts them again."""
        with self._lock:
            self._close_locked()

    def _start_locked(self) -> None:
        if self._kaleido is not None:
            return
        try:
            import kaleido
        except ImportError as error:
            raise ChartRenderError(f"kaleido is not installed: {error}") from error
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="chart-renderer", daemon=True
        )
        self._thread.start()

        async def open_browser():
            browser = kaleido.Kaleido(
                n=TABS, mathjax=False, timeout=self.render_timeout
            )
            await browser.open()
            return browser

        logger.info("Starting Chromium through kaleido to render charts")
        try:
            self._kaleido = self._run(open_browser(), START_TIMEOUT_SECONDS)
        except ChartRenderError:
            self._stop_loop()
            raise

    def _run(self, coroutine, timeout: float):
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout)
        except FutureTimeoutError:
            future.cancel()
            raise ChartRenderError(
                f"Chart rendering timed out after {timeout:g} s"
            ) from None
        except Exception as error:
            raise ChartRenderError(f"{type(error).__name__}: {error}") from error

    def _close_locked(self) -> None:
        if self._kaleido is not None:
            try:
                self._run(self._kaleido.close(), CLOSE_TIMEOUT_SECONDS)
            except ChartRenderError as error:
                logger.warning("Closing the chart renderer failed: %s", error)
            self._kaleido = None
        self._stop_loop()

    def _stop_loop(self) -> None:
        if self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(CLOSE_TIMEOUT_SECONDS)
        self._loop.close()
        self._loop, self._thread = None, None


def _options(width: int, height: int, scale: float) -> dict:
    return {"format": "png", "width": width, "height": height, "scale": scale}


_shared: ChartRenderer | None = None
_shared_lock = threading.Lock()


def shared_renderer() -> ChartRenderer:
    """Return the process-wide renderer, closed automatically at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = ChartRenderer()
            atexit.register(_shared.close)
        return _shared


@dataclass
class ChartSession:
    """Charts of one report run: after the first failure, the rest are skipped.

    A run with a broken renderer thus costs at most one timeout, and reports
    one warning. A new session tries the renderer again.
    """

    renderer: ChartRenderer | None = None
    error: str | None = None
    rendered: int = 0
    skipped: int = 0
    warnings: list[str] = field(default_factory=list)

    def png(self, figure: go.Figure | None, width: int, height: int) -> bytes | None:
        """Return the PNG bytes of ``figure``, or None when it cannot be drawn."""
        return self.pngs([(figure, width, height)])[0]

    def pngs(
        self, requests: list[tuple[go.Figure | None, int, int]]
    ) -> list[bytes | None]:
        """Render ``(figure, width, height)`` requests together; None stays None."""
        requested_figures = [request for request in requests if request[0] is not None]
        if not requested_figures:
            return [None] * len(requests)
        if self.error is not None:
            self.skipped += len(requested_figures)
            return [None] * len(requests)
        renderer = self.renderer or shared_renderer()
        try:
            images = iter(renderer.render_pngs(requested_figures))
        except ChartRenderError as error:
            self._fail(error, len(requested_figures))
            return [None] * len(requests)
        self.rendered += len(requested_figures)
        return [None if request[0] is None else next(images) for request in requests]

    def _fail(self, error: ChartRenderError, count: int) -> None:
        self.error = str(error)
        self.skipped += count
        message = (
            f"Charts left out of the reports: rendering with kaleido and Chromium "
            f"failed ({error}). Tables and text are complete; install Chromium "
            "(the chromium package) and kaleido 1.x to get charts."
        )
        logger.warning("%s", message)
        self.warnings.append(message)
