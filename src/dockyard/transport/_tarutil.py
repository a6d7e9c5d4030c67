"""Random access to the files of an archive: a tar (plain or compressed) or an extracted directory.

Readers of docker-archives and OCI layouts address files by the relative paths the format names
(``manifest.json``, ``blobs/sha256/<hex>``). :func:`open_source` gives one :class:`ArchiveSource`
for either shape:

* a directory: paths are resolved on disk and must stay inside it (symlinks included);
* a tar: the member headers are indexed once (seeking over the data) and each file opens as a
  window of the tar file read with ``pread``, so nothing is extracted and several files can be
  open at once; symlinks and hard links inside the tar are followed, never out of it;
* a compressed tar (gzip, zstd, bzip2, xz) is first decompressed into an anonymous temporary
  file, which lives as long as the source or any stream opened from it.

Writers use :class:`TarWriter`: deterministic entries (mtime 0, owner 0:0, fixed modes), sizes given
up front so it can write to a pipe.
"""

from __future__ import annotations

import bz2
import contextlib
import io
import lzma
import os
import posixpath
import stat
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, BinaryIO, Final, Protocol, cast

from dockyard.errors import DockyardError, InvalidArchive, SizeMismatch
from dockyard.layers.tarstream import FILE, HARDLINK, SYMLINK, TarHeader, TarReader

_CHUNK: Final = 1 << 20
_WINDOW_BUFFER: Final = 64 << 10
#: ``os.preadv`` where the platform has it (Linux, the BSDs, recent macOS); else ``pread`` and a copy.
_PREADV: Final[Callable[[int, list[memoryview], int], int] | None] = getattr(os, "preadv", None)
_MAX_LINKS: Final = 16
#: Largest JSON file (manifest.json, index.json, configs, manifests) read into memory.
MAX_JSON_SIZE: Final = 64 << 20


# --------------------------------------------------------------------------- names


def safe_name(name: object, where: str) -> str:
    """A relative path named by an archive's metadata, normalised; refuses anything that could escape.

    Refused: non-strings, empty paths, absolute paths, ``..`` components, NUL and backslashes.
    """
    if not isinstance(name, str):
        raise InvalidArchive(f"{where}: path must be a string")
    if not name or "\x00" in name or "\\" in name:
        raise InvalidArchive(f"{where}: invalid path {name!r}")
    if name.startswith("/"):
        raise InvalidArchive(f"{where}: path {name!r} is absolute")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArchive(f"{where}: path {name!r} escapes the archive")
    if not parts:
        raise InvalidArchive(f"{where}: invalid path {name!r}")
    return "/".join(parts)


def _member_key(name: str) -> str | None:
    """How a tar member name is looked up: no leading ``./`` or ``/``, no trailing ``/``; None if it escapes."""
    norm = posixpath.normpath(name.lstrip("/"))
    if norm in ("", ".", "..") or norm.startswith("../"):
        return None
    return norm


# --------------------------------------------------------------------------- sources


@dataclass(frozen=True, slots=True)
class Member:
    """A regular file of an archive, after following links."""

    name: str
    size: int


class ArchiveSource:
    """The files of an archive, addressed by normalised relative path (see :func:`safe_name`)."""

    label: str

    def member(self, name: str) -> Member | None:
        """The regular file ``name`` (links followed), or None when there is no such file."""
        raise NotImplementedError

    def open(self, name: str) -> BinaryIO:
        """A binary stream of the file ``name``; :class:`InvalidArchive` if it does not exist."""
        raise NotImplementedError

    def require(self, name: str, what: str) -> Member:
        """Like :meth:`member`, but a missing file is an :class:`InvalidArchive` naming it."""
        found = self.member(name)
        if found is None:
            raise InvalidArchive(f"{self.label}: {what} {name} is missing from the archive")
        return found

    def read_bytes(self, name: str, what: str, limit: int = MAX_JSON_SIZE) -> bytes:
        """The whole (small) file ``name``; missing or larger than ``limit`` is :class:`InvalidArchive`."""
        found = self.require(name, what)
        if found.size > limit:
            raise InvalidArchive(f"{self.label}: {what} {name} is too large ({found.size} bytes)")
        with self.open(found.name) as f:
            data = f.read(limit + 1)
        if len(data) != found.size:
            raise InvalidArchive(f"{self.label}: {what} {name} is truncated")
        return data

    def exists(self, name: str) -> bool:
        return self.member(name) is not None


class DirSource(ArchiveSource):
    """An extracted archive (a directory)."""

    def __init__(self, root: Path) -> None:
        self.label = os.fspath(root)
        self.root = root.resolve()

    def _path(self, name: str) -> Path | None:
        path = self.root / name
        if not os.path.lexists(path):
            return None
        resolved = path.resolve()
        if resolved != self.root and self.root not in resolved.parents:
            raise InvalidArchive(f"{self.label}: {name} is a symlink that leads out of the archive")
        return resolved

    def member(self, name: str) -> Member | None:
        path = self._path(name)
        if path is None:
            return None
        try:
            st = path.stat()
        except FileNotFoundError:
            return None  # a dangling symlink
        except OSError as exc:
            raise InvalidArchive(f"{self.label}: cannot read {name}: {exc.strerror}") from None
        if not stat.S_ISREG(st.st_mode):
            raise InvalidArchive(f"{self.label}: {name} is not a regular file")
        return Member(name, st.st_size)

    def open(self, name: str) -> BinaryIO:
        path = self._path(name)
        if path is None:
            raise InvalidArchive(f"{self.label}: {name} is missing from the archive")
        try:
            return open(path, "rb")
        except OSError as exc:
            raise InvalidArchive(f"{self.label}: cannot open {name}: {exc.strerror}") from None


class _Window(io.RawIOBase):
    """A read-only, seekable window ``[start, start + size)`` of a file, read with ``pread``.

    Holds a reference to its owner so the underlying file stays open while the window is in use.
    """

    def __init__(self, owner: object, fd: int, start: int, size: int, what: str) -> None:
        super().__init__()
        self._owner = owner
        self._fd = fd
        self._start = start
        self._size = size
        self._pos = 0
        self._what = what

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError("negative seek position")
        self._pos = pos
        return pos

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self.closed:
            raise ValueError("read from a closed file")
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        view = memoryview(buffer).cast("B")[:want]
        if _PREADV is not None:
            n = _PREADV(self._fd, [view], self._start + self._pos)  # straight into the caller's buffer
        else:
            data = os.pread(self._fd, want, self._start + self._pos)
            n = len(data)
            view[:n] = data
        if not n:
            raise InvalidArchive(f"{self._what} is truncated")
        self._pos += n
        return n

    def close(self) -> None:
        self._owner = None
        super().close()


def truncated_inside(last: str | None, data_start: int, data_size: int, file_size: int) -> str:
    """What to say of a tar file of ``file_size`` bytes that ends too early: inside the data of ``last`` (the last
    entry whose header is whole, its data at ``data_start``), or inside the header (or end blocks) after it."""
    if last is None:
        return "truncated: the archive ends inside its first header"
    if file_size < data_start + data_size:
        return f"truncated: the archive ends inside {last} ({data_size} bytes expected)"
    return f"truncated: the archive ends inside the header of the entry after {last}"


def truncation(tar: tarfile.TarFile, last: tarfile.TarInfo | None, size: int, file: IO[bytes]) -> str | None:
    """After Python's ``tarfile`` read ``tar`` to its end: whether the file ends inside a header (a partial
    512-byte block that is not zeros), which ``tarfile`` takes quietly for the end and Go's archive/tar does not.
    An archive that ends at an entry boundary without end-of-archive blocks is complete, as Go reads it."""
    rest = size - tar.offset
    if not 0 < rest < tarfile.BLOCKSIZE:
        return None
    file.seek(tar.offset)
    if not file.read(rest).strip(b"\0"):
        return None
    if last is None:
        return truncated_inside(None, 0, 0, size)
    return truncated_inside(last.name, last.offset_data, last.size, size)


@dataclass(frozen=True, slots=True)
class _Indexed:
    """A member of an indexed tar: its header and where its data starts in the file."""

    header: TarHeader
    offset: int


class TarSource(ArchiveSource):
    """A tar file (seekable, uncompressed), indexed once with the reader every layer is read with
    (:class:`~dockyard.layers.tarstream.TarReader`: Go's archive/tar rules, data skipped by seeking)."""

    def __init__(self, file: IO[bytes], label: str) -> None:
        self.label = label
        self._file = file
        self._members: dict[str, _Indexed] = {}
        last: _Indexed | None = None
        try:
            if file.seek(0, io.SEEK_END) == 0:
                raise InvalidArchive(f"{label}: the file is empty, not a tar archive")
            file.seek(0)
            reader = TarReader(file)
            for h in reader:
                last = _Indexed(h, reader.offset())
                key = _member_key(h.name)
                if key is not None:
                    # a later entry of the same name wins, as on extraction
                    self._members[key] = last
        except InvalidArchive:
            file.close()
            raise
        except DockyardError as exc:
            size = file.seek(0, io.SEEK_END)
            file.close()
            if "ends in the middle" in str(exc):
                if last is None:
                    raise InvalidArchive(f"{label}: {truncated_inside(None, 0, 0, size)}") from None
                where = truncated_inside(last.header.name, last.offset, last.header.size, size)
                raise InvalidArchive(f"{label}: {where}") from None
            raise InvalidArchive(f"{label}: not a tar archive ({exc})") from None

    def close(self) -> None:
        """Close the file now (streams already open keep working until the file is closed)."""
        self._file.close()

    def names(self) -> list[str]:
        return sorted(self._members)

    def _resolve(self, name: str) -> tuple[str, _Indexed] | None:
        current = name
        info = self._members.get(current)
        hops = 0
        while info is not None and info.header.kind in (SYMLINK, HARDLINK):
            hops += 1
            if hops > _MAX_LINKS:
                raise InvalidArchive(f"{self.label}: too many levels of links at {name}")
            target = info.header.linkname
            if info.header.kind == SYMLINK:
                if target.startswith("/"):
                    raise InvalidArchive(f"{self.label}: {current} is a symlink to an absolute path")
                joined = posixpath.normpath(posixpath.join(posixpath.dirname(current), target))
            else:
                joined = posixpath.normpath(target.lstrip("/"))
            if joined == ".." or joined.startswith("../"):
                raise InvalidArchive(f"{self.label}: {current} is a link that leads out of the archive")
            current = joined
            info = self._members.get(current)
        if info is None:
            return None
        return current, info

    def _regular(self, name: str) -> _Indexed | None:
        found = self._resolve(name)
        if found is None:
            return None
        _, info = found
        if info.header.kind != FILE:
            raise InvalidArchive(f"{self.label}: {name} is not a regular file")
        return info

    def member(self, name: str) -> Member | None:
        info = self._regular(name)
        return None if info is None else Member(name, info.header.size)

    def open(self, name: str) -> BinaryIO:
        info = self._regular(name)
        if info is None:
            raise InvalidArchive(f"{self.label}: {name} is missing from the archive")
        raw = _Window(self, self._file.fileno(), info.offset, info.header.size, f"{self.label}: {name}")
        # A small buffer: large reads go straight into the caller's buffer anyway, and a reader that seeks over
        # data (a layer's tar reader) refills no more than this after each seek.
        return io.BufferedReader(raw, _WINDOW_BUFFER)


# --------------------------------------------------------------------------- opening


_BZIP2_LEVELS: Final = frozenset(b"%d" % i for i in range(1, 10))
_BZIP2_BLOCKS: Final = frozenset({bytes.fromhex("314159265359"), bytes.fromhex("177245385090")})
SNIFF_LEN: Final = 10


def sniff_compression(head: bytes) -> str:
    """``gzip``, ``zstd``, ``bzip2``, ``xz`` or ``none`` from the first :data:`SNIFF_LEN` bytes of a file."""
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if head.startswith(b"\x28\xb5\x2f\xfd"):
        return "zstd"
    if head[:3] == b"BZh" and head[3:4] in _BZIP2_LEVELS and head[4:10] in _BZIP2_BLOCKS:
        return "bzip2"
    if head.startswith(b"\xfd7zXZ\x00"):
        return "xz"
    return "none"


def _decompressor(kind: str, raw: BinaryIO) -> BinaryIO:
    if kind == "bzip2":
        return cast(BinaryIO, bz2.BZ2File(raw, "rb"))
    if kind == "xz":
        return cast(BinaryIO, lzma.LZMAFile(raw, "rb"))
    from dockyard.layers.compression import open_decompressed

    return open_decompressed(raw)


def open_source(path: Path, *, what: str = "archive") -> ArchiveSource:
    """An :class:`ArchiveSource` for a directory or a (possibly compressed) tar file.

    A compressed tar, or one that cannot seek (a pipe such as ``/dev/stdin``), is first copied
    (decompressed) into an anonymous temporary file.
    """
    label = os.fspath(path)
    if path.is_dir():
        return DirSource(path)
    if not path.exists():
        raise InvalidArchive(f"{label}: no such file or directory")
    try:
        f: IO[bytes] = open(path, "rb")  # noqa: SIM115 - owned by the TarSource
    except OSError as exc:
        raise InvalidArchive(f"{label}: cannot open {what}: {exc.strerror}") from None
    try:
        head = f.read(SNIFF_LEN)
        kind = sniff_compression(head)
        if kind == "none" and f.seekable():
            f.seek(0)
            return TarSource(f, label)
        f = _spool(f, head, kind, label, what)
    except BaseException:
        f.close()
        raise
    return TarSource(f, label)


def _spool(f: IO[bytes], head: bytes, kind: str, label: str, what: str) -> IO[bytes]:
    """The (decompressed) content of ``f``, whose first bytes ``head`` were already read, in a temp file."""
    from dockyard.layers.compression import PrefixedReader

    tmp = tempfile.TemporaryFile(prefix="dockyard-archive-")  # noqa: SIM115 - returned to the caller
    try:
        src = cast(BinaryIO, io.BufferedReader(PrefixedReader(head, cast(BinaryIO, f)), _CHUNK))
        with contextlib.ExitStack() as stack:
            stream = src if kind == "none" else stack.enter_context(_decompressor(kind, src))
            while chunk := stream.read(_CHUNK):
                tmp.write(chunk)
        tmp.flush()
    except InvalidArchive:
        tmp.close()
        raise
    except EOFError:
        tmp.close()
        raise InvalidArchive(f"{label}: truncated: the {kind}-compressed {what} ends early") from None
    except OSError as exc:
        tmp.close()
        if kind == "none":
            raise InvalidArchive(f"{label}: cannot read {what}: {exc}") from None
        raise InvalidArchive(f"{label}: corrupt {kind}-compressed {what}: {exc}") from None
    except Exception as exc:  # every decompressor has its own error types
        tmp.close()
        raise InvalidArchive(f"{label}: corrupt {kind}-compressed {what}: {exc}") from None
    f.close()
    return tmp


# --------------------------------------------------------------------------- writing


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class HashingReader:
    """Reads from ``src`` and feeds every byte to ``update``; counts them."""

    def __init__(self, src: Readable, update: Callable[[bytes], object]) -> None:
        self._src = src
        self._update = update
        self.count = 0

    def read(self, n: int = -1) -> bytes:
        data = self._src.read(n)
        if data:
            self._update(data)
            self.count += len(data)
        return data


class TarWriter:
    """Deterministic tar output (PAX, mtime 0, owner 0:0) to a path or a (possibly unseekable) stream."""

    def __init__(self, out: BinaryIO) -> None:
        self._tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)  # noqa: SIM115 - closed by close()

    @staticmethod
    def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mode = mode
        info.size = size
        info.mtime = 0
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def add_dir(self, name: str) -> None:
        self._tar.addfile(self._info(name.rstrip("/") + "/", tarfile.DIRTYPE, 0o755))

    def add_bytes(self, name: str, data: bytes) -> None:
        self._tar.addfile(self._info(name, tarfile.REGTYPE, 0o644, len(data)), io.BytesIO(data))

    def add_stream(self, name: str, src: Readable, size: int, what: str) -> None:
        """Add ``size`` bytes read from ``src``; :class:`SizeMismatch` if it holds fewer or more."""
        counter = HashingReader(src, lambda _b: None)
        try:
            self._tar.addfile(self._info(name, tarfile.REGTYPE, 0o644, size), counter)
        except OSError as exc:
            if "unexpected end of data" in str(exc):
                raise SizeMismatch(size, counter.count, what) from None
            raise
        extra = src.read(1)
        if extra:
            raise SizeMismatch(size, size + len(extra) + len(src.read()), what)

    def close(self) -> None:
        self._tar.close()

    def __enter__(self) -> TarWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        # After a failure tarfile writes no end-of-archive marker: the output must not look complete.
        self._tar.__exit__(exc_type, exc, tb)


__all__ = [
    "MAX_JSON_SIZE",
    "SNIFF_LEN",
    "ArchiveSource",
    "DirSource",
    "HashingReader",
    "Member",
    "Readable",
    "TarSource",
    "TarWriter",
    "open_source",
    "safe_name",
    "sniff_compression",
]
