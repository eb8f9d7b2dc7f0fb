"""Errors as plain sentences, with the technical detail one click away ("Show Details…").

The user never sees a traceback dialog: an unexpected exception in the GUI is written to the
file log (redacted by the logging filter) and the user gets a sentence and where the log is.
"""
from __future__ import annotations

import logging
import sys
import traceback

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QMessageBox, QWidget
from shiboken6 import isValid

from desktop_app import APP_DISPLAY_NAME
from desktop_app.core.redact import redact

log = logging.getLogger("desktop_app.ui")

UNEXPECTED = ("Something unexpected went wrong inside ml-connector. Nothing was sent twice and your data "
              "is safe; the details were written to the log file in {logs}. If it keeps happening, send "
              "that file to support.")


def alive(obj) -> bool:
    """False once Qt has deleted the C++ side of a widget (a late db or job callback must skip it)."""
    return obj is not None and isValid(obj)


def error_box(parent: QWidget | None, sentence: str, details: str = "", *,
              title: str = APP_DISPLAY_NAME, icon=QMessageBox.Icon.Warning) -> QMessageBox:
    box = QMessageBox(icon, title, redact(sentence), QMessageBox.StandardButton.Ok, parent)
    plain_text_box(box)
    box.setObjectName("errorBox")
    if details:
        box.setDetailedText(redact(details))
    return box


def plain_text_box(box: QMessageBox) -> QMessageBox:
    """Show a box's text as written: a ServiceTitan or SYSPRO message with `<` in it is text, not HTML
    (QMessageBox guesses "rich text" from the first tag it sees). Call after setting the texts."""
    box.setTextFormat(Qt.TextFormat.PlainText)
    for label in box.findChildren(QLabel):  # the informative text has a label of its own
        label.setTextFormat(Qt.TextFormat.PlainText)
    return box


def show_error(parent: QWidget | None, sentence: str, details: str = "", *, blocking: bool = False,
               title: str = APP_DISPLAY_NAME) -> QMessageBox:
    """Show a sentence; window-modal and non-blocking unless `blocking` (start-up errors before the loop)."""
    box = error_box(parent, sentence, details, title=title)
    if blocking:
        box.exec()
    else:
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
    return box


class GuiExceptHook:
    """sys.excepthook for the GUI: log the traceback, show one plain sentence, keep running."""

    def __init__(self, parent_getter=lambda: None):
        self._parent_getter = parent_getter
        self._previous = None
        self._showing = False
        self.last_box: QMessageBox | None = None

    def install(self) -> GuiExceptHook:
        self._previous = sys.excepthook
        sys.excepthook = self
        return self

    def uninstall(self) -> None:
        if sys.excepthook is self:
            sys.excepthook = self._previous or sys.__excepthook__

    def __call__(self, exc_type, exc, tb) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            (self._previous or sys.__excepthook__)(exc_type, exc, tb)
            return
        log.error("Unexpected error in the window: %s", exc_type.__name__, exc_info=(exc_type, exc, tb))
        if self._showing:  # an error while showing the error: the log has it, don't stack dialogs
            return
        from desktop_app.core import paths

        self._showing = True
        try:
            detail = redact("".join(traceback.format_exception_only(exc_type, exc)).strip())
            self.last_box = show_error(self._parent_getter(), UNEXPECTED.format(logs=paths.log_dir()), detail)
            self.last_box.finished.connect(self._closed)
        except Exception:  # never raise from the hook itself
            self._showing = False

    def _closed(self, _result: int) -> None:
        self._showing = False
