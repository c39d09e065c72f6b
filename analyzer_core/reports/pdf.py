"""Page layout shared by the summary and detailed PDF reports (reportlab).

A4 portrait pages with a footer naming the report and the page number. Text
uses DejaVu Sans where the system has it (wide Unicode coverage for model
names), else the Bitstream Vera font that ships with reportlab.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import reportlab
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    Preformatted,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
CHART_PIXELS = (820, 380)
"""Chart size in CSS pixels; rendered at scale 2 and drawn CONTENT_WIDTH wide."""
HALF_CHART_PIXELS = (540, 400)
"""Size of the charts drawn two side by side."""

CELL_PADDING = 3
MIN_LAST_COLUMN = 15 * mm
"""Minimum width of the last table column when number columns widen to fit."""
NUMBER_TEXT = re.compile(r"-?[\d,]*\.?\d+")
HEADER_FILL = colors.HexColor("#2f4b7c")
HIGHLIGHT_FILL = colors.HexColor("#eef3fb")
FAIL_TEXT = colors.HexColor("#b22222")

# Chart images are Flate-compressed either way; ASCII85 on top only makes them
# larger and, without reportlab's C accelerator, costs ~0.1 s per chart.
rl_config.useA85 = 0

_SYSTEM_FONTS = Path("/usr/share/fonts/truetype/dejavu")
_BUNDLED_FONTS = Path(reportlab.__file__).parent / "fonts"


@dataclass(frozen=True)
class Fonts:
    regular: str
    bold: str
    mono: str


def _register_fonts() -> Fonts:
    candidates = [
        ("ReportSans", _SYSTEM_FONTS / "DejaVuSans.ttf"),
        ("ReportSans-Bold", _SYSTEM_FONTS / "DejaVuSans-Bold.ttf"),
        ("ReportMono", _SYSTEM_FONTS / "DejaVuSansMono.ttf"),
    ]
    if not all(path.is_file() for _, path in candidates):
        candidates = [
            ("ReportSans", _BUNDLED_FONTS / "Vera.ttf"),
            ("ReportSans-Bold", _BUNDLED_FONTS / "VeraBd.ttf"),
        ]
    registered = set(pdfmetrics.getRegisteredFontNames())
    for name, path in candidates:
        if name not in registered:
            pdfmetrics.registerFont(TTFont(name, str(path)))
    mono = "ReportMono" if len(candidates) == 3 else "Courier"
    return Fonts("ReportSans", "ReportSans-Bold", mono)


FONTS = _register_fonts()


def _style(name: str, **options) -> ParagraphStyle:
    base = {"fontName": FONTS.regular, "fontSize": 9.5, "leading": 12.5}
    base.update(options)
    return ParagraphStyle(name, alignment=TA_LEFT, **base)


STYLES = {
    "title": _style("title", fontName=FONTS.bold, fontSize=17, leading=21),
    "subtitle": _style("subtitle", fontSize=10, textColor=colors.HexColor("#555555")),
    "heading": _style(
        "heading", fontName=FONTS.bold, fontSize=12, leading=15, spaceBefore=8
    ),
    "body": _style("body", spaceAfter=3),
    "verdict": _style(
        "verdict",
        fontSize=10.5,
        leading=14,
        borderPadding=6,
        backColor=HIGHLIGHT_FILL,
        spaceBefore=10,
        spaceAfter=10,
    ),
    "note": _style("note", fontSize=9, textColor=colors.HexColor("#7a4b00")),
    "cell": _style("cell", fontSize=7.5, leading=9),
    "cell_failing": _style(
        "cell_failing", fontSize=7.5, leading=9, textColor=FAIL_TEXT
    ),
    "header_cell": _style(
        "header_cell", fontName=FONTS.bold, fontSize=7, leading=8.5, textColor="white"
    ),
    "code": _style("code", fontName=FONTS.mono, fontSize=7.5, leading=9),
}


def text(value: object, style: str = "body") -> Paragraph:
    """Return a paragraph of plain text; markup characters are escaped."""
    return Paragraph(escape(str(value)), STYLES[style])


def markup(value: str, style: str = "body") -> Paragraph:
    """Return a paragraph of reportlab markup; escape inserted values first."""
    return Paragraph(value, STYLES[style])


def code_block(source: str) -> Preformatted:
    return Preformatted(source, STYLES["code"])


def heading(value: str) -> list[Flowable]:
    """Return a section heading that never ends a page (it needs 40 mm below it)."""
    return [CondPageBreak(40 * mm), text(value, "heading")]


def spacer(height_mm: float = 3) -> Spacer:
    return Spacer(1, height_mm * mm)


def chart(png: bytes | None, caption: str) -> Flowable | None:
    """Return the chart image scaled to the text width, or None without an image."""
    if png is None:
        return None
    width_px, height_px = CHART_PIXELS
    width = CONTENT_WIDTH
    height = width * height_px / width_px
    image = Image(io.BytesIO(png), width=width, height=height)
    return KeepTogether([image, text(caption, "subtitle"), spacer(2)])


def chart_pair(
    left: bytes | None, right: bytes | None, caption: str
) -> Flowable | None:
    """Return two charts side by side, or the one that exists, or None."""
    images = [png for png in (left, right) if png is not None]
    if not images:
        return None
    width_px, height_px = HALF_CHART_PIXELS
    width = CONTENT_WIDTH / 2 - 2 * mm
    height = width * height_px / width_px
    cells = [Image(io.BytesIO(png), width=width, height=height) for png in images]
    table = Table([cells], colWidths=[CONTENT_WIDTH / 2] * len(cells))
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return KeepTogether([table, text(caption, "subtitle"), spacer(2)])


def data_table(
    header: list[str],
    rows: list[list[object]],
    widths: list[float],
    highlighted: set[int] | None = None,
    failing: set[int] | None = None,
) -> Table:
    """Return a table that repeats its header on each page.

    ``widths`` are fractions of the text width. A column too narrow for the
    longest word of its header, or for its widest number, is widened, and the
    last column gives up the space. Rows in ``highlighted`` get a tinted background, rows in
    ``failing`` red text. Values that fit their column on one line are drawn
    as plain strings, which lays out several times faster than paragraphs.
    """
    column_widths = _column_widths(header, widths, rows)
    cells: list[list[object]] = [[text(label, "header_cell") for label in header]]
    for position, row in enumerate(rows):
        style = "cell_failing" if position in (failing or ()) else "cell"
        pairs = zip(row, column_widths, strict=True)
        cells.append([_cell(value, width, style) for value, width in pairs])
    table = Table(cells, colWidths=column_widths, repeatRows=1)
    commands = [
        ("BACKGROUND", (0, 0), (-1, 0), HEADER_FILL),
        ("FONT", (0, 1), (-1, -1), FONTS.regular, STYLES["cell"].fontSize),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#cccccc")),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), CELL_PADDING),
        ("RIGHTPADDING", (0, 0), (-1, -1), CELL_PADDING),
    ]
    for row in highlighted or ():
        commands.append(("BACKGROUND", (0, row + 1), (-1, row + 1), HIGHLIGHT_FILL))
    for row in failing or ():
        commands.append(("TEXTCOLOR", (0, row + 1), (-1, row + 1), FAIL_TEXT))
    table.setStyle(TableStyle(commands))
    return table


def _cell(value: object, width: float, style: str) -> object:
    if isinstance(value, Flowable):
        return value
    content = str(value)
    font = STYLES[style]
    fits = pdfmetrics.stringWidth(content, font.fontName, font.fontSize)
    if fits <= width - 2 * CELL_PADDING and "\n" not in content:
        return content
    return text(content, style)


def _column_widths(
    header: list[str], fractions: list[float], rows: list[list[object]]
) -> list[float]:
    style = STYLES["header_cell"]
    widths = []
    for label, fraction in zip(header, fractions, strict=True):
        longest = max(
            pdfmetrics.stringWidth(word, style.fontName, style.fontSize)
            for word in label.split()
        )
        widths.append(max(fraction * CONTENT_WIDTH, longest + 2 * CELL_PADDING + 1))
    widths[-1] -= sum(widths) - CONTENT_WIDTH

    # A number split over two lines (106.2 / 9) is easily misread, so number
    # columns widen to fit their widest value unless the last column would
    # drop below MIN_LAST_COLUMN.
    fitted = list(widths)
    for column in range(len(fitted) - 1):
        numbers = [str(row[column]) for row in rows if _is_number(row[column])]
        if numbers:
            widest = max(_text_width(number) for number in numbers)
            fitted[column] = max(fitted[column], widest + 2 * CELL_PADDING + 1)
    fitted[-1] = CONTENT_WIDTH - sum(fitted[:-1])
    return fitted if fitted[-1] >= MIN_LAST_COLUMN else widths


def _is_number(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and NUMBER_TEXT.fullmatch(value) is not None


def _text_width(value: str, style: str = "cell") -> float:
    font = STYLES[style]
    return pdfmetrics.stringWidth(value, font.fontName, font.fontSize)


def build_pdf(story: list[Flowable | None], title: str, footer: str) -> bytes:
    """Lay out ``story`` (None entries are skipped) and return the PDF bytes."""
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN,
        bottomMargin=MARGIN + 4 * mm,
        title=title,
        author="analyzer_core",
    )

    def draw_footer(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont(FONTS.regular, 7.5)
        canvas.setFillColor(colors.HexColor("#777777"))
        canvas.drawString(MARGIN, MARGIN - 2 * mm, footer)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, MARGIN - 2 * mm, f"page {doc.page}")
        canvas.restoreState()

    flowables = [item for item in story if item is not None]
    document.build(flowables, onFirstPage=draw_footer, onLaterPages=draw_footer)
    return buffer.getvalue()
