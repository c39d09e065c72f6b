#!/usr/bin/env python3
"""A stand-in for perf_analyzer that fails on purpose, for fault tests only.

The fault comes from the PERF_ANALYZER_FAULT environment variable:

  ok           write a CSV row like perf_analyzer 2.51 and exit 0
  hang         ignore SIGTERM and sleep for an hour
  signal       kill itself with SIGSEGV
  exit         print an error and exit with status 3
  no_csv       exit 0 without writing the CSV
  flood        write 8 MB to stderr and 8 MB to stdout, then behave as ok
  odd_bytes    write bytes that are not UTF-8, then exit with status 1
  odd_csv      write a CSV with a BOM, CRLF line ends, an extra column,
               a missing column and per-GPU cells, then exit 0
  unstable     report an unstable measurement (exit 2) until the window is at
               least PERF_ANALYZER_STABLE_AT ms (or requests), then behave as ok
  unstable_zero  as unstable, but exit 0 with the message and no CSV

Run without arguments it prints a usage text listing the flags perf_analyzer
2.51 lists, leaving out any named in PERF_ANALYZER_MISSING_FLAGS (comma-separated).
Each run appends its arguments to PERF_ANALYZER_CALLS, if set, one line per run.
"""

import os
import signal
import sys
import time

FLAGS = [
    "-m", "-b", "-u", "-i", "-f", "-p", "-s", "--verbose-csv", "--collect-metrics",
    "--metrics-url", "--metrics-interval", "--concurrency-range",
    "--request-rate-range", "--measurement-mode", "--measurement-interval",
    "--measurement-request-count", "--stability-percentage", "--percentile",
    "--max-trials",
]  # fmt: skip

HEADER = (
    "Concurrency,Inferences/Second,Client Send,Network+Server Send/Recv,"
    "Server Queue,Server Compute Input,Server Compute Infer,Server Compute Output,"
    "Client Recv,p50 latency,p90 latency,p95 latency,p99 latency,Avg latency,"
    "request/response,response wait,Avg GPU Utilization,Avg GPU Power Usage,"
    "Max GPU Memory Usage,Total GPU Memory"
)


def option(arguments, name):
    """Return the value of ``name=value`` or ``name value`` in the arguments."""
    for index, argument in enumerate(arguments):
        if argument.startswith(name + "="):
            return argument.split("=", 1)[1]
        if argument == name and index + 1 < len(arguments):
            return arguments[index + 1]
    return None


def print_usage():
    missing = set(
        filter(None, os.environ.get("PERF_ANALYZER_MISSING_FLAGS", "").split(","))
    )
    print("Error: Failed to parse -m (model name). The value must be specified.")
    print("Usage: perf_analyzer [options]")
    for flag in FLAGS:
        if flag not in missing:
            print(f"\t{flag} <value>")
    sys.exit(99)


def write_ok(arguments):
    concurrency = option(arguments, "--concurrency-range") or "1"
    row = f"{concurrency},1000.5,64,207,92,18,161,46,0,560,785,876,1226,591,64,520,,,,"
    with open(option(arguments, "-f"), "w") as csv_file:
        csv_file.write(f"{HEADER}\n{row}\n")
    sys.exit(0)


def write_odd_csv(arguments):
    header = (
        "Concurrency,Inferences/Second,p99 latency,Brand New Column,Avg GPU Utilization"
    )
    row = "1,250.5,1500,whatever,GPU-a:0.5;GPU-b:0.25;"
    with open(option(arguments, "-f"), "w", newline="") as csv_file:
        csv_file.write("\ufeff" + header + "\r\n" + row + "\r\n")
    sys.exit(0)


def window(arguments):
    value = option(arguments, "--measurement-interval")
    if value is None:
        value = option(arguments, "--measurement-request-count")
    return int(value or 0)


def unstable(arguments, exit_status):
    if window(arguments) >= int(os.environ.get("PERF_ANALYZER_STABLE_AT", "0")):
        write_ok(arguments)
    print(
        "Failed to obtain stable measurement within 10 measurement windows for "
        "concurrency 1. Please try to increase the --measurement-interval.",
        file=sys.stderr,
    )
    print("Failed to obtain stable measurement.", file=sys.stderr)
    sys.exit(exit_status)


def hang():
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    time.sleep(3600)


def flood(arguments):
    block = ("x" * 1023 + "\n").encode()
    for _ in range(8 * 1024):
        sys.stderr.buffer.write(block)
        sys.stdout.buffer.write(block)
    write_ok(arguments)


def odd_bytes():
    sys.stdout.buffer.write(b"\xff\xfe\x80 not utf-8 \xc3\x28\n" * 1000)
    sys.stderr.buffer.write(b"error: \xe2\x82 broken \x00 bytes\n")
    sys.exit(1)


def main():
    arguments = sys.argv[1:]
    if not arguments:
        print_usage()
    calls = os.environ.get("PERF_ANALYZER_CALLS")
    if calls:
        with open(calls, "a") as log:
            log.write(" ".join(arguments) + "\n")
    fault = os.environ.get("PERF_ANALYZER_FAULT", "ok")
    if fault == "hang":
        hang()
    elif fault == "signal":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif fault == "exit":
        print("error: the server is not ready", file=sys.stderr)
        sys.exit(3)
    elif fault == "no_csv":
        print("done")
        sys.exit(0)
    elif fault == "flood":
        flood(arguments)
    elif fault == "odd_bytes":
        odd_bytes()
    elif fault == "odd_csv":
        write_odd_csv(arguments)
    elif fault == "unstable":
        unstable(arguments, 2)
    elif fault == "unstable_zero":
        unstable(arguments, 0)
    write_ok(arguments)


if __name__ == "__main__":
    main()
