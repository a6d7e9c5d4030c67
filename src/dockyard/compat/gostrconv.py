"""Go's ``strconv.Quote`` and the rune tests and forms (``unicode.IsPrint``, ``%#U``) the template engine's
messages use. Undecodable bytes travel as surrogate escapes (``surrogateescape``)."""

from __future__ import annotations

import unicodedata


def go_quote(text: str) -> str:
    """``strconv.Quote``."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\a\b\f\n\r\t\v":
            out.append("\\" + "abfnrtv"["\a\b\f\n\r\t\v".index(ch)])
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte (surrogateescape)
            out.append(f"\\x{code - 0xDC00:02x}")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x80 or is_graphic(ch):
            out.append(ch)
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def is_graphic(ch: str) -> bool:
    """Go's ``unicode.IsPrint`` for a non-ASCII rune (letters, marks, numbers, punctuation, symbols, U+0020)."""
    cat = unicodedata.category(ch)
    return cat[0] in "LMNPS"


def go_rune(ch: str) -> str:
    """``%#U``: ``U+0041 'A'`` (the quoted form only for printable runes)."""
    if not ch:
        return "U+FFFFFFFFFFFFFFFF"  # Go's eof rune (-1) as %#U
    code = ord(ch)
    text = f"U+{code:04X}"
    if " " <= ch <= "~" or (code >= 0x80 and is_graphic(ch)):
        text += f" '{ch}'"
    return text
