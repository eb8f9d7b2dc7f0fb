"""Draw the application and tray icons into resources/icons/.

Run from the repository root:  python packaging/make_icons.py
The outputs are committed; rerun only when the design changes. Qt draws the images offscreen;
the .ico container is written here because PySide6-Essentials ships no ICO image plugin.
Windows Vista and later read PNG-compressed images inside an .ico.
"""
from __future__ import annotations

import os
import struct
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QPointF, QRectF, Qt  # noqa: E402
from PySide6.QtGui import QColor, QGuiApplication, QImage, QPainter, QPainterPath, QPen  # noqa: E402

TEAL = QColor("#0F766E")
WHITE = QColor("#FFFFFF")
STATUS_COLOURS = {
    "tray-ok": QColor("#16A34A"),
    "tray-working": QColor("#2563EB"),
    "tray-attention": QColor("#D97706"),
}
ICO_SIZES = (16, 32, 48, 256)
ICONS_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"


def _draw_link_glyph(painter: QPainter, size: float) -> None:
    """Two interlocking chain links on a diagonal: the 'connector' mark."""
    pen_width = max(size * 0.085, 1.6)
    pen = QPen(WHITE, pen_width, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.NoBrush)
    link_length, link_height = size * 0.44, size * 0.22
    offset = size * 0.155  # how far each link sits from the centre along the diagonal
    centre = QPointF(size / 2, size / 2)
    for sign in (-1, 1):
        painter.save()
        painter.translate(centre)
        painter.rotate(-45)
        painter.translate(sign * offset, 0)
        rect = QRectF(-link_length / 2, -link_height / 2, link_length, link_height)
        painter.drawRoundedRect(rect, link_height / 2, link_height / 2)
        painter.restore()


def draw_app_icon(size: int) -> QImage:
    image = QImage(size, size, QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    margin = size * 0.04
    tile = QPainterPath()
    tile.addRoundedRect(QRectF(margin, margin, size - 2 * margin, size - 2 * margin), size * 0.2, size * 0.2)
    painter.fillPath(tile, TEAL)
    _draw_link_glyph(painter, size)
    painter.end()
    return image


def draw_tray_icon(size: int, status: QColor) -> QImage:
    image = draw_app_icon(size)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.Antialiasing)
    radius = size * 0.19
    centre = QPointF(size - radius - 1, size - radius - 1)
    # A white ring keeps the dot readable on the teal tile and on dark or light taskbars.
    painter.setPen(QPen(WHITE, max(size * 0.05, 1.5)))
    painter.setBrush(status)
    painter.drawEllipse(centre, radius, radius)
    painter.end()
    return image


def png_bytes(image: QImage) -> bytes:
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise RuntimeError("Qt could not encode a PNG image")
    buffer.close()
    return bytes(data)


def ico_bytes(pngs: dict[int, bytes]) -> bytes:
    """An ICONDIR with one PNG-compressed entry per size (0 in the size bytes means 256)."""
    header = struct.pack("<HHH", 0, 1, len(pngs))
    offset = len(header) + 16 * len(pngs)
    entries, blobs = b"", b""
    for size, blob in sorted(pngs.items()):
        dim = 0 if size >= 256 else size
        entries += struct.pack("<BBBBHHII", dim, dim, 0, 0, 1, 32, len(blob), offset)
        blobs += blob
        offset += len(blob)
    return header + entries + blobs


def main(out_dir: Path = ICONS_DIR) -> int:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])  # noqa: F841 (keeps Qt alive)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "ml-connector.png").write_bytes(png_bytes(draw_app_icon(256)))
    (out_dir / "ml-connector.ico").write_bytes(ico_bytes({s: png_bytes(draw_app_icon(s)) for s in ICO_SIZES}))
    for name, colour in STATUS_COLOURS.items():
        (out_dir / f"{name}.png").write_bytes(png_bytes(draw_tray_icon(64, colour)))
    print(f"icons written to {out_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
