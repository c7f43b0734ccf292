"""QR codes (segno) as Qt pixmaps, and the printed receipt (QPrinter)."""

from __future__ import annotations

import io
from pathlib import Path

import segno
from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPixmap
from PySide6.QtPrintSupport import QPrinter

from kiosk.core.casting import Receipt
from kiosk.ui.text import Lang, tr


def qr_pixmap(
    url: str, size: int = 240, *, dark: str = "#000000", light: str = "#ffffff"
) -> QPixmap:
    buffer = io.BytesIO()
    qr = segno.make(url, error="m")
    modules = qr.symbol_size(scale=1, border=4)[0]
    qr.save(buffer, kind="png", scale=max(1, size // modules), border=4, dark=dark, light=light)
    pixmap = QPixmap()
    pixmap.loadFromData(buffer.getvalue(), "PNG")
    return pixmap


def ballot_url(base: str, code: str) -> str:
    return f"{base.rstrip('/')}/ballots/{code}"


def checked_url(base: str, code: str) -> str:
    return f"{base.rstrip('/')}/checked/{code}"


def print_receipt(printer: QPrinter, receipt: Receipt, base_url: str, lang: Lang) -> None:
    """Draw the receipt (tracking code, block, QR) on ``printer``: a small A6 page."""
    printer.setPageLayout(
        QPageLayout(
            QPageSize(QPageSize.PageSizeId.A6),
            QPageLayout.Orientation.Portrait,
            QMarginsF(8, 8, 8, 8),
            QPageLayout.Unit.Millimeter,
        )
    )
    painter = QPainter()
    if not painter.begin(printer):
        raise OSError("the printer could not be opened")
    try:
        page = printer.pageLayout().paintRectPixels(printer.resolution())
        width = float(page.width())
        y = 0.0
        for text, points, bold in (
            (tr("receipt.title", lang), 13, True),
            (tr("receipt.code", lang), 9, False),
            (receipt.tracking_code, 11, True),
            (tr("receipt.block", lang, block=receipt.block_number), 9, False),
        ):
            font = QFont("Noto Sans CJK JP", points)
            font.setBold(bold)
            painter.setFont(font)
            rect = QRectF(0, y, width, page.height() / 2)
            bound = painter.boundingRect(
                rect, int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWrapAnywhere), text
            )
            painter.drawText(
                bound, int(Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWrapAnywhere), text
            )
            y += bound.height() + printer.resolution() * 0.08
        side = min(width, page.height() - y) * 0.8
        qr = qr_pixmap(ballot_url(base_url, receipt.tracking_code), int(side))
        painter.drawPixmap(QRectF(0, y, side, side), qr, QRectF(qr.rect()))
    finally:
        painter.end()


def pdf_printer(path: Path) -> QPrinter:
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printer.setOutputFileName(str(path))
    return printer
