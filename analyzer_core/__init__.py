"""Profile Triton Inference Server model configurations with perf_analyzer.

The command line (``python -m analyzer_core``) and the Streamlit dashboard both
call into this package; the package never imports the dashboard.
"""

__version__ = "0.1.0"
