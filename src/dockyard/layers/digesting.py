"""One pass over a layer blob: copy it, hash it as given (the distribution digest) and hash it
uncompressed (the diff_id), with the decompressor fed incrementally from the same reads.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO, Final, cast

import zstandard
from isal import isal_zlib

from dockyard.errors import DigestMismatch, DockyardError, InvalidInput
from dockyard.layers._zstdframes import ZstdFrameChecker
from dockyard.layers.compression import CHUNK, DECOMPRESSION_ERRORS, MAGIC_LEN, Compression, detect
from dockyard.layers.limits import Limits
from dockyard.layers.tarsize import content_size
from dockyard.layers.tarstream import Readable, TarReader
from dockyard.oci.digest import SHA256, Digest, DigestHasher

#: Largest piece of uncompressed output produced per decompressor call (bounds memory on bombs).
_OUT_CHUNK: Final = 4 << 20
#: Compressed bytes handed to the zstd reader per step (keeps the ratio check close to the truth).
_ZSTD_STEP: Final = 64 << 10


class _ChunkStream:
    """A readable stream over whole chunks that each pass to ``update`` (hash, copy) as they are taken;
    :meth:`read` never returns more than asked, and :meth:`seek` skips forward without copying (the tar
    reader skips member data that way)."""

    def __init__(self, update: Callable[[bytes], object]) -> None:
        self._update = update
        self._buf = b""
        self._pos = 0
        self._eof = False

    def _chunk(self) -> bytes | None:
        """The next chunk (None at the end)."""
        raise NotImplementedError

    def _next_chunk(self) -> bool:
        if self._eof:
            return False
        chunk = self._chunk()
        if chunk is None:
            self._eof = True
            return False
        self._update(chunk)
        self._buf, self._pos = chunk, 0
        return True

    def read(self, n: int = -1, /) -> bytes:
        if self._pos >= len(self._buf) and not self._next_chunk():
            return b""
        if self._pos == 0 and (n < 0 or n >= len(self._buf)):
            out, self._buf = self._buf, b""
            return out
        end = len(self._buf) if n < 0 else self._pos + n
        out = self._buf[self._pos : end]
        self._pos += len(out)
        return out

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = 1, /) -> int:
        """Skip ``offset`` bytes forward (``whence`` must be 1) without copying them: the tar reader skips
        member data this way. Past the end it stops there, as a file seeks past its end."""
        if whence != 1 or offset < 0:
            raise ValueError("only forward relative seeks")
        while offset > 0:
            if self._pos >= len(self._buf):
                if not self._next_chunk():
                    break
                continue
            take = min(offset, len(self._buf) - self._pos)
            self._pos += take
            offset -= take
        return 0

    def drain(self) -> None:
        while self.read(CHUNK):
            pass


class _QueueStream(_ChunkStream):
    """The chunks put on a queue (``None`` ends it)."""

    def __init__(self, q: queue.Queue[bytes | None], update: Callable[[bytes], object]) -> None:
        super().__init__(update)
        self._queue = q

    def _chunk(self) -> bytes | None:
        return self._queue.get()


class _PlainStream(_ChunkStream):
    """An uncompressed layer read from ``src`` in whole chunks, each counted against the limits."""

    def __init__(
        self, src: BinaryIO, head: bytes, update: Callable[[bytes], object], counter: DigestHasher, lim: Limits
    ) -> None:
        super().__init__(update)
        self._buf = head  # already hashed and copied
        self._src = src
        self._counter = counter
        self._lim = lim

    def _chunk(self) -> bytes | None:
        data = self._src.read(CHUNK)
        if not data:
            return None
        self._lim.check(self._counter.size + len(data), None)
        return data


class _BackgroundHasher:
    """A :class:`DigestHasher` whose hashing runs on a worker thread, which also reads the stream as a tar.

    The decompressors (ISA-L, zstd) and hashlib all release the GIL, so hashing the
    uncompressed stream on a second core while the main thread reads, hashes the
    compressed bytes and inflates makes the single pass about half again as fast.
    The queue is bounded, so memory stays at a few output chunks. With ``parse``, the
    worker walks the stream with :class:`TarReader` (the reader ``unpack`` uses): it
    counts Docker's SIZE and keeps the first tar error in :attr:`error`.
    """

    def __init__(self, algorithm: str, *, parse: bool = True) -> None:
        self._hasher = DigestHasher(algorithm)
        self._parse = parse
        self.size = 0
        self.content_size = 0
        self.error: DockyardError | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._thread = threading.Thread(target=self._run, name="dockyard-diff-id", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        stream = _QueueStream(self._queue, self._hasher.update)
        try:
            if self._parse:
                self.content_size, self.error = _parse_tar(stream)
        finally:
            stream.drain()  # never stop draining the queue: the producer would block on a full one

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


def _parse_tar(stream: Readable) -> tuple[int, DockyardError | None]:
    """Walk ``stream`` as a layer tar: Docker's SIZE, and the error that stopped the walk (if any)."""
    try:
        return content_size(TarReader(stream)), None
    except DockyardError as e:
        return 0, e


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
    tar_error: DockyardError | None = field(default=None, compare=False)
    """Why the tar reader of ``unpack`` refuses the uncompressed stream (None: it reads it to the end).
    Kept, not raised, so that a caller checks the digests first (a tampered blob is a digest mismatch)."""

    def check_tar(self) -> None:
        """Raise :attr:`tar_error`, if any: the layer would not unpack."""
        if self.tar_error is not None:
            raise self.tar_error


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
    raises :class:`~dockyard.errors.InvalidInput`. Whether the tar reader of ``unpack`` reads the
    uncompressed stream to its end is in :attr:`LayerDigests.tar_error` (see :meth:`~LayerDigests.check_tar`).
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
        out = raw
        sinks: list[Callable[[bytes], object]] = [raw.update]
        if out_algorithm != algorithm:
            out = DigestHasher(out_algorithm)
            out.update(head)
            sinks.append(out.update)
        if write is not None:
            sinks.append(write)
        lim.check(raw.size, None)

        def update(data: bytes) -> None:
            for sink in sinks:
                sink(data)

        reader = _PlainStream(src, head, update, raw, lim)
        size, error = _parse_tar(reader)
        reader.drain()  # bytes after the end of the archive still belong to the blob
        return LayerDigests(raw.digest(), raw.size, out.digest(), out.size, kind, size, error)

    hasher = _BackgroundHasher(out_algorithm)
    # With a second core the compressed bytes are hashed on a thread of their own too: the main thread
    # only reads and inflates.
    packed: DigestHasher | _BackgroundHasher = raw
    if (os.cpu_count() or 1) > 1:
        packed = _BackgroundHasher(algorithm, parse=False)
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
    return LayerDigests(digest, packed.size, diff_id, hasher.size, kind, hasher.content_size, hasher.error)


def _gzip(
    src: BinaryIO,
    head: bytes,
    raw: DigestHasher | _BackgroundHasher,
    out: _BackgroundHasher,
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
    out: _BackgroundHasher,
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
    that does not match (the distribution digest first, then the diff_id), then the tar reader's error."""
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
    digests.check_tar()
    return digests


__all__ = ["LayerDigests", "copy_and_digest", "verify"]
