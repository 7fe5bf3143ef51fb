"""Text for an operator's terminal: one table row stays one line, whatever a reason or an error holds.

Reasons, errors and audit lines come from the shop, the ERP and exceptions: they may hold newlines, tabs,
terminal escape sequences or pages of text. `one_line` makes any of them safe for one cell of a row.
"""
from __future__ import annotations

import re

_SPACE = re.compile(r"[\s\x85\u2028\u2029]+")  # newline, tab, CR, vertical tab, form feed, Unicode line breaks
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # what is left: escape sequences, NUL, BEL, …


def one_line(value: object, limit: int | None = None) -> str:
    """`value` as one line: runs of whitespace (newlines and tabs included) become one space, other control
    characters are shown escaped (ESC as \\x1b, so nothing reaches the terminal as a command), and text longer
    than `limit` characters is cut, ending with "…". None is the empty string."""
    text = "" if value is None else str(value)
    text = _SPACE.sub(" ", text).strip()
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    if limit is not None and len(text) > limit:
        text = text[:max(limit - 1, 0)].rstrip() + "…"
    return text
