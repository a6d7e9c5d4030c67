"""Docker's layer SIZE, counted while a layer's uncompressed tar streams past.

Docker prints a layer's size as what its files take once unpacked (``directory.Size`` of the layer's diff
directory): the bytes of regular files plus the length of each symlink's target, a hard-linked inode once,
directories and whiteouts nothing. That is smaller than the tar stream (headers, padding, the end blocks), so
the tar's length would overstate it. :class:`ContentSizer` walks the tar headers in the chunks it is fed, never
buffering more than one header or one extended header.
"""

from __future__ import annotations

import contextlib
from typing import Final

_BLOCK: Final = 512
_REGULAR: Final = frozenset(b"07\0")
_SYMLINK: Final = ord("2")
_PAX: Final = frozenset(b"xg")
_GNU_LONGLINK: Final = ord("K")
_GNU_LONGNAME: Final = ord("L")
#: Extended headers larger than this are not parsed (their data is skipped, their values ignored).
_MAX_EXTENDED: Final = 1 << 20


def _number(field: bytes) -> int:
    """A tar numeric field: octal text, or GNU base-256 when the high bit of the first byte is set."""
    if field and field[0] & 0x80:
        value = field[0] & 0x3F
        for b in field[1:]:
            value = (value << 8) | b
        return -value if field[0] & 0x40 else value
    text = field.split(b"\0", 1)[0].strip(b" ")
    return int(text, 8) if text else 0


def _pax_records(data: bytes) -> dict[bytes, bytes]:
    out: dict[bytes, bytes] = {}
    pos = 0
    while pos < len(data):
        sp = data.find(b" ", pos)
        if sp < 0:
            break
        try:
            length = int(data[pos:sp])
        except ValueError:
            break
        if length <= 0:
            break
        record = data[sp + 1 : pos + length]
        key, eq, value = record.partition(b"=")
        if eq:
            out[key] = value.removesuffix(b"\n")
        pos += length
    return out


class ContentSizer:
    """Feed it an uncompressed tar in any chunks; :attr:`total` is Docker's SIZE for that layer."""

    def __init__(self) -> None:
        self.total = 0
        self._header = bytearray()
        self._skip = 0  # bytes of member data (and padding) still to pass over
        self._collect: bytearray | None = None  # an extended header's data being gathered
        self._collect_left = 0
        self._collect_kind = 0
        self._pax: dict[bytes, bytes] = {}  # values for the next member
        self._longlink: bytes | None = None
        self._done = False

    def feed(self, data: bytes) -> None:
        pos, end = 0, len(data)
        while pos < end and not self._done:
            if self._collect is not None:
                take = min(self._collect_left, end - pos)
                self._collect += data[pos : pos + take]
                self._collect_left -= take
                pos += take
                if self._collect_left == 0:
                    self._extended(bytes(self._collect))
                    self._collect = None
                continue
            if self._skip:
                take = min(self._skip, end - pos)
                self._skip -= take
                pos += take
                continue
            take = min(_BLOCK - len(self._header), end - pos)
            self._header += data[pos : pos + take]
            pos += take
            if len(self._header) == _BLOCK:
                block = bytes(self._header)
                self._header.clear()
                try:
                    self._member(block)
                except ValueError:
                    self._done = True  # not a tar header: stop counting (the tar reader reports the damage)

    def _member(self, block: bytes) -> None:
        if block.count(0) == _BLOCK:
            self._done = True  # end-of-archive marker
            return
        kind = block[156]
        size = _number(block[124:136])
        padded = -(-max(size, 0) // _BLOCK) * _BLOCK
        if kind in _PAX or kind in (_GNU_LONGLINK, _GNU_LONGNAME):
            if kind == _GNU_LONGNAME or kind == ord("g") or size > _MAX_EXTENDED:
                self._skip = padded
                return
            self._collect = bytearray()
            self._collect_left = size
            self._collect_kind = kind
            self._skip = padded - size
            if size == 0:
                self._extended(b"")
                self._collect = None
            return
        pax, self._pax = self._pax, {}
        longlink, self._longlink = self._longlink, None
        if b"size" in pax:
            with contextlib.suppress(ValueError):
                size = int(pax[b"size"])
            padded = -(-max(size, 0) // _BLOCK) * _BLOCK
        if kind in _REGULAR:
            self.total += max(size, 0)
        elif kind == _SYMLINK:
            if b"linkpath" in pax:
                target = pax[b"linkpath"]
            elif longlink is not None:
                target = longlink
            else:
                target = block[157:257].split(b"\0", 1)[0]
            self.total += len(target)
        if kind in _REGULAR or kind not in b"123456":
            self._skip = padded  # other types carry no data, but skip what a header says it has

    def _extended(self, data: bytes) -> None:
        if self._collect_kind == _GNU_LONGLINK:
            self._longlink = data.split(b"\0", 1)[0]
        else:
            self._pax.update(_pax_records(data))


__all__ = ["ContentSizer"]
