"""Dashboard entry point: page navigation and the checkpoint directory setting.

Start it from the working folder with ``streamlit run dashboard/app.py``. The
working folder contains ``checkpoints/``, ``results/`` and the job files under
``.analyzer_runtime/``, and relative paths typed into the pages start there.
"""

import logging
import sys
from pathlib import Path

# ``streamlit run`` puts only this file's folder on sys.path, so the project
# root is added for ``analyzer_core`` and ``dashboard`` to import.
PROJECT_ROOT = Path(__file__).resolve().parent.parent
if str(PROJECT_ROOT) not in sys.path:
    sys.path.insert(0, str(PROJECT_ROOT))

import streamlit as st  # noqa: E402

from dashboard import shared  # noqa: E402

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging() -> None:
    """Send analyzer_core's INFO lines to standard error, once per server process."""
    package_logger = logging.getLogger("analyzer_core")
    if any(getattr(handler, "dashboard", False) for handler in package_logger.handlers):
        return

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT, datefmt="%H:%M:%S"))
    handler.dashboard = True
    package_logger.addHandler(handler)
    package_logger.setLevel(logging.INFO)


def draw_sidebar() -> None:
    if shared.CHECKPOINT_DIRECTORY_KEY not in st.session_state:
        default = shared.default_checkpoint_directory()
        st.session_state[shared.CHECKPOINT_DIRECTORY_KEY] = default

    st.sidebar.text_input(
        "Checkpoint directory",
        key=shared.CHECKPOINT_DIRECTORY_KEY,
        help="Directory of N.ckpt files that every page reads, and that Start "
        "writes to. Relative paths start at the working folder "
        f"{shared.working_folder()}.",
    )


def main() -> None:
    configure_logging()
    # An emoji favicon is drawn in the browser. Without page_icon, Streamlit
    # 1.60 shows the current page's Material icon as the favicon, and its front
    # end fetches that icon from fonts.gstatic.com, which fails offline.
    st.set_page_config(page_title="Triton profiling", page_icon="📈", layout="wide")

    # The page scripts live in views/, not pages/: with a pages/ folder beside
    # this file, Streamlit 1.60 runs a page URL opened before any st.navigation
    # call directly, without this script (its older multipage mode).
    pages = [
        st.Page("views/profile.py", title="Profile", icon=":material/speed:"),
        st.Page("views/results.py", title="Results", icon=":material/monitoring:"),
        st.Page("views/reports.py", title="Reports", icon=":material/description:"),
        st.Page("views/compare.py", title="Compare", icon=":material/compare_arrows:"),
    ]
    page = st.navigation(pages)
    draw_sidebar()
    page.run()


main()
