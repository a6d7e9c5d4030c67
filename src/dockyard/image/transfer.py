"""Put one image's blobs into a sink: reuse what the sink has, copy the rest (concurrently), then the manifest.

This is the one place that decides "reuse a blob before putting it" (containers/image's ``TryReusingBlob`` before
``PutBlob``). Every destination implements :class:`BlobSink`: the local store, a registry, an OCI layout or archive,
a docker-archive. Sinks verify what they are given (digest, size and, where they keep it, the diff_id); a failure
on one layer stops the copies under way at their next read.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO, Protocol

from dockyard.errors import DockyardError
from dockyard.image.base import Image, Layer
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest

if TYPE_CHECKING:
    from concurrent.futures import Future

#: How often (bytes) a blob being copied reports progress.
PROGRESS_STEP = 256 << 10


@dataclass(frozen=True, slots=True)
class RawManifest:
    """A manifest or index exactly as read: its digest is the hash of these bytes, never of a re-serialisation."""

    data: bytes
    media_type: str

    @property
    def digest(self) -> Digest:
        return Digest.of(self.data)

    def descriptor(self) -> Descriptor:
        return Descriptor(self.media_type, self.digest, len(self.data))


class BlobSink(Protocol):
    """Where blobs and manifests go. ``reuse_blob`` answers "do you have it, or can you mount it" (a status line
    such as ``"Already exists"``, or None: put it); ``put_blob`` takes a blob's raw bytes (called from worker
    threads: it must not touch thread-bound state); ``put_manifest`` takes a manifest's bytes after its blobs."""

    def reuse_blob(self, desc: Descriptor, diff_id: Digest | None) -> str | None: ...
    def put_blob(self, desc: Descriptor, stream: BinaryIO, diff_id: Digest | None) -> None: ...
    def put_manifest(self, raw: RawManifest, *, reference: str | None) -> Digest: ...


@dataclass(frozen=True, slots=True)
class BlobEvent:
    """Progress of one blob: ``reused`` (with the sink's words), ``queued``, ``copying`` (bytes so far), ``copied``."""

    digest: Digest
    diff_id: Digest | None
    status: str  # "reused" | "queued" | "copying" | "copied"
    done: int = 0
    total: int = 0
    detail: str = ""


BlobEvents = Callable[[BlobEvent], None]


class Stopped(DockyardError):
    """A copy given up because another one failed (never seen outside: the first error is raised)."""


class _Watched:
    """A blob stream that reports progress and ends its copy at the next read once ``stop`` is set."""

    def __init__(
        self, raw: BinaryIO, desc: Descriptor, diff_id: Digest | None, stop: threading.Event, emit: BlobEvents
    ) -> None:
        self._raw = raw
        self._desc = desc
        self._diff_id = diff_id
        self._stop = stop
        self._emit = emit
        self._done = 0
        self._next = 0

    def read(self, n: int = -1) -> bytes:
        if self._stop.is_set():
            raise Stopped("stopped: another blob failed")
        data = self._raw.read(n)
        self._done += len(data)
        if data and self._done >= self._next:
            self._next = self._done + PROGRESS_STEP
            self._emit(BlobEvent(self._desc.digest, self._diff_id, "copying", self._done, self._desc.size))
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return bool(getattr(self._raw, "seekable", lambda: False)())

    def seek(self, offset: int, whence: int = 0) -> int:
        """Rewind for a retried upload (only when the underlying stream can)."""
        self._done = self._raw.seek(offset, whence)
        self._next = 0
        return self._done

    def tell(self) -> int:
        return self._done

    def close(self) -> None:
        self._raw.close()

    def __enter__(self) -> _Watched:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def put_blobs(
    sink: BlobSink,
    blobs: Sequence[tuple[Descriptor, Digest | None, Callable[[], BinaryIO]]],
    *,
    max_concurrent: int = 3,
    on_event: BlobEvents | None = None,
) -> None:
    """Each blob (descriptor, diff_id or None, opener) reused or copied into ``sink``; up to ``max_concurrent`` at
    once. The same digest twice is copied once. Raises the first failure after stopping the others."""
    emit: BlobEvents = on_event or (lambda _e: None)
    todo: list[tuple[Descriptor, Digest | None, Callable[[], BinaryIO]]] = []
    seen: set[Digest] = set()
    for desc, diff_id, opener in blobs:
        if desc.digest in seen:
            continue
        seen.add(desc.digest)
        reused = sink.reuse_blob(desc, diff_id)
        if reused is not None:
            emit(BlobEvent(desc.digest, diff_id, "reused", 0, desc.size, reused))
        else:
            emit(BlobEvent(desc.digest, diff_id, "queued", 0, desc.size))
            todo.append((desc, diff_id, opener))
    stop = threading.Event()

    def copy(desc: Descriptor, diff_id: Digest | None, opener: Callable[[], BinaryIO]) -> None:
        with _Watched(opener(), desc, diff_id, stop, emit) as stream:
            sink.put_blob(desc, stream, diff_id)  # type: ignore[arg-type]

    if max_concurrent <= 1 or len(todo) <= 1:
        for desc, diff_id, opener in todo:
            copy(desc, diff_id, opener)
            emit(BlobEvent(desc.digest, diff_id, "copied", desc.size, desc.size))
        return
    # Imported here: concurrent.futures (and the logging it imports) costs ~8 ms of every command that only reads.
    from concurrent.futures import ThreadPoolExecutor, as_completed

    pool = ThreadPoolExecutor(max_workers=max_concurrent, thread_name_prefix="dockyard-blob")
    try:
        futures: dict[Future[None], tuple[Descriptor, Digest | None]] = {
            pool.submit(copy, desc, diff_id, opener): (desc, diff_id) for desc, diff_id, opener in todo
        }
        for future in as_completed(futures):
            future.result()
            desc, diff_id = futures[future]
            emit(BlobEvent(desc.digest, diff_id, "copied", desc.size, desc.size))
    finally:
        stop.set()  # a no-op once every copy has finished; else the ones under way end at their next read
        pool.shutdown(wait=True, cancel_futures=True)


def put_image(
    sink: BlobSink,
    image: Image,
    *,
    reference: str | None = None,
    max_concurrent: int = 3,
    on_event: BlobEvents | None = None,
    skip: Callable[[Descriptor], bool] | None = None,
) -> Digest:
    """Every layer of ``image`` (reused or copied; not those ``skip`` names, e.g. foreign layers), then its config,
    then its manifest under ``reference``."""
    import io

    manifest = image.manifest()
    config = image.config()
    layers: list[Layer] = list(image.layers())
    put_blobs(
        sink,
        [
            (layer.descriptor(), layer.diff_id(), layer.open)
            for layer in layers
            if skip is None or not skip(layer.descriptor())
        ],
        max_concurrent=max_concurrent,
        on_event=on_event,
    )
    if sink.reuse_blob(manifest.config, None) is None:
        sink.put_blob(manifest.config, io.BytesIO(config.raw), None)
    return sink.put_manifest(RawManifest(manifest.raw, manifest.media_type), reference=reference)


__all__ = ["BlobEvent", "BlobEvents", "BlobSink", "RawManifest", "Stopped", "put_blobs", "put_image"]
