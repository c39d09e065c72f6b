"""Tables in pages of at most ``PAGE_ROWS`` rows, with CSV downloads made on click.

``st.dataframe`` sends every row of its frame to the browser as Arrow, which at
100,000 rows by 31 columns is about 22 MB per session. A page of rows keeps
that small, and the CSV downloads still hold every row of the table.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd
import streamlit as st

# 2,000 rows of the 31-column measurements table are about 0.4 MB as Arrow.
PAGE_ROWS = 2000


def draw_paged_table(
    frame: pd.DataFrame,
    key: str,
    column_config: Mapping[str, Any] | None = None,
    column_order: list[str] | None = None,
) -> None:
    """Draw ``frame``, one page of ``PAGE_ROWS`` rows at a time past that size.

    ``key`` names the page number input, so it must be unique on the page.
    ``frame`` is only read, so a cached frame may be passed.
    """
    rows = len(frame)
    visible_rows = frame
    if rows > PAGE_ROWS:
        first, last = _choose_page(rows, key)
        visible_rows = frame.iloc[first:last]
    st.dataframe(
        visible_rows,
        hide_index=True,
        column_config=column_config,
        column_order=column_order,
    )


def _choose_page(rows: int, key: str) -> tuple[int, int]:
    """Draw the page number input and return the chosen rows as [first, last)."""
    pages = math.ceil(rows / PAGE_ROWS)
    page_key = f"page:{key}"
    # The table may have shrunk since the page was chosen, for example on
    # another checkpoint, and a number input rejects a stored value above max.
    if st.session_state.get(page_key, 1) > pages:
        st.session_state[page_key] = pages

    choice, note = st.columns([1, 3], vertical_alignment="bottom")
    page = choice.number_input(
        f"Page (of {pages:,})",
        min_value=1,
        max_value=pages,
        value=1,
        step=1,
        key=page_key,
    )
    first = (int(page) - 1) * PAGE_ROWS
    last = min(first + PAGE_ROWS, rows)
    note.caption(
        f"Rows {first + 1:,}–{last:,} of {rows:,}. The table shows "
        f"{PAGE_ROWS:,} rows at a time; the CSV download has every row."
    )
    return first, last


def draw_csv_download(
    label: str, file_name: str, build: Callable[[], pd.DataFrame]
) -> None:
    """Draw a button that downloads the frame ``build`` returns, as CSV.

    ``build`` and the encoding run only when the button is clicked, because
    a 100,000-row table takes seconds to encode and its bytes would otherwise
    stay in every session's memory.
    """
    st.download_button(
        label,
        lambda: build().to_csv(index=False).encode(),
        file_name=file_name,
        mime="text/csv",
        key=f"download:{file_name}",
        on_click="ignore",
    )
