"""Small pieces the data pages share: state badges, money text, a search box, a status line,
and messages that say what happened in a sentence (details one click away, never a traceback)."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontMetrics,
    QGuiApplication,
    QIcon,
    QKeySequence,
    QPainter,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QWidget,
)

from desktop_app.ui.messages import plain_text_box

# Same palette as resources/style.qss (QLabel[state=...]): background, text.
STATE_COLOURS: dict[str, tuple[str, str]] = {
    "DISCOVERED": ("#DBEAFE", "#1E40AF"),
    "POSTING": ("#DBEAFE", "#1E40AF"),
    "READY": ("#DCFCE7", "#166534"),
    "POSTED": ("#DCFCE7", "#166534"),
    "CONFIRMED": ("#DCFCE7", "#166534"),
    "NEEDS_MAPPING": ("#FEF3C7", "#92400E"),
    "FAILED": ("#FEE2E2", "#991B1B"),
    "IN_DOUBT": ("#FFEDD5", "#9A3412"),
    "CHANGED_IN_SOURCE": ("#EDE9FE", "#5B21B6"),
    "SKIPPED": ("#F3F4F6", "#6B7280"),
    "WAITING_FOR_ORIGINAL": ("#DBEAFE", "#1E40AF"),
    "UNREADABLE": ("#FEE2E2", "#991B1B"),
    # states only the two-way flows have, in the hue of the invoice state that means the same
    "SYNCING": ("#DBEAFE", "#1E40AF"),
    "SYNCED": ("#DCFCE7", "#166534"),
    "CONFLICT": ("#EDE9FE", "#5B21B6"),
    "HELD": ("#FEF3C7", "#92400E"),
    "WAITING_APPROVAL": ("#E0F2FE", "#075985"),
}
STATE_LABELS: dict[str, str] = {
    "DISCOVERED": "Discovered", "NEEDS_MAPPING": "Needs mapping", "SKIPPED": "Skipped", "READY": "Ready",
    "POSTING": "Posting", "POSTED": "Posted", "CONFIRMED": "Confirmed", "FAILED": "Failed",
    "IN_DOUBT": "In doubt", "CHANGED_IN_SOURCE": "Changed in source",
    "WAITING_FOR_ORIGINAL": "Waiting for original", "HELD": "Held",
    "WAITING_APPROVAL": "Waiting for approval", "UNREADABLE": "Cannot be read",
}
PROBLEM_BACKGROUND = QColor("#FEE2E2")
DIFFERENCE_BACKGROUND = QColor("#FEF3C7")
MUTED_TEXT = QColor("#6B7280")
STATE_ROLE = Qt.ItemDataRole.UserRole + 1  # the raw ledger state of a row
ID_ROLE = Qt.ItemDataRole.UserRole + 2     # the database id behind a row

CENT = Decimal("0.01")


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state.replace("_", " ").capitalize())


def format_money(value: Decimal | str | None) -> str:
    """12345.5 → '12,345.50'. Decimal all the way: no float ever touches an amount."""
    if value is None or value == "":
        return ""
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value))
        return f"{amount.quantize(CENT, rounding=ROUND_HALF_UP):,.2f}"
    except (InvalidOperation, ValueError):
        return str(value)


def monospace_font() -> QFont:
    return QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)


def set_badge(label: QLabel, state: str) -> None:
    """A QLabel styled as a state badge; colours come from style.qss, with an inline fallback."""
    label.setProperty("state", state)
    label.setText(state_label(state))
    background, text = STATE_COLOURS.get(state, ("#E5E7EB", "#374151"))
    label.setStyleSheet(f"QLabel {{ background: {background}; color: {text}; border-radius: 8px; "
                        "padding: 1px 8px; font-weight: 600; }")


def _badge_font(font: QFont) -> QFont:
    font = QFont(font)
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.9))
    font.setBold(True)
    return font


def _badge_size(metrics: QFontMetrics, label: str) -> tuple[int, int]:
    return metrics.horizontalAdvance(label) + 16, metrics.height() + 4


def _paint_badge(painter: QPainter, rect: QRectF, state: str, label: str) -> None:
    """The pill itself, in the painter's (badge) font: drawn into the badge icon."""
    background, text = STATE_COLOURS.get(state, ("#E5E7EB", "#374151"))
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(background))
    painter.drawRoundedRect(rect, rect.height() / 2, rect.height() / 2)
    painter.setPen(QColor(text))
    painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)


_BADGE_ICONS: dict[tuple, QIcon] = {}
BADGE_LEFT = 3  # transparent margin left of the pill: with the view's own 3 px, the pill sits 6 px in


def state_badge_icon(state: str, font: QFont | None = None) -> QIcon:
    """The state pill as an icon (cached per state, font and pixel ratio), for a model's DecorationRole.

    Qt's own delegate paints it, so a repaint does not enter Python per badge (a Python delegate
    would). Same pixmap in every mode: a selected row's badge is not tinted."""
    font = QGuiApplication.font() if font is None else font
    ratio = QGuiApplication.instance().devicePixelRatio() if QGuiApplication.instance() else 1.0
    key = (state, font.key(), ratio)
    icon = _BADGE_ICONS.get(key)
    if icon is None:
        label = state_label(state)
        badge_font = _badge_font(font)
        width, height = _badge_size(QFontMetrics(badge_font), label)
        pixmap = QPixmap(round((width + BADGE_LEFT) * ratio), round(height * ratio))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setFont(badge_font)
        _paint_badge(painter, QRectF(BADGE_LEFT, 0, width, height), state, label)
        painter.end()
        icon = QIcon()
        for mode in (QIcon.Mode.Normal, QIcon.Mode.Selected, QIcon.Mode.Active):
            icon.addPixmap(pixmap, mode)
        _BADGE_ICONS[key] = icon
    return icon


def badge_column_width(states, font: QFont | None = None) -> int:
    """Width of a grid column that shows the badges of `states` whole (the widest, with the
    view's margins)."""
    metrics = QFontMetrics(_badge_font(QGuiApplication.font() if font is None else font))
    return max((_badge_size(metrics, state_label(state))[0] for state in states), default=0) + BADGE_LEFT + 12


class SearchBox(QLineEdit):
    """A line edit that announces its text a moment after the user stops typing."""

    searchChanged = Signal(str)

    def __init__(self, placeholder: str = "Search", parent: QWidget | None = None, delay_ms: int = 250):
        super().__init__(parent)
        self.setPlaceholderText(placeholder)
        self.setClearButtonEnabled(True)
        self.setMinimumWidth(220)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._announce)
        self.textChanged.connect(self._timer.start)
        self.returnPressed.connect(self._announce)

    def _announce(self) -> None:
        self._timer.stop()
        self.searchChanged.emit(self.text().strip())

    def focus(self) -> None:
        self.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.selectAll()


class StatusLine(QWidget):
    """What the page is doing now, or what the last action did, in one plain sentence."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)  # busy: no known end
        self.progress.setFixedWidth(90)
        self.progress.setMaximumHeight(12)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setObjectName("hint")
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.progress)
        layout.addWidget(self.label, 1)

    def busy(self, text: str) -> None:
        self.progress.show()
        self.label.setStyleSheet("")
        self.label.setText(text)

    def done(self, text: str) -> None:
        self.progress.hide()
        self.label.setStyleSheet("")
        self.label.setText(text)

    def failed(self, text: str) -> None:
        self.progress.hide()
        self.label.setStyleSheet("color: #991B1B;")
        self.label.setText(text)

    def text(self) -> str:
        return self.label.text()


def show_message(parent: QWidget, title: str, text: str, *, details: str = "", informative: str = "",
                 icon: QMessageBox.Icon = QMessageBox.Icon.Warning) -> QMessageBox:
    """A window-modal message that does not block the caller (open(), not exec()).

    The box is kept on the parent as `last_message`, so tests and callers can read or close it.
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, parent)
    if informative:
        box.setInformativeText(informative)
    if details:
        box.setDetailedText(details)
    plain_text_box(box)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    parent.last_message = box
    box.open()
    return box


def show_error(parent: QWidget, title: str, sentence: str, details: str = "") -> QMessageBox:
    return show_message(parent, title, sentence, details=details, icon=QMessageBox.Icon.Warning)


def add_shortcut(widget: QWidget, keys: QKeySequence | QKeySequence.StandardKey | str, slot) -> QShortcut:
    shortcut = QShortcut(QKeySequence(keys), widget)
    shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    shortcut.activated.connect(slot)
    return shortcut


def plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (many or word + 's')}"

