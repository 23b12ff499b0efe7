"""
Names as they are shown in messages: a file name holding control characters (an ESC sequence that
would recolour or rewrite the terminal, a newline that would forge a second line) is shown escaped,
never raw. One helper, used wherever a name a user or a folder supplied is printed. Pure.
"""

from __future__ import annotations

import os
import unicodedata

# Control characters (C0, DEL, C1), line and paragraph separators, and the bidirectional controls that
# reorder what a terminal shows.
BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\"}


def needs_escape(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in BIDI or "\udc80" <= char <= "\udcff"


def escape(text: str) -> str:
    """``text`` with each control character as ``\\n``, ``\\x1b``, ``\\u202e`` and a backslash doubled, so that
    what is shown reads back as one name only; a name without either is shown exactly as it is."""
    if not any(needs_escape(char) or char == "\\" for char in text):
        return text
    out = []
    for char in text:
        if char in NAMED:
            out.append(NAMED[char])
        elif "\udc80" <= char <= "\udcff":  # a byte that is not UTF-8 (os.fsdecode's surrogate escape)
            out.append(f"\\x{ord(char) - 0xDC00:02x}")
        elif needs_escape(char):
            out.append(f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)


def escape_controls(text: str) -> str:
    """Only the control characters of ``text`` escaped (a message's backslashes kept as they are)."""
    return "".join(escape(char) if needs_escape(char) else char for char in text)


def shown(name: str | os.PathLike) -> str:
    """A file name or path, safe to print on one line."""
    return escape(os.fspath(name))
