"""Fork ``python -m analyzer_core`` runs from a process that has imported it already.

Each child runs ``analyzer_core.cli.main`` with the stand-in Triton of
``stand_in_server.py``, so a kill -9 test can start hundreds of profile runs in
milliseconds each instead of paying Python's start-up and Triton's every time.
The driver reads one JSON request per line on stdin and writes one JSON reply
per line on stdout:

    {"run": [ARGUMENTS], "log": PATH, "fsync_delay": SECONDS}  ->  {"pid": PID}
    {"reap": PID}  ->  {"pid": PID, "status": WAIT_STATUS}

A child writes its standard output and error to ``log``. With ``fsync_delay``,
every fsync of a checkpoint file or its directory sleeps that long first, like
a slow disk, so that more kills land in the middle of a save.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analyzer_core import cli  # noqa: E402
from analyzer_core.perf import usage  # noqa: E402
from analyzer_core.triton import paths  # noqa: E402
from fakes import stand_in_server  # noqa: E402

# Exit status of a child whose profile run raised an unexpected exception.
EXIT_CRASHED = 70


def slow_checkpoint_fsync(delay: float) -> None:
    real_fsync = os.fsync

    def fsync(descriptor: int) -> None:
        target = os.readlink(f"/proc/self/fd/{descriptor}")
        if ".ckpt" in target or target.endswith("checkpoints"):
            time.sleep(delay)
        real_fsync(descriptor)

    os.fsync = fsync


def run_child(request: dict) -> None:
    """Run one profile in this forked child; never returns."""
    status = EXIT_CRASHED
    try:
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.close(null)
        if request.get("fsync_delay"):
            slow_checkpoint_fsync(request["fsync_delay"])
        status = cli.main(request["run"])
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)


def answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    stand_in_server.install()
    # Import every subcommand's modules and read the stand-in's usage text once
    # here, so that no child has to.
    cli.build_parser()
    usage.supported_flags(
        stand_in_server.STAND_IN_PERF_ANALYZER, paths.perf_analyzer_environment()
    )
    answer({"ready": os.getpid()})
    for line in sys.stdin:
        request = json.loads(line)
        if "run" in request:
            sys.stdout.flush()
            pid = os.fork()
            if pid == 0:
                run_child(request)
            answer({"pid": pid})
        elif "reap" in request:
            pid, wait_status = os.waitpid(request["reap"], 0)
            answer({"pid": pid, "status": wait_status})


if __name__ == "__main__":
    main()
