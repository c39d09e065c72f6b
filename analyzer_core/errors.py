"""Errors that carry a message meant for the user.

The command line prints ``str(error)`` on one line and exits non-zero, and the
dashboard shows it in an error box: neither prints a traceback for these.
"""


class AnalyzerError(Exception):
    """An error whose message names the bad value and what to do next."""


class ConfigError(AnalyzerError):
    """Invalid settings, found before anything starts."""


class CheckpointError(AnalyzerError):
    """A checkpoint file or directory that cannot be read or written."""


class CheckpointFormatError(ValueError):
    """A checkpoint document with the wrong shape; the store adds the file name."""


class ServerError(AnalyzerError):
    """Triton Inference Server failed to start, load a model, or respond."""


class PerfAnalyzerError(AnalyzerError):
    """perf_analyzer could not be found or run."""
