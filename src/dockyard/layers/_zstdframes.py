"""A cheap structural walk over zstd frames, to tell a complete stream from a truncated one.

``zstandard``'s streaming readers return end-of-stream quietly when their input stops
mid-frame. This walker reads only frame and block headers (it never decompresses),
so feeding it every compressed byte costs next to nothing and tells, at the end,
whether the last frame was complete.
"""

from __future__ import annotations

from typing import Final

from dockyard.errors import InvalidInput

_ZSTD_MAGIC: Final = 0xFD2FB528
_SKIPPABLE_MASK: Final = 0xFFFFFFF0
_SKIPPABLE_MAGIC: Final = 0x184D2A50

_MAGIC, _FRAME_HEADER, _FRAME_HEADER_REST, _BLOCK, _CHECKSUM, _SKIP_SIZE = range(6)


class ZstdFrameChecker:
    """Feed it the compressed bytes in order; :meth:`complete` says if they end at a frame boundary."""

    __slots__ = ("_buf", "_checksum", "_frames", "_need", "_skip", "_state")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._skip = 0
        self._state = _MAGIC
        self._need = 4
        self._checksum = False
        self._frames = 0

    def feed(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        pos = 0
        end = len(view)
        while True:
            if self._skip:
                n = min(self._skip, end - pos)
                self._skip -= n
                pos += n
                if self._skip:
                    return
            if pos >= end:
                return
            take = min(self._need - len(self._buf), end - pos)
            self._buf += view[pos : pos + take]
            pos += take
            if len(self._buf) < self._need:
                return
            self._advance(bytes(self._buf))
            self._buf.clear()

    def _advance(self, b: bytes) -> None:
        state = self._state
        if state == _MAGIC:
            magic = int.from_bytes(b, "little")
            if magic == _ZSTD_MAGIC:
                self._state, self._need = _FRAME_HEADER, 1
            elif magic & _SKIPPABLE_MASK == _SKIPPABLE_MAGIC:
                self._state, self._need = _SKIP_SIZE, 4
            else:
                raise InvalidInput("invalid zstd data: unknown frame magic (corrupt or trailing garbage)")
        elif state == _FRAME_HEADER:
            fhd = b[0]
            if fhd & 0x08:
                raise InvalidInput("invalid zstd data: reserved frame header bit set")
            fcs_flag = fhd >> 6
            single_segment = bool(fhd & 0x20)
            self._checksum = bool(fhd & 0x04)
            did_size = (0, 1, 2, 4)[fhd & 0x03]
            fcs_size = (1 if single_segment else 0, 2, 4, 8)[fcs_flag]
            rest = (0 if single_segment else 1) + did_size + fcs_size
            if rest:
                self._state, self._need = _FRAME_HEADER_REST, rest
            else:
                self._state, self._need = _BLOCK, 3
        elif state == _FRAME_HEADER_REST:
            self._state, self._need = _BLOCK, 3
        elif state == _BLOCK:
            header = int.from_bytes(b, "little")
            last = header & 1
            btype = (header >> 1) & 3
            size = header >> 3
            if btype == 3:
                raise InvalidInput("invalid zstd data: reserved block type")
            self._skip = 1 if btype == 1 else size
            if not last:
                self._state, self._need = _BLOCK, 3
            elif self._checksum:
                self._state, self._need = _CHECKSUM, 4
            else:
                self._end_frame()
        elif state == _CHECKSUM:
            self._end_frame()
        elif state == _SKIP_SIZE:
            self._skip = int.from_bytes(b, "little")
            self._end_frame()

    def _end_frame(self) -> None:
        self._frames += 1
        self._state, self._need = _MAGIC, 4

    def complete(self) -> bool:
        """True when the bytes fed so far end exactly after a whole frame."""
        return self._frames > 0 and self._state == _MAGIC and not self._buf and not self._skip
