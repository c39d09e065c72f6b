"""Stop requests from SIGINT (Ctrl-C, or the dashboard's Stop buttons) and SIGTERM.

The first SIGINT requests a graceful stop: the current perf_analyzer run
finishes, then the profiler saves and exits. The third SIGINT, or a SIGTERM,
requests an immediate stop. The handler only counts; the profiler's main loop
logs and acts, so no work happens inside the handler.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading

logger = logging.getLogger(__name__)

IMMEDIATE_AFTER = 3


class StopNow(Exception):
    """An immediate stop was requested, so the profiler saves and exits at once."""


class StopRequests:
    def __init__(self) -> None:
        self.interrupts = 0
        self.terminated = False
        self._logged = 0
        self._previous: dict[int, object] = {}
        self._wakeup: tuple[socket.socket, socket.socket] | None = None
        self._interrupts_seen = 0

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            self._previous[signal_number] = signal.signal(signal_number, self._handle)
        # Python runs a handler once for several signals that arrive while the main
        # thread is inside a C call (a gRPC model load), but the wakeup descriptor
        # gets one byte per signal, so counting bytes counts every SIGINT.
        reader, writer = socket.socketpair()
        reader.setblocking(False)
        writer.setblocking(False)
        signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
        self._wakeup = (reader, writer)

    def restore(self) -> None:
        for signal_number, handler in self._previous.items():
            signal.signal(signal_number, handler)
        self._previous.clear()
        if self._wakeup is not None:
            signal.set_wakeup_fd(-1)
            for end in self._wakeup:
                end.close()
            self._wakeup = None

    def _count_wakeup_bytes(self) -> None:
        if self._wakeup is None:
            return
        try:
            received = self._wakeup[0].recv(4096)
        except (BlockingIOError, OSError):
            return
        self._interrupts_seen += received.count(bytes([signal.SIGINT]))
        self.interrupts = max(self.interrupts, self._interrupts_seen)

    def _handle(self, signal_number: int, frame: object) -> None:
        if signal_number == signal.SIGTERM:
            self.terminated = True
        else:
            self.interrupts += 1

    @property
    def graceful(self) -> bool:
        self._count_wakeup_bytes()
        self._log_new()
        return self.interrupts > 0 or self.terminated

    @property
    def immediate(self) -> bool:
        self._count_wakeup_bytes()
        self._log_new()
        return self.interrupts >= IMMEDIATE_AFTER or self.terminated

    def _log_new(self) -> None:
        while self._logged < min(self.interrupts, IMMEDIATE_AFTER):
            self._logged += 1
            if self._logged == 1:
                action = (
                    "finishing the current perf_analyzer run, then saving and exiting"
                )
            elif self._logged < IMMEDIATE_AFTER:
                action = "send one more to save and exit at once"
            else:
                action = "saving and exiting now"
            logger.info(
                "Received SIGINT %d/%d: %s", self._logged, IMMEDIATE_AFTER, action
            )
        if self.terminated and self._logged < IMMEDIATE_AFTER + 1:
            self._logged = IMMEDIATE_AFTER + 1
            logger.info("Received SIGTERM: saving and exiting now")
