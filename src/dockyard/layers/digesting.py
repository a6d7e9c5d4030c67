"""One pass over a layer blob: copy it, hash it as given (the distribution digest) and hash it
uncompressed (the diff_id), with the decompressor fed incrementally from the same reads.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO, Final, cast

import zstandard
from isal import isal_zlib

from dockyard.errors import DigestMismatch, InvalidInput
from dockyard.layers._zstdframes import ZstdFrameChecker
from dockyard.layers.compression import CHUNK, DECOMPRESSION_ERRORS, MAGIC_LEN, Compression, detect
from dockyard.layers.limits import Limits
from dockyard.layers.tarsize import ContentSizer
from dockyard.oci.digest import SHA256, Digest, DigestHasher

#: Largest piece of uncompressed output produced per decompressor call (bounds memory on bombs).
_OUT_CHUNK: Final = 4 << 20
#: Compressed bytes handed to the zstd reader per step (keeps the ratio check close to the truth).
_ZSTD_STEP: Final = 64 << 10


def _ignore(_data: bytes) -> None:
    pass


class _BackgroundHasher:
    """A :class:`DigestHasher` whose hashing runs on a worker thread.

    The decompressors (ISA-L, zstd) and hashlib all release the GIL, so hashing the
    uncompressed stream on a second core while the main thread reads, hashes the
    compressed bytes and inflates makes the single pass about half again as fast.
    The queue is bounded, so memory stays at a few output chunks.
    """

    def __init__(self, algorithm: str, *, sizing: bool = True) -> None:
        self._hasher = DigestHasher(algorithm)
        self.sizer = ContentSizer()
        self._sizing = sizing
        self.size = 0
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="dockyard-diff-id", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        update = self._hasher.update
        feed: Callable[[bytes], None] = self.sizer.feed if self._sizing else _ignore
        get = self._queue.get
        while (chunk := get()) is not None:
            update(chunk)
            try:
                feed(chunk)
            except Exception:  # never stop draining the queue: the producer would block on a full one
                feed = _ignore

    def update(self, data: bytes) -> None:
        self.size += len(data)
        self._queue.put(data)

    def close(self) -> None:
        """Stop the worker (idempotent); after it, :meth:`digest` is final."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def digest(self) -> Digest:
        self.close()
        return self._hasher.digest()


class _ForegroundHasher:
    """The same as :class:`_BackgroundHasher`, on the calling thread (one core)."""

    def __init__(self, algorithm: str) -> None:
        self._hasher = DigestHasher(algorithm)
        self.sizer = ContentSizer()

    @property
    def size(self) -> int:
        return self._hasher.size

    def update(self, data: bytes) -> None:
        self._hasher.update(data)
        self.sizer.feed(data)

    def close(self) -> None:
        pass

    def digest(self) -> Digest:
        return self._hasher.digest()


def _out_hasher(algorithm: str) -> _ForegroundHasher | _BackgroundHasher:
    if (os.cpu_count() or 1) > 1:
        return _BackgroundHasher(algorithm)
    return _ForegroundHasher(algorithm)


@dataclass(frozen=True, slots=True)
class LayerDigests:
    """What one pass over a layer blob found out."""

    digest: Digest
    """Hash of the bytes as given: the distribution digest a manifest names."""
    size: int
    """Length of the bytes as given."""
    diff_id: Digest
    """Hash of the uncompressed tar: the diff_id an image config names."""
    uncompressed_size: int
    compression: Compression
    content_size: int = 0
    """Docker's SIZE of the layer: regular file bytes plus symlink target lengths (see :mod:`.tarsize`)."""


def _read_first(src: BinaryIO) -> bytes:
    """The first read: at least :data:`MAGIC_LEN` bytes unless the stream is shorter."""
    parts: list[bytes] = []
    got = 0
    while got < MAGIC_LEN:
        b = src.read(CHUNK)
        if not b:
            break
        parts.append(b)
        got += len(b)
    return b"".join(parts)


def copy_and_digest(
    src: BinaryIO,
    dst: BinaryIO | None,
    limits: Limits | None = None,
    *,
    algorithm: str = SHA256,
    diff_id_algorithm: str | None = None,
) -> LayerDigests:
    """Read ``src`` once: write its bytes to ``dst`` (if given), hash them, and hash them uncompressed.

    gzip (multi-member too) and zstd (multi-frame too) are recognised by their magic
    bytes; anything else is taken as an uncompressed tar. ``limits`` (default
    :meth:`Limits.from_env`) bound the uncompressed size: a decompression bomb raises
    :class:`~dockyard.errors.UnsafeLayer` early. Corrupt or truncated compressed data
    raises :class:`~dockyard.errors.InvalidInput`.
    """
    lim = limits if limits is not None else Limits.from_env()
    raw = DigestHasher(algorithm)
    write: Callable[[bytes], object] | None = dst.write if dst is not None else None
    head = _read_first(src)
    raw.update(head)
    if write is not None and head:
        write(head)
    kind = detect(head)
    out_algorithm = diff_id_algorithm or algorithm

    if kind is Compression.NONE:
        if out_algorithm != algorithm:
            out = DigestHasher(out_algorithm)
            out.update(head)
        else:
            out = raw
        sizer = ContentSizer()
        sizer.feed(head)
        lim.check(raw.size, None)
        while chunk := src.read(CHUNK):
            raw.update(chunk)
            sizer.feed(chunk)
            if out is not raw:
                out.update(chunk)
            if write is not None:
                write(chunk)
            lim.check(raw.size, None)
        return LayerDigests(raw.digest(), raw.size, out.digest(), out.size, kind, sizer.total)

    hasher = _out_hasher(out_algorithm)
    # The compressed bytes are hashed on a thread of their own too: the main thread only reads and inflates.
    packed: DigestHasher | _BackgroundHasher = raw
    if isinstance(hasher, _BackgroundHasher):
        packed = _BackgroundHasher(algorithm, sizing=False)
        packed.update(head)
    try:
        if kind is Compression.GZIP:
            _gzip(src, head, packed, hasher, write, lim)
        else:
            _zstd(src, head, packed, hasher, write, lim)
        diff_id = hasher.digest()
        digest = packed.digest()
    finally:
        hasher.close()
        if isinstance(packed, _BackgroundHasher):
            packed.close()
    return LayerDigests(digest, packed.size, diff_id, hasher.size, kind, hasher.sizer.total)


def _gzip(
    src: BinaryIO,
    head: bytes,
    raw: DigestHasher | _BackgroundHasher,
    out: _ForegroundHasher | _BackgroundHasher,
    write: Callable[[bytes], object] | None,
    lim: Limits,
) -> None:
    dec: isal_zlib.Decompress | None = None  # None between members
    data = head
    try:
        while True:
            while data:
                if dec is None:
                    # Between members: zero padding is tolerated (as gzip(1) and Python do);
                    # anything else must be the next member, whose header the inflater checks.
                    data = data.lstrip(b"\0")
                    if not data:
                        break
                    dec = isal_zlib.decompressobj(31)
                buf = data
                while True:
                    o = dec.decompress(buf, _OUT_CHUNK)
                    if dec.eof:
                        data = dec.unused_data
                        dec = None
                        if o:
                            out.update(o)
                            lim.check(out.size, raw.size - len(data))
                        break
                    buf = dec.unconsumed_tail
                    if o:
                        out.update(o)
                        lim.check(out.size, raw.size - len(buf))
                    if not buf and len(o) < _OUT_CHUNK:
                        data = b""
                        break
            data = src.read(CHUNK)
            if not data:
                break
            raw.update(data)
            if write is not None:
                write(data)
    except DECOMPRESSION_ERRORS as e:
        raise InvalidInput(f"invalid gzip data: {e}") from None
    if dec is not None:
        raise InvalidInput("invalid gzip data: the stream is truncated")


class _Tee:
    """Feeds the zstd reader from ``src`` while hashing, copying and frame-checking every byte.

    ``src`` is read in big chunks (hashed and copied as they come) but handed to the
    reader in small steps, so :attr:`served` tracks what the decompressor has used
    closely enough for the expansion-ratio limit.
    """

    def __init__(
        self,
        src: BinaryIO,
        head: bytes,
        raw: DigestHasher | _BackgroundHasher,
        write: Callable[[bytes], object] | None,
        checker: ZstdFrameChecker,
    ) -> None:
        self._src = src
        self._buf = head
        self._pos = 0
        self._raw = raw
        self._write = write
        self._checker = checker
        self.served = 0
        checker.feed(head)

    def read(self, size: int = -1) -> bytes:
        if self._pos >= len(self._buf):
            data = self._src.read(CHUNK)
            if not data:
                return b""
            self._raw.update(data)
            if self._write is not None:
                self._write(data)
            self._checker.feed(data)
            self._buf, self._pos = data, 0
        n = len(self._buf) - self._pos if size < 0 else size
        out = self._buf[self._pos : self._pos + n]
        self._pos += len(out)
        self.served += len(out)
        return out


def _zstd(
    src: BinaryIO,
    head: bytes,
    raw: DigestHasher | _BackgroundHasher,
    out: _ForegroundHasher | _BackgroundHasher,
    write: Callable[[bytes], object] | None,
    lim: Limits,
) -> None:
    checker = ZstdFrameChecker()
    tee = _Tee(src, head, raw, write, checker)
    reader = zstandard.ZstdDecompressor().stream_reader(
        cast(BinaryIO, tee), read_size=_ZSTD_STEP, read_across_frames=True
    )
    try:
        while o := reader.read(_OUT_CHUNK):
            out.update(o)
            lim.check(out.size, tee.served)
        while tee.read(CHUNK):  # anything the reader left unread still belongs to the blob
            pass
    except zstandard.ZstdError as e:
        raise InvalidInput(f"invalid zstd data: {e}") from None
    if not checker.complete():
        raise InvalidInput("invalid zstd data: the stream is truncated")


def verify(
    src: BinaryIO,
    expected_digest: Digest,
    expected_diff_id: Digest | None = None,
    limits: Limits | None = None,
) -> LayerDigests:
    """Hash ``src`` as :func:`copy_and_digest` does and raise :class:`DigestMismatch` naming the hash
    that does not match (the distribution digest first, then the diff_id)."""
    digests = copy_and_digest(
        src,
        None,
        limits,
        algorithm=expected_digest.algorithm,
        diff_id_algorithm=expected_diff_id.algorithm if expected_diff_id is not None else None,
    )
    if digests.digest != expected_digest:
        raise DigestMismatch(str(expected_digest), str(digests.digest), "layer (distribution digest)")
    if expected_diff_id is not None and digests.diff_id != expected_diff_id:
        raise DigestMismatch(str(expected_diff_id), str(digests.diff_id), f"layer {expected_digest} (diff_id)")
    return digests


__all__ = ["LayerDigests", "copy_and_digest", "verify"]
