"""Log lines that cannot be forged: control characters in a message are written as escapes.

A ServiceTitan or SYSPRO text (a vendor name, an error message) that contains a newline or a
carriage return would otherwise start what looks like a log line of its own in the file, and in
the live log. Each record stays one line; tracebacks (`exc_text`) keep their own lines.
Backslashes are left alone, so escaping twice (two handlers share a record) changes nothing.
"""
from __future__ import annotations

import logging
import re

_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# C0 controls, DEL, C1 controls, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str) -> str:
    return _CONTROL.sub(lambda m: _NAMED.get(m.group(), f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                                             else f"\\u{ord(m.group()):04x}"), text)


class ControlCharacterFilter(logging.Filter):
    """Put on every handler: the message (with its arguments) becomes one escaped line."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # arguments that do not fit the message: the handler reports that itself
            return True
        escaped = escape_controls(message)
        if escaped != message or record.args:
            record.msg, record.args = escaped, None
        return True
