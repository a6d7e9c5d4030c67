"""Build small layer tars in tests (with the stdlib ``tarfile``, independent of dockyard's reader)."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import zstandard
from isal import isal_zlib

MTIME = 1_600_000_000


@dataclass
class E:
    """One tar entry to write."""

    name: str
    kind: str = "file"
    data: bytes = b""
    mode: int | None = None
    uid: int = 0
    gid: int = 0
    target: str = ""
    mtime: float = MTIME
    xattrs: dict[str, bytes] = field(default_factory=dict)
    devmajor: int = 0
    devminor: int = 0
    uname: str = ""
    gname: str = ""


def F(name: str, data: bytes = b"", mode: int = 0o644, **kw: object) -> E:
    return E(name, "file", data, mode, **kw)  # type: ignore[arg-type]


def D(name: str, mode: int = 0o755, **kw: object) -> E:
    return E(name, "dir", mode=mode, **kw)  # type: ignore[arg-type]


def S(name: str, target: str, **kw: object) -> E:
    return E(name, "symlink", target=target, mode=0o777, **kw)  # type: ignore[arg-type]


def H(name: str, target: str, **kw: object) -> E:
    return E(name, "hardlink", target=target, mode=0o644, **kw)  # type: ignore[arg-type]


def WH(path: str) -> E:
    """A whiteout for ``path`` (``dir/.wh.name``)."""
    head, _, base = path.rpartition("/")
    return F(f"{head}/.wh.{base}" if head else f".wh.{base}")


def OPQ(directory: str) -> E:
    """The opaque marker of ``directory``."""
    return F(f"{directory}/.wh..wh..opq" if directory else ".wh..wh..opq")


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}


def make_tar(entries: Iterable[E], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.name)
            info.type = _TYPES[e.kind]
            info.mode = e.mode if e.mode is not None else (0o755 if e.kind == "dir" else 0o644)
            info.uid, info.gid = e.uid, e.gid
            info.uname, info.gname = e.uname, e.gname
            info.mtime = e.mtime
            info.linkname = e.target
            info.devmajor, info.devminor = e.devmajor, e.devminor
            if e.xattrs:
                info.pax_headers = {
                    f"SCHILY.xattr.{k}": v.decode("utf-8", "surrogateescape") for k, v in e.xattrs.items()
                }
            data = None
            if e.kind == "file":
                info.size = len(e.data)
                data = io.BytesIO(e.data)
            tar.addfile(info, data)
    return buf.getvalue()


def gzip_bytes(data: bytes, members: int = 1) -> bytes:
    """gzip ``data``, split over ``members`` members."""
    out = []
    step = max(1, -(-len(data) // members))
    for i in range(members):
        part = data[i * step : (i + 1) * step]
        if i and not part:
            break
        c = isal_zlib.compressobj(1, isal_zlib.DEFLATED, 31)
        out.append(c.compress(part) + c.flush())
    return b"".join(out)


def zstd_bytes(data: bytes, frames: int = 1) -> bytes:
    out = []
    step = max(1, -(-len(data) // frames))
    cctx = zstandard.ZstdCompressor(write_checksum=True)
    for i in range(frames):
        part = data[i * step : (i + 1) * step]
        if i and not part:
            break
        out.append(cctx.compress(part))
    return b"".join(out)


COMPRESSORS: dict[str, Callable[[bytes], bytes]] = {
    "none": lambda b: b,
    "gzip": gzip_bytes,
    "zstd": zstd_bytes,
}


class NonSeekable(io.RawIOBase):
    """A read-only, non-seekable stream that returns at most ``piece`` bytes per read."""

    def __init__(self, data: bytes, piece: int = 7) -> None:
        self._data = data
        self._pos = 0
        self._piece = piece

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(b), self._piece, len(self._data) - self._pos)
        b[:n] = self._data[self._pos : self._pos + n]
        self._pos += n
        return n

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = len(self._data)
        n = min(size, self._piece, len(self._data) - self._pos)
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out


def openers(*blobs: bytes) -> list[Callable[[], BinaryIO]]:
    return [(lambda b=b: io.BytesIO(b)) for b in blobs]


def layers(*entry_lists: Sequence[E], compression: str = "none") -> list[Callable[[], BinaryIO]]:
    """Openers of layers built from entry lists."""
    return openers(*(COMPRESSORS[compression](make_tar(es)) for es in entry_lists))


@dataclass
class Jail:
    """A parent directory holding ``dest`` and a sentinel, to prove nothing escaped ``dest``."""

    parent: Path
    dest: Path
    sentinel: Path

    @classmethod
    def make(cls, tmp_path: Path) -> Jail:
        parent = tmp_path / "jail"
        parent.mkdir()
        dest = parent / "dest"
        dest.mkdir()
        sentinel = parent / "sentinel"
        sentinel.write_bytes(b"untouched\n")
        return cls(parent, dest, sentinel)

    def assert_intact(self) -> None:
        assert sorted(os.listdir(self.parent)) == ["dest", "sentinel"]
        assert self.sentinel.read_bytes() == b"untouched\n"
        assert not self.sentinel.is_symlink()
