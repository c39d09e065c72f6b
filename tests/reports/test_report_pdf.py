"""Table layout of the PDF reports: column widths that keep numbers whole."""

from __future__ import annotations

import pytest
from reportlab.pdfbase import pdfmetrics

from analyzer_core.reports.pdf import (
    CELL_PADDING,
    CONTENT_WIDTH,
    MIN_LAST_COLUMN,
    STYLES,
    data_table,
)

HEADER = ["#", "p99", "Verdict"]
WIDTHS = [0.03, 0.04, 0.93]


def cell_width(value: str) -> float:
    font = STYLES["cell"]
    return pdfmetrics.stringWidth(value, font.fontName, font.fontSize)


def test_number_column_fits_widest_value() -> None:
    rows = [[1, "3.59", "Yes"], [16315, "106.29", "No: p99 latency 106 ms > 20 ms"]]

    widths = data_table(HEADER, rows, WIDTHS)._colWidths

    assert widths[0] >= cell_width("16315") + 2 * CELL_PADDING
    assert widths[1] >= cell_width("106.29") + 2 * CELL_PADDING
    assert sum(widths) == pytest.approx(CONTENT_WIDTH)


def test_text_cells_keep_given_width() -> None:
    rows = [["a long variant name", "n/a", "Yes"]]

    widths = data_table(HEADER, rows, WIDTHS)._colWidths

    assert widths[0] == pytest.approx(0.03 * CONTENT_WIDTH)
    assert sum(widths) == pytest.approx(CONTENT_WIDTH)


def test_last_column_keeps_minimum() -> None:
    huge = "9" * 200
    rows = [[1, huge, "Yes"]]

    widths = data_table(HEADER, rows, WIDTHS)._colWidths

    assert widths[1] < cell_width(huge)
    assert widths[2] >= MIN_LAST_COLUMN
