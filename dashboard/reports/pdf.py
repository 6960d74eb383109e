"""The PDF side of every report: page frame, text, tables and vector charts (reportlab).

Every page carries the report's title and data range at the top and the generation time with
"page N of M" at the bottom. Charts are reportlab drawings, so they stay sharp at any zoom.
Untrusted text (agent names) only ever reaches the page through :func:`safe`, which shows
control characters as marks and escapes reportlab's paragraph markup, so a name such as
``<font color=red>`` is printed as it is written.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)
from reportlab.platypus.flowables import Flowable

from dashboard.domain.text import show_controls

INK = colors.HexColor("#1f2933")
MUTED = colors.HexColor("#616e7c")
RULE = colors.HexColor("#cbd2d9")
ACCENT = colors.HexColor("#2f6fb0")
GOOD = colors.HexColor("#2e7d32")
BAD = colors.HexColor("#c62828")
SERIES_COLORS = [ACCENT, colors.HexColor("#e07b1a"), colors.HexColor("#6b4fb3"), GOOD]

#: Where Debian's fonts-dejavu-core puts the fonts the PDFs use (the runtime image installs it;
#: tests/test_deploy_files.py checks the two agree), and the files taken from there.
FONT_PACKAGE = "fonts-dejavu-core"
FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf")
_FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu")]


def _register_fonts() -> tuple[str, str]:
    """DejaVu Sans when the system has it (wide Unicode coverage for agent names), else the
    Vera fonts that ship inside reportlab; Helvetica as the last resort."""
    candidates = [(d / FONT_FILES[0], d / FONT_FILES[1]) for d in _FONT_DIRS]
    import reportlab

    rl = Path(reportlab.__file__).parent / "fonts"
    candidates.append((rl / "Vera.ttf", rl / "VeraBd.ttf"))
    for regular, bold in candidates:
        if regular.is_file() and bold.is_file():
            if "OrcaSans" not in pdfmetrics.getRegisteredFontNames():
                pdfmetrics.registerFont(TTFont("OrcaSans", str(regular)))
                pdfmetrics.registerFont(TTFont("OrcaSans-Bold", str(bold)))
            return "OrcaSans", "OrcaSans-Bold"
    return "Helvetica", "Helvetica-Bold"


FONT, BOLD = _register_fonts()

STYLES = {
    "h1": ParagraphStyle("h1", fontName=BOLD, fontSize=18, leading=22, textColor=INK, spaceAfter=4),
    "h2": ParagraphStyle(
        "h2", fontName=BOLD, fontSize=13, leading=16, textColor=INK, spaceBefore=10, spaceAfter=4
    ),
    "body": ParagraphStyle("body", fontName=FONT, fontSize=9.5, leading=13, textColor=INK),
    "muted": ParagraphStyle("muted", fontName=FONT, fontSize=8.5, leading=11, textColor=MUTED),
    "cell": ParagraphStyle("cell", fontName=FONT, fontSize=8.5, leading=10.5, textColor=INK),
    "cellb": ParagraphStyle("cellb", fontName=BOLD, fontSize=8.5, leading=10.5, textColor=INK),
    "num": ParagraphStyle(
        "num", fontName=FONT, fontSize=8.5, leading=10.5, textColor=INK, alignment=TA_RIGHT
    ),
    "numb": ParagraphStyle(
        "numb", fontName=BOLD, fontSize=8.5, leading=10.5, textColor=INK, alignment=TA_RIGHT
    ),
    "callout": ParagraphStyle(
        "callout",
        fontName=FONT,
        fontSize=9.5,
        leading=13,
        textColor=INK,
        alignment=TA_LEFT,
        backColor=colors.HexColor("#f0f4f8"),
        borderPadding=6,
        spaceBefore=8,
        spaceAfter=10,
    ),
}


def safe(value: object) -> str:
    """Untrusted text for a Paragraph: controls shown as [U+XXXX], markup escaped."""
    return escape(show_controls("" if value is None else value))


def para(text: str, style: str = "body") -> Paragraph:
    """A paragraph of the report's OWN words (which may use <b>); data goes through safe()."""
    return Paragraph(text, STYLES[style])


def data_para(value: object, style: str = "cell") -> Paragraph:
    return Paragraph(safe(value), STYLES[style])


@dataclass(frozen=True)
class Frame:
    """What every page shows: the title, the data range and when the report was made."""

    title: str
    data_range: str
    generated_at: datetime


class _NumberedCanvas(Canvas):  # type: ignore[misc]
    """Holds every page until the end, so each footer can say "page N of M"."""

    frame: Frame

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 - reportlab's name
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self._decorate(total)
            super().showPage()
        super().save()

    def _decorate(self, total: int) -> None:
        width, height = A4
        f = self.frame
        self.saveState()
        self.setStrokeColor(RULE)
        self.setLineWidth(0.6)
        self.line(18 * mm, height - 16 * mm, width - 18 * mm, height - 16 * mm)
        self.line(18 * mm, 14 * mm, width - 18 * mm, 14 * mm)
        self.setFillColor(MUTED)
        self.setFont(BOLD, 8.5)
        self.drawString(18 * mm, height - 13 * mm, f.title)
        self.setFont(FONT, 8.5)
        self.drawRightString(width - 18 * mm, height - 13 * mm, "ORCA Ops Console")
        self.drawString(
            18 * mm,
            9.5 * mm,
            f"Generated {f.generated_at:%Y-%m-%d %H:%M} UTC · Data: {f.data_range}",
        )
        self.drawRightString(width - 18 * mm, 9.5 * mm, f"Page {self._pageNumber} of {total}")
        self.restoreState()


def render(frame: Frame, story: Sequence[Flowable]) -> bytes:
    """The PDF bytes of ``story`` on A4 pages framed by ``frame``."""
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=22 * mm,
        bottomMargin=20 * mm,
        title=frame.title,
        author="ORCA Ops Console",
        subject=f"Data: {frame.data_range}",
    )

    class Bound(_NumberedCanvas):
        pass

    Bound.frame = frame
    doc.build(list(story), canvasmaker=Bound)
    return out.getvalue()


CONTENT_WIDTH = A4[0] - 36 * mm


def table(
    header: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    widths: Sequence[float] | None = None,
    numeric: Sequence[int] = (),
    zebra: bool = True,
) -> Table:
    """A plain table: bold header, light rule lines, numbers right-aligned. Cells that are
    already Paragraphs stay as they are; anything else is shown as escaped text."""
    nums = set(numeric)
    body: list[list[object]] = [
        [Paragraph(safe(h), STYLES["numb" if i in nums else "cellb"]) for i, h in enumerate(header)]
    ]
    for row in rows:
        body.append(
            [
                c if isinstance(c, Flowable) else data_para(c, "num" if i in nums else "cell")
                for i, c in enumerate(row)
            ]
        )
    if widths is None:
        widths = [CONTENT_WIDTH / len(header)] * len(header)
    t = Table(body, colWidths=list(widths), repeatRows=1, hAlign="LEFT")
    style: list[tuple[Any, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, INK),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, RULE),
        ("TOPPADDING", (0, 0), (-1, -1), 3),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]
    if zebra:
        for i in range(2, len(body), 2):
            style.append(("BACKGROUND", (0, i), (-1, i), colors.HexColor("#f7f9fb")))
    for col in numeric:
        style.append(("ALIGN", (col, 0), (col, -1), "RIGHT"))
    t.setStyle(TableStyle(style))
    return t


def _nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        hi = lo + 1.0
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks: list[float] = []
    v = start
    while v <= hi + step * 0.5 and len(ticks) < 20:
        ticks.append(round(v, 10))
        v += step
    return ticks


def _fmt(v: float, unit: str) -> str:
    if unit == "usd":
        return f"${v / 1000:,.0f}k" if abs(v) >= 10_000 else f"${v:,.0f}"
    if abs(v) >= 1e9:
        return f"{v / 1e9:g}G"
    if abs(v) >= 1e6:
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:g}"


_STEPS_H = (1, 2, 3, 6, 12, 24, 48, 72, 24 * 7, 24 * 14, 24 * 30)


def _time_ticks(t0: float, t1: float, tz: Any) -> list[datetime]:
    """At most ~7 tick moments on whole hours / midnights between t0 and t1."""
    span_h = (t1 - t0) / 3600
    step_h = next((h for h in _STEPS_H if span_h / h <= 7), _STEPS_H[-1])
    first = datetime.fromtimestamp(t0, tz=tz).replace(minute=0, second=0, microsecond=0)
    if step_h >= 24:
        first = first.replace(hour=0)
    while first.timestamp() < t0:
        first += timedelta(hours=step_h if step_h < 24 else 24)
    out: list[datetime] = []
    when = first
    while when.timestamp() <= t1 and len(out) < 12:
        out.append(when)
        when += timedelta(hours=step_h)
    return out


def _time_label(when: datetime, span_s: float) -> str:
    if span_s >= 4 * 86400:
        return f"{when:%d %b}"
    if when.hour == 0:
        return f"{when:%d %b}"
    return f"{when:%H:%M}"


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float | None]]
    dashed: bool = False


def line_chart(
    title: str,
    series: Sequence[Series],
    *,
    unit: str = "",
    reference: tuple[float, str] | None = None,
    bars: bool = False,
    width: float = CONTENT_WIDTH,
    height: float = 52 * mm,
    y_min: float | None = None,
    y_max: float | None = None,
) -> Drawing:
    """A time chart as vector shapes: lines (or bars for one series), a dashed reference line
    (target or guide limit) with its label, y ticks and a few date labels."""
    d = Drawing(width, height)
    left, right, top, bottom = 40.0, 8.0, 16.0, 18.0
    pw, ph = width - left - right, height - top - bottom
    d.add(String(0, height - 10, title, fontName=BOLD, fontSize=9, fillColor=INK))
    pts = [(t, v) for s in series for t, v in s.points if v is not None and math.isfinite(v)]
    if len({t for t, _ in pts}) < 2:
        message = (
            "no data recorded in this period"
            if not pts
            else "only one point recorded so far: no trend to draw yet"
        )
        d.add(Rect(left, bottom, pw, ph, strokeColor=RULE, fillColor=None, strokeWidth=0.5))
        d.add(
            String(
                left + pw / 2,
                bottom + ph / 2,
                message,
                fontName=FONT,
                fontSize=8.5,
                fillColor=MUTED,
                textAnchor="middle",
            )
        )
        return d
    t0 = min(t for t, _ in pts).timestamp()
    t1 = max(t for t, _ in pts).timestamp()
    if t1 <= t0:
        t1 = t0 + 3600
    vals = [v for _, v in pts if v is not None]
    lo = min(vals) if y_min is None else y_min
    hi = max(vals) if y_max is None else y_max
    if reference is not None:
        lo, hi = min(lo, reference[0]), max(hi, reference[0])
    if bars:
        lo = min(0.0, lo)
    pad = (hi - lo) * 0.08 or 1.0
    floor = lo if bars or y_min is not None else lo - pad
    if lo >= 0 > floor:  # a share or a count never goes below 0: no negative axis
        floor = 0.0
    ticks = _nice_ticks(floor, hi + pad)
    lo, hi = ticks[0], ticks[-1]

    def x(t: datetime) -> float:
        return left + (t.timestamp() - t0) / (t1 - t0) * pw

    def y(v: float) -> float:
        return bottom + (v - lo) / (hi - lo) * ph

    for tv in ticks:
        d.add(Line(left, y(tv), left + pw, y(tv), strokeColor=RULE, strokeWidth=0.3))
        d.add(
            String(
                left - 4,
                y(tv) - 3,
                _fmt(tv, unit),
                fontName=FONT,
                fontSize=7,
                fillColor=MUTED,
                textAnchor="end",
            )
        )
    d.add(Line(left, bottom, left + pw, bottom, strokeColor=MUTED, strokeWidth=0.6))
    tz = pts[0][0].tzinfo
    if bars and len(series) == 1:
        items = [(t, v) for t, v in series[0].points if v is not None]
        slot = pw / max(len(items), 1)
        bw = max(1.0, slot * 0.7)
        every = max(1, math.ceil(len(items) / 8))
        for i, (t, v) in enumerate(items):
            over = reference is not None and v >= reference[0]
            cx = left + slot * (i + 0.5)
            d.add(
                Rect(
                    cx - bw / 2,
                    y(0),
                    bw,
                    y(v) - y(0),
                    strokeColor=None,
                    fillColor=BAD if over else ACCENT,
                )
            )
            if i % every == 0:
                d.add(
                    String(
                        cx,
                        bottom - 11,
                        f"{t:%d %b}",
                        fontName=FONT,
                        fontSize=7,
                        fillColor=MUTED,
                        textAnchor="middle",
                    )
                )
    else:
        for when in _time_ticks(t0, t1, tz):
            d.add(
                String(
                    x(when),
                    bottom - 11,
                    _time_label(when, t1 - t0),
                    fontName=FONT,
                    fontSize=7,
                    fillColor=MUTED,
                    textAnchor="middle",
                )
            )
    if not (bars and len(series) == 1):
        for i, s in enumerate(series):
            color = SERIES_COLORS[i % len(SERIES_COLORS)]
            run: list[float] = []
            for t, v0 in s.points:
                if v0 is None or not math.isfinite(v0):
                    if len(run) >= 4:
                        d.add(PolyLine(run, strokeColor=color, strokeWidth=1.3))
                    run = []
                    continue
                run += [x(t), y(v0)]
            if len(run) >= 4:
                d.add(
                    PolyLine(
                        run,
                        strokeColor=color,
                        strokeWidth=1.3,
                        strokeDashArray=[3, 2] if s.dashed else None,
                    )
                )
            elif len(run) == 2:
                d.add(Rect(run[0] - 1.5, run[1] - 1.5, 3, 3, fillColor=color, strokeColor=None))
        if len(series) > 1:
            lx = left + pw
            for i, s in reversed(list(enumerate(series))):
                color = SERIES_COLORS[i % len(SERIES_COLORS)]
                w = pdfmetrics.stringWidth(s.name, FONT, 7)
                lx -= w + 16
                d.add(Rect(lx, height - 9, 8, 3, fillColor=color, strokeColor=None))
                d.add(
                    String(lx + 11, height - 10, s.name, fontName=FONT, fontSize=7, fillColor=INK)
                )
    if reference is not None:
        ry = y(reference[0])
        d.add(
            Line(left, ry, left + pw, ry, strokeColor=BAD, strokeWidth=0.8, strokeDashArray=[4, 3])
        )
        # Bars may cover the right end: their limit is labelled on the left, over a white box.
        lx, anchor = (left + 3, "start") if bars else (left + pw - 2, "end")
        lw = pdfmetrics.stringWidth(reference[1], FONT, 7)
        bx = lx if anchor == "start" else lx - lw
        d.add(Rect(bx - 1, ry + 1.5, lw + 2, 8, fillColor=colors.white, strokeColor=None))
        d.add(
            String(
                lx,
                ry + 2.5,
                reference[1],
                fontName=FONT,
                fontSize=7,
                fillColor=BAD,
                textAnchor=anchor,
            )
        )
    return d


def section(title: str, *flowables: Flowable) -> KeepTogether:
    """A heading kept on the same page as what follows it."""
    return KeepTogether([Paragraph(escape(title), STYLES["h2"]), *flowables])


def gap(height_mm: float = 3) -> Spacer:
    return Spacer(1, height_mm * mm)
