"""Streaming tar reading (and header writing) for layer tars.

:class:`TarReader` walks a tar stream once, front to back, with a bounded buffer:
ustar, GNU (long names, base-256 numbers) and PAX (``path``, ``linkpath``, sizes,
ids, fractional ``mtime``, ``SCHILY.xattr.*``, global headers) are understood.
GNU sparse files are refused. Meta headers (PAX records, GNU long names) are capped
so a hostile header cannot make the reader buffer gigabytes.

It is the one tar reader of dockyard: ``load``/``pull`` (SIZE and the tar check of
:mod:`~dockyard.layers.digesting`), ``system check``, ``unpack``, ``export``, the analyzer walker and the
outer tar of docker-archives and OCI layouts all read with it, so they accept the same streams. Its end
rules are Go's archive/tar's (Docker, podman, umoci): the stream may end without the end-of-archive
blocks, after a single zero block, or inside the padding after a member's complete data (umoci 0.4.7's
``insert`` writes that); it may not end inside a header, inside a zero block, or before a member's data
is complete, and a header after a single zero block is refused. On a seekable file member data is skipped
by seeking (to the last byte, which is then read, so truncation is still found).

:func:`open_layer` opens a layer blob (plain, gzip or zstd), bounds its expansion by
:class:`~dockyard.layers.limits.Limits`, and hands back a :class:`TarReader`; a plain layer in a seekable file (a
docker-archive member, a store blob) skips the data nobody reads by seeking too.
"""

from __future__ import annotations

import base64
import contextlib
import io
import re
import struct
import tarfile
import urllib.parse
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final, Protocol

from dockyard.errors import InvalidInput, UnsafeLayer
from dockyard.layers.compression import CHUNK, DECOMPRESSION_ERRORS, Compression, DecompressedStream
from dockyard.layers.limits import Limits

#: Opens the raw (possibly compressed) blob of one layer, from its start, each time it is called.
LayerOpener = Callable[[], BinaryIO]

BLOCK: Final = 512
#: Largest PAX / GNU long-name header accepted (they are read into memory).
MAX_META_SIZE: Final = 16 << 20
#: Bytes asked of the stream at a time. Small on purpose: a read of 1 MiB gets a fresh 1 MiB buffer from the
#: allocator each time (fresh pages, a page fault every 4 KiB), which made reading a layer 4 times slower.
READ_SIZE: Final = 64 << 10

FILE: Final = "file"
DIR: Final = "dir"
SYMLINK: Final = "symlink"
HARDLINK: Final = "hardlink"
CHAR: Final = "char"
BLOCKDEV: Final = "block"
FIFO: Final = "fifo"
OTHER: Final = "other"

_KINDS: Final = {
    b"0": FILE,
    b"\0": FILE,
    b"7": FILE,
    b"1": HARDLINK,
    b"2": SYMLINK,
    b"3": CHAR,
    b"4": BLOCKDEV,
    b"5": DIR,
    b"6": FIFO,
}
#: Types whose header's size field does not announce data (as Go's archive/tar reads them).
_HEADER_ONLY: Final = frozenset({HARDLINK, SYMLINK, CHAR, BLOCKDEV, DIR, FIFO})
_ZERO_BLOCK: Final = bytes(BLOCK)
#: Extended headers, whose data is read into memory: PAX (local, global), GNU long name and long link.
#: The header fields ``_build`` reads, split in one call: name, mode, uid, gid, (size skipped), mtime, (checksum and
#: type skipped), linkname, magic, uname, gname, (device numbers skipped), prefix.
_FIELDS: Final = struct.Struct("100s8s8s8s12x12s8x1x100s6s2x32s32s16x155s")
#: The numeric fields (mode, uid, gid, size, mtime, checksum: bytes 100 to 156) as GNU tar, Go, Python and
#: skopeo write them: zero-padded octal ending in a NUL (the checksum in NUL and space). A header that matches
#: is read in one call; any other (spaces, base-256, ...) goes through :func:`_num`, field by field.
_STD_NUMS: Final = re.compile(rb"([0-7]{7})\0([0-7]{7})\0([0-7]{7})\0([0-7]{11})\0([0-7]{11})\0([0-7]{6})\0 ")
_META: Final = {b"x": "PAX", b"X": "PAX", b"g": "PAX global", b"L": "GNU long name", b"K": "GNU long link"}


@dataclass(slots=True)
class TarHeader:
    """One tar member, with PAX and GNU extensions applied."""

    name: str
    kind: str
    """``file``, ``dir``, ``symlink``, ``hardlink``, ``char``, ``block``, ``fifo`` or ``other``."""
    size: int = 0
    """Bytes of data that follow (0 for header-only types)."""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    uname: str = ""
    gname: str = ""
    mtime_ns: int = 0
    linkname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)
    typeflag: bytes = b"0"


def _decode(b: bytes) -> str:
    return b.decode("utf-8", "surrogateescape")


def _nts(b: bytes) -> bytes:
    """A NUL-terminated string field."""
    i = b.find(b"\0")
    return b if i < 0 else b[:i]


def _num(b: bytes, what: str) -> int:
    """A numeric header field: octal text, or GNU base-256 when the high bit of the first byte is set."""
    if b and b[0] & 0x80:
        if b[0] == 0xFF:
            return int.from_bytes(b, "big", signed=True)
        return int.from_bytes(bytes([b[0] & 0x7F]) + b[1:], "big")
    s = b.split(b"\0", 1)[0]
    try:
        if b"_" in s:
            raise ValueError(s)  # Python's int() takes 0_7; Go's strconv does not
        return int(s, 8)  # int() strips the spaces around the digits itself (the hot path: one call)
    except ValueError:
        if not s.strip(b" "):
            return 0
        raise InvalidInput(f"invalid tar header: bad {what} field {b!r}") from None


def _byte_sum(block: bytes) -> int:
    """``sum(block)`` of a header block, exactly, in a tenth of the time when at least half its bytes are zero (the
    usual header): the sum is then below 65,521, so adler32's low half (one plus the sum modulo 65,521) holds it."""
    if block.count(0) >= 256:  # 256 other bytes add up to at most 65,280
        return (zlib.adler32(block) & 0xFFFF) - 1
    return sum(block)


def parse_mtime_ns(text: str) -> int:
    """A PAX time (``"1700000000.5"``) to integer nanoseconds, without float rounding."""
    s = text.strip()
    neg = s.startswith("-")
    if neg or s.startswith("+"):
        s = s[1:]
    whole, _, frac = s.partition(".")
    if not whole.isdigit() or (frac and not frac.isdigit()):
        raise InvalidInput(f"invalid tar header: bad PAX time {text!r}")
    ns = int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])
    return -ns if neg else ns


def _parse_pax(data: bytes) -> dict[str, bytes]:
    """PAX records ``"<len> <key>=<value>\\n"``; values stay bytes (xattrs are binary)."""
    out: dict[str, bytes] = {}
    pos = 0
    n = len(data)
    while pos < n:
        if data[pos] == 0:  # some writers pad the record block with NULs
            break
        sp = data.find(b" ", pos, pos + 24)
        if sp < 0:
            raise InvalidInput("invalid tar header: malformed PAX record")
        try:
            length = int(data[pos:sp])
        except ValueError:
            raise InvalidInput("invalid tar header: malformed PAX record length") from None
        end = pos + length
        if length <= sp - pos + 1 or end > n or data[end - 1] != 0x0A:
            raise InvalidInput("invalid tar header: malformed PAX record")
        key, eq, value = data[sp + 1 : end - 1].partition(b"=")
        if not eq:
            raise InvalidInput("invalid tar header: PAX record without '='")
        out[_decode(key)] = value
        pos = end
    return out


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class TarReader:
    """Iterate over the members of a tar stream; read the current member's data as you go.

    ``for h in reader: ...`` yields :class:`TarHeader` objects. While a member is
    current, :meth:`read` / :meth:`chunks` give its data; moving on skips whatever
    was not read.
    """

    def __init__(self, stream: Readable, *, max_meta_size: int = MAX_META_SIZE) -> None:
        self._stream = stream
        self._buf = b""
        self._pos = 0
        self._read_total = 0  # bytes taken from the stream (or sought over)
        # A seekable file (the outer tar of an archive) skips data by seeking, as Go's archive/tar does.
        seekable = getattr(stream, "seekable", None)
        self._seek: Callable[[int, int], int] | None = None
        if seekable is not None and seekable():
            self._seek = stream.seek  # type: ignore[attr-defined]
        self._remaining = 0  # data bytes of the current member not read yet
        self._padding = 0  # padding after them
        self._max_meta = max_meta_size
        self._global: dict[str, bytes] = {}
        self._global_size = 0

    # -- buffer ------------------------------------------------------------------------------

    def _raw_read(self, n: int) -> bytes:
        b = self._stream.read(n)
        self._read_total += len(b)
        return b

    def offset(self) -> int:
        """Where in the stream the reader stands: during a member, the offset of its unread data."""
        return self._read_total - self._available()

    def _available(self) -> int:
        return len(self._buf) - self._pos

    def _fill(self, n: int) -> bool:
        """Make ``n`` bytes available in the buffer; False at a clean EOF before any, raise if partial."""
        if self._available() >= n:
            return True
        tail = self._buf[self._pos :]
        parts = [tail] if tail else []  # one part is taken as it is, not copied (the usual case: a new chunk)
        have = len(tail)
        while have < n:
            b = self._raw_read(max(READ_SIZE, n - have))
            if not b:
                break
            parts.append(b)
            have += len(b)
        self._buf = b"".join(parts)
        self._pos = 0
        if have >= n:
            return True
        if have == 0:
            return False
        raise InvalidInput("invalid tar: the stream ends in the middle of an entry (truncated layer?)")

    def _take(self, n: int) -> bytes:
        if not self._fill(n):
            raise InvalidInput("invalid tar: the stream ends in the middle of an entry (truncated layer?)")
        b = self._buf[self._pos : self._pos + n]
        self._pos += n
        return b

    def _skip(self, n: int) -> None:
        avail = self._available()
        if n <= avail:
            self._pos += n
            return
        n -= avail
        self._buf, self._pos = b"", 0
        if self._seek is not None and n > 1:
            # Seek to the last byte and read it (with what follows): a stream that ends earlier is still found
            # truncated.
            self._seek(n - 1, 1)
            self._read_total += n - 1
            if not self._fill(1):
                raise InvalidInput("invalid tar: the stream ends in the middle of an entry (truncated layer?)")
            self._pos += 1
            return
        while n > 0:
            b = self._raw_read(min(n, READ_SIZE))
            if not b:
                raise InvalidInput("invalid tar: the stream ends in the middle of an entry (truncated layer?)")
            n -= len(b)

    # -- member data -------------------------------------------------------------------------

    def read(self, n: int = CHUNK) -> bytes:
        """Up to ``n`` bytes of the current member's data; ``b""`` once it is all read."""
        if self._remaining <= 0:
            return b""
        n = min(n, self._remaining)
        avail = self._available()
        if avail:
            n = min(n, avail)
            b = self._buf[self._pos : self._pos + n]
            self._pos += n
        else:
            b = self._raw_read(n)
            if not b:
                raise InvalidInput("invalid tar: the stream ends in the middle of an entry (truncated layer?)")
        self._remaining -= len(b)
        return b

    def read_rest(self) -> bytes:
        """All the rest of the current member's data at once (one piece from the buffer, one read after it)."""
        parts = []
        while self._remaining > 0:
            parts.append(self.read(self._remaining))
        return parts[0] if len(parts) == 1 else b"".join(parts)

    def chunks(self, n: int = CHUNK) -> Iterator[bytes]:
        """The rest of the current member's data, in pieces of at most ``n`` bytes."""
        while b := self.read(n):
            yield b

    def _finish_member(self) -> bool:
        """Skip the rest of the current member's data (which must be there) and its padding (which may
        be cut short by the end of the stream, as Go's archive/tar allows: False then, the archive ends)."""
        n = self._remaining + self._padding
        if n <= len(self._buf) - self._pos:  # the usual case: all of it is in the buffer
            self._pos += n
            self._remaining = self._padding = 0
            return True
        self._skip(self._remaining)
        self._remaining = 0
        pad, self._padding = self._padding, 0
        return self._skip_upto(pad) == pad

    def _skip_upto(self, n: int) -> int:
        """Skip up to ``n`` bytes; fewer only at the end of the stream. How many were skipped."""
        avail = self._available()
        if n <= avail:
            self._pos += n
            return n
        done = avail
        self._buf, self._pos = b"", 0
        while done < n:
            b = self._raw_read(min(n - done, READ_SIZE))
            if not b:
                break
            done += len(b)
        return done

    # -- headers -------------------------------------------------------------------------------

    def __iter__(self) -> Iterator[TarHeader]:
        while True:
            if not self._finish_member():
                return
            h = self._next()
            if h is None:
                return
            yield h

    def _meta(self, size: int, what: str) -> bytes | None:
        """An extended header's data; None when the stream ends inside its padding (the archive ends)."""
        if size > self._max_meta:
            raise UnsafeLayer(f"tar {what} header of {size} bytes is larger than the {self._max_meta} allowed")
        data = self._take(size)
        pad = -size % BLOCK
        return data if self._skip_upto(pad) == pad else None

    def _next(self) -> TarHeader | None:
        local: dict[str, bytes] = {}
        longname: bytes | None = None
        longlink: bytes | None = None
        while True:
            pos = self._pos
            if len(self._buf) - pos >= BLOCK:
                block = self._buf[pos : pos + BLOCK]
                self._pos = pos + BLOCK
            elif self._fill(BLOCK):
                block = self._take(BLOCK)
            else:
                return None  # EOF without the end-of-archive blocks: accepted, as GNU tar and Go do
            if block == _ZERO_BLOCK:
                # As Go: a second zero block, or the end of the stream, ends the archive; a partial
                # block is a truncated header, and a header after a lone zero block is refused.
                if self._fill(BLOCK) and self._take(BLOCK) != _ZERO_BLOCK:
                    raise InvalidInput("invalid tar header: a header follows a single zero block")
                return None
            std = _STD_NUMS.match(block, 100)
            chksum = int(std[6], 8) if std is not None else _num(block[148:156], "checksum")
            unsigned = _byte_sum(block) - sum(block[148:156]) + 8 * 0x20
            if chksum != unsigned:
                signed = sum(b - 256 if b > 127 else b for b in block[:148] + block[156:]) + 8 * 0x20
                if chksum != signed:
                    raise InvalidInput("invalid tar header: checksum mismatch (not a tar, or corrupt)")
            typeflag = block[156:157] or b"\0"
            if std is not None:
                size = int(std[4], 8)
            else:
                size = _num(block[124:136], "size")
                if size < 0:
                    raise InvalidInput("invalid tar header: negative size")
            data = self._meta(size, _META[typeflag]) if typeflag in _META else b""
            if data is None:
                return None  # Go reads an extended header cut off in its padding as the end of the archive
            if typeflag in (b"x", b"X"):
                local.update(_parse_pax(data))
                continue
            if typeflag == b"g":
                self._global_size += size
                if self._global_size > self._max_meta:
                    raise UnsafeLayer("tar PAX global headers are larger than allowed")
                for k, v in _parse_pax(data).items():
                    if v:
                        self._global[k] = v
                    else:
                        self._global.pop(k, None)
                continue
            if typeflag == b"L":
                longname = _nts(data)
                continue
            if typeflag == b"K":
                longlink = _nts(data)
                continue
            if typeflag == b"S":
                raise InvalidInput("unsupported tar entry: GNU sparse files are not supported in layers")
            pax = {**self._global, **local} if self._global else local
            return self._build(block, typeflag, size, pax, longname, longlink, std)

    def _build(
        self,
        block: bytes,
        typeflag: bytes,
        size: int,
        pax: dict[str, bytes],
        longname: bytes | None,
        longlink: bytes | None,
        std: re.Match[bytes] | None = None,
    ) -> TarHeader:
        (name, f_mode, f_uid, f_gid, f_mtime, f_link, magic, f_uname, f_gname, f_prefix) = _FIELDS.unpack_from(block)
        if std is not None:  # the numeric fields, already checked by _STD_NUMS
            mode, uid, gid, mtime = int(std[1], 8), int(std[2], 8), int(std[3], 8), int(std[5], 8)
        else:
            mode, uid, gid = _num(f_mode, "mode"), _num(f_uid, "uid"), _num(f_gid, "gid")
            mtime = _num(f_mtime, "mtime")
        name = name.split(b"\0", 1)[0]
        if magic == b"ustar\0":  # POSIX ustar: the prefix field extends the name
            prefix = f_prefix.split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        if longname is not None:
            name = longname
        linkname = longlink if longlink is not None else f_link.split(b"\0", 1)[0]
        kind = _KINDS.get(typeflag, OTHER)
        h = TarHeader(
            name.decode("utf-8", "surrogateescape"),
            kind,
            0,
            mode & 0o7777,
            uid,
            gid,
            f_uname.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"),
            f_gname.split(b"\0", 1)[0].decode("utf-8", "surrogateescape"),
            mtime * 1_000_000_000,
            linkname.decode("utf-8", "surrogateescape"),
            typeflag=typeflag,
        )
        if kind in (CHAR, BLOCKDEV):
            h.devmajor = _num(block[329:337], "devmajor")
            h.devminor = _num(block[337:345], "devminor")
        if pax:
            size = self._apply_pax(h, pax, size)
        if kind == FILE and h.name.endswith("/") and typeflag == b"\0":
            h.kind = kind = DIR  # old V7 tars mark directories with a trailing slash only
        if kind in _HEADER_ONLY:
            size = 0
        h.size = size
        self._remaining = size
        self._padding = -size % BLOCK
        return h

    @staticmethod
    def _apply_pax(h: TarHeader, pax: dict[str, bytes], size: int) -> int:
        for key, value in pax.items():
            if not value:
                continue
            try:
                if key == "path":
                    h.name = _decode(value)
                elif key == "linkpath":
                    h.linkname = _decode(value)
                elif key == "size":
                    size = int(value)
                elif key == "uid":
                    h.uid = int(value)
                elif key == "gid":
                    h.gid = int(value)
                elif key == "uname":
                    h.uname = _decode(value)
                elif key == "gname":
                    h.gname = _decode(value)
                elif key == "mtime":
                    h.mtime_ns = parse_mtime_ns(value.decode("ascii"))
                elif key.startswith("SCHILY.xattr."):
                    h.xattrs[key[len("SCHILY.xattr.") :]] = value
                elif key.startswith("LIBARCHIVE.xattr."):
                    name = urllib.parse.unquote(key[len("LIBARCHIVE.xattr.") :])
                    h.xattrs.setdefault(name, base64.b64decode(value + b"=="[: -len(value) % 4]))
                elif key.startswith("GNU.sparse."):
                    raise InvalidInput("unsupported tar entry: GNU sparse files are not supported in layers")
            except (ValueError, UnicodeDecodeError):
                raise InvalidInput(f"invalid tar header: bad PAX {key!r} value") from None
        if size < 0 or h.uid < 0 or h.gid < 0:
            raise InvalidInput("invalid tar header: negative size or id")
        return size


# ----------------------------------------------------------------------------- layer streams


class GuardedReader:
    """The uncompressed stream of a layer, refusing to grow past :class:`Limits` and turning
    decompression errors into :class:`~dockyard.errors.InvalidInput`."""

    def __init__(self, stream: DecompressedStream, limits: Limits) -> None:
        self._stream = stream
        self._limits = limits
        self._compressed = stream.compression is not Compression.NONE
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        try:
            b = self._stream.read(n)
        except DECOMPRESSION_ERRORS as e:
            raise InvalidInput(f"invalid compressed layer data: {e}") from None
        if b:
            self.count += len(b)
            self._limits.check(self.count, self._stream.consumed if self._compressed else None)
        return b

    def seekable(self) -> bool:
        """True for a plain layer in a seekable file: :class:`TarReader` then skips file data by seeking."""
        return self._stream.can_skip()

    def seek(self, offset: int, whence: int = 1) -> int:
        """Only forward from the current position (``whence`` 1), what :class:`TarReader` asks; the bytes
        skipped count towards the size limit as if read."""
        if whence != 1 or offset < 0:
            raise io.UnsupportedOperation("a layer stream only seeks forward from where it stands")
        self._stream.skip(offset)
        self.count += offset
        self._limits.check(self.count, None)
        return self.count


@contextlib.contextmanager
def open_layer(opener: LayerOpener, limits: Limits) -> Iterator[TarReader]:
    """Open one layer blob and read it as a tar, bounded by ``limits`` (entries too)."""
    raw = opener()
    try:
        yield _CountingTarReader(GuardedReader(DecompressedStream(raw), limits), limits)
    finally:
        raw.close()


class _CountingTarReader(TarReader):
    """A :class:`TarReader` that enforces ``limits.max_entries``."""

    def __init__(self, stream: Readable, limits: Limits) -> None:
        super().__init__(stream)
        self._limits = limits

    def __iter__(self) -> Iterator[TarHeader]:
        limit = self._limits.max_entries
        for count, h in enumerate(super().__iter__(), 1):
            if count > limit:
                self._limits.check_entries(count)
            yield h


# ----------------------------------------------------------------------------- writing


_TAR_TYPES: Final = {
    FILE: tarfile.REGTYPE,
    DIR: tarfile.DIRTYPE,
    SYMLINK: tarfile.SYMTYPE,
    HARDLINK: tarfile.LNKTYPE,
    CHAR: tarfile.CHRTYPE,
    BLOCKDEV: tarfile.BLKTYPE,
    FIFO: tarfile.FIFOTYPE,
}


def header_bytes(
    name: str,
    kind: str,
    *,
    size: int = 0,
    mode: int = 0o644,
    uid: int = 0,
    gid: int = 0,
    uname: str = "",
    gname: str = "",
    mtime_ns: int = 0,
    linkname: str = "",
    devmajor: int = 0,
    devminor: int = 0,
    xattrs: dict[str, bytes] | None = None,
) -> bytes:
    """The PAX-format header block(s) of one member (data and padding not included)."""
    info = tarfile.TarInfo(name + "/" if kind == DIR and name else name)
    info.type = _TAR_TYPES[kind]
    info.size = size if kind == FILE else 0
    info.mode = mode & 0o7777
    info.uid = uid
    info.gid = gid
    info.uname = uname
    info.gname = gname
    secs, frac = divmod(mtime_ns, 1_000_000_000)
    info.mtime = secs if not frac else secs + frac / 1e9
    info.linkname = linkname
    info.devmajor = devmajor
    info.devminor = devminor
    if xattrs:
        info.pax_headers = {
            f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in sorted(xattrs.items())
        }
    return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def padding(size: int) -> bytes:
    """NULs that pad ``size`` bytes of data to a whole block."""
    return bytes(-size % BLOCK)


def end_of_archive(written: int) -> bytes:
    """The two zero blocks, plus zeros up to a whole 10 KiB record (as tar(1) writes)."""
    total = written + 2 * BLOCK
    return bytes(2 * BLOCK + (-total % tarfile.RECORDSIZE))


__all__ = [
    "BLOCK",
    "BLOCKDEV",
    "CHAR",
    "DIR",
    "FIFO",
    "FILE",
    "HARDLINK",
    "MAX_META_SIZE",
    "OTHER",
    "SYMLINK",
    "GuardedReader",
    "LayerOpener",
    "Readable",
    "TarHeader",
    "TarReader",
    "end_of_archive",
    "header_bytes",
    "open_layer",
    "padding",
    "parse_mtime_ns",
]
