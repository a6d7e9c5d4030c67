"""The copy engine: an image or a whole index from any place to any other, with skopeo's names for the places.

    docker://REF                  a registry                (source and destination)
    oci:DIR[:REF]                 an OCI image layout        (REF: the ref name, e.g. a tag)
    oci-archive:FILE[:REF]        an OCI layout as a tar
    docker-archive:FILE[:REF]     a docker-archive tar        (REF: the RepoTags name / which image)
    REF (no transport)            the local store

:func:`transfer` is the engine: it reads the top manifest or index of a
:class:`~dockyard.transport.base.Source`, chooses the platform (the one rule,
:func:`~dockyard.image.base.select_platform`) or, with ``all_platforms``, copies every child of the index
(nested indexes, artifacts; foreign layers stay where their URLs say unless asked), and writes blobs then
manifests, byte for byte, into a :class:`~dockyard.transport.base.Destination`. :data:`PLACES` maps transport names
to how each opens as a source and as a destination. ``pull``, ``push``, ``load``, ``save``, ``copy`` and
``imagetools create`` are thin wrappers that add Docker's messages; this module imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable

from dockyard.atomicfile import replaced_atomically
from dockyard.errors import ImageNotFound, InvalidInput, InvalidManifest, InvalidReference
from dockyard.events import EventSink, PullEvent, locked_emitter, short_id
from dockyard.image.base import Image, check_platform, select_platform
from dockyard.image.transfer import BlobEvent, BlobEvents, put_blobs, put_image
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.transport.base import (
    Destination,
    KeepsIndexes,
    Location,
    Mounts,
    Source,
    SourceIndex,
    is_foreign,
    is_image_manifest,
    parse_location,
    parse_raw,
    source_image,
)

if TYPE_CHECKING:
    from dockyard.store.store import Store
    from dockyard.transport.registry.client import RegistryClient


@runtime_checkable
class Named(Protocol):
    """Optional capability: a destination that names the image just put (layouts, docker-archives)."""

    def name(self, names: Sequence[str]) -> None: ...


@dataclass(frozen=True, slots=True)
class Transferred:
    digest: Digest  # what the destination holds at the top (its digest there)
    size: int  # the length of the top manifest or index put
    images: int  # how many single-platform images were copied
    index_digest: Digest | None = None  # the index the image was chosen from, when it was one


# --------------------------------------------------------------------------- the engine


def transfer(
    source: Source,
    dest: Destination,
    *,
    where: str,
    platform: Platform | None = None,
    all_platforms: bool = False,
    include_foreign: bool = False,
    reference: str | None = None,
    max_concurrent: int = 3,
    on_event: BlobEvents | None = None,
) -> Transferred:
    """Copy what ``source`` names into ``dest``: one platform of an index (``platform``, else this host's) or,
    with ``all_platforms``, the index and every child; the top manifest goes under ``reference``."""
    top = source.top()
    parsed = parse_raw(top, where)
    concurrency = min(max_concurrent, getattr(dest, "max_concurrent", max_concurrent))
    keep_foreign = include_foreign or bool(getattr(dest, "needs_all_blobs", False))
    options = _Options(concurrency, keep_foreign, on_event)
    if isinstance(parsed, Index):
        index = SourceIndex(source, top, where)
        if all_platforms:
            count = _copy_children(index, dest, options)
            return Transferred(dest.put_manifest(top, reference=reference), len(top.data), count, top.digest)
        try:
            image, _desc = select_platform(index, platform or Platform.host())
        except InvalidManifest as exc:
            raise InvalidManifest(f"{where}: {exc}") from None
        if isinstance(dest, KeepsIndexes):
            dest.keep_index(top)
        digest = _put(dest, image, reference, options)
        return Transferred(digest, len(image.manifest().raw), 1, top.digest)
    image = source_image(source, top, where)
    if platform is not None:
        check_platform(image.config(), platform, where)
    return Transferred(_put(dest, image, reference, options), len(image.manifest().raw), 1)


@dataclass(frozen=True, slots=True)
class _Options:
    max_concurrent: int
    include_foreign: bool
    on_event: BlobEvents | None


def _put(dest: Destination, image: Image, reference: str | None, options: _Options) -> Digest:
    skip = None if options.include_foreign else is_foreign
    return put_image(
        dest,
        image,
        reference=reference,
        max_concurrent=options.max_concurrent,
        on_event=options.on_event,
        skip=skip,
    )


def _copy_children(index: SourceIndex, dest: Destination, options: _Options) -> int:
    """Every child of ``index`` into ``dest`` (by digest), depth first; the number of images copied."""
    count = 0
    for desc in index.index().manifests:
        if mediatype.is_index(desc.media_type):
            child = index.child_index(desc)
            count += _copy_children(child, dest, options)
            dest.put_manifest(child.raw, reference=None)
            continue
        raw = index.child_raw(desc)
        parsed = parse_raw(raw, f"{index.where}@{desc.digest}")
        if isinstance(parsed, Index):
            raise InvalidManifest(f"{index.where}: {desc.digest} is an index described as {desc.media_type}")
        if is_image_manifest(parsed):
            _put(dest, index.image(desc), None, options)
            count += 1
            continue
        # an artifact (attestation, signature, SBOM): its blobs and manifest as they are
        blobs = [b for b in (parsed.config, *parsed.layers) if options.include_foreign or not is_foreign(b)]
        put_blobs(
            dest,
            [(b, None, _opener(index.source, b)) for b in blobs],
            max_concurrent=options.max_concurrent,
            on_event=options.on_event,
        )
        dest.put_manifest(raw, reference=None)
    return count


def _opener(source: Source, desc: Descriptor) -> Callable[[], BinaryIO]:
    return lambda: source.open_blob(desc)


# --------------------------------------------------------------------------- places by name


@dataclass
class Context:
    """What opening places needs: the store, one registry client per domain (closed together), options."""

    store: Store | None = None
    insecure: tuple[str, ...] = ()
    clients: dict[str, RegistryClient] = field(default_factory=dict)

    def client(self, domain: str) -> RegistryClient:
        from dockyard.transport import remote

        if domain not in self.clients:
            self.clients[domain] = remote.client_for(domain, insecure=self.insecure)
        return self.clients[domain]

    def need_store(self) -> Store:
        if self.store is None:
            raise InvalidInput("copying to or from the local store needs a store")
        return self.store

    def close(self) -> None:
        for client in self.clients.values():
            client.close()
        self.clients.clear()

    def __enter__(self) -> Context:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True, slots=True)
class Place:
    """How a transport opens: as a source, and as a destination (with the reference its top manifest takes)."""

    open_source: Callable[[Location, Context], Source]
    open_destination: Callable[[Location, Context, str | None], tuple[Destination, str | None]]


def _docker_source(loc: Location, ctx: Context) -> Source:
    from dockyard.transport.remote import RegistrySource

    assert loc.ref is not None
    return RegistrySource(ctx.client(loc.ref.domain), loc.ref)


def _docker_destination(loc: Location, ctx: Context, name: str | None) -> tuple[Destination, str | None]:
    from dockyard.transport.remote import RegistryDestination

    assert loc.ref is not None
    ref = loc.ref if loc.ref.digest is not None else loc.ref.with_default_tag()
    reference = str(ref.digest) if ref.digest is not None and ref.tag is None else ref.tag
    return RegistryDestination(ctx.client(ref.domain), ref.path), reference


def _layout_source(loc: Location, ctx: Context) -> Source:
    from dockyard.transport.oci_layout import LayoutSource

    assert loc.path is not None
    source = LayoutSource(loc.path)
    source.choose(loc.name)
    return source


def _layout_destination(as_tar: bool) -> Callable[[Location, Context, str | None], tuple[Destination, str | None]]:
    def open_destination(loc: Location, ctx: Context, name: str | None) -> tuple[Destination, str | None]:
        from dockyard.transport.oci_layout import LayoutDestination

        assert loc.path is not None
        return LayoutDestination(loc.path, as_tar=as_tar), ""

    return open_destination


def _archive_source(loc: Location, ctx: Context) -> Source:
    from dockyard.transport.docker_archive import DockerArchiveSource

    assert loc.path is not None
    return DockerArchiveSource(loc.path, loc.name)


def _unsupported(kind: str) -> Callable[[Location, Context, str | None], tuple[Destination, str | None]]:
    def open_destination(loc: Location, ctx: Context, name: str | None) -> tuple[Destination, str | None]:
        raise InvalidInput(f"{kind}: use the copy() wrapper")

    return open_destination


def _store_source(loc: Location, ctx: Context) -> Source:
    from dockyard.store.source import StoreSource

    assert loc.ref is not None
    return StoreSource(ctx.need_store(), loc.ref.familiar())


#: skopeo's transport names (and ``store``) -> how each opens. Archive destinations are files written whole: the
#: copy wrapper opens them itself (a temporary file renamed when complete).
PLACES: dict[str, Place] = {
    "docker": Place(_docker_source, _docker_destination),
    "oci": Place(_layout_source, _layout_destination(as_tar=False)),
    "oci-archive": Place(_layout_source, _layout_destination(as_tar=True)),
    "docker-archive": Place(_archive_source, _unsupported("docker-archive")),
    "store": Place(_store_source, _unsupported("store")),
}


# --------------------------------------------------------------------------- copy between two places


@dataclass(frozen=True, slots=True)
class CopyResult:
    source: Location
    destination: Location
    digest: Digest  # the manifest (or, with --all, index) digest written at the destination
    images: int  # how many single-platform images were copied
    notes: tuple[str, ...] = ()  # one line each: what changed on the way (a rewritten manifest)


def pull_events(emit: EventSink) -> BlobEvents:
    """Docker's pull messages for the blob events of a copy into the store."""

    def on_event(event: BlobEvent) -> None:
        if event.diff_id is None:
            return  # configs and manifests: Docker shows layers only
        ident = short_id(event.digest)
        if event.status == "reused":
            emit(PullEvent(ident, "Already exists"))
        elif event.status == "queued":
            emit(PullEvent(ident, "Pulling fs layer"))
        elif event.status == "copying":
            emit(PullEvent(ident, "Downloading", event.done, event.total))
        elif event.status == "copied":
            emit(PullEvent(ident, "Verifying Checksum", event.total, event.total))
            emit(PullEvent(ident, "Download complete"))
            emit(PullEvent(ident, "Pull complete"))

    return on_event


def push_events(emit: EventSink) -> BlobEvents:
    """Docker's push messages for the blob events of a copy into a registry (layers by diff_id)."""

    def on_event(event: BlobEvent) -> None:
        if event.diff_id is None:
            return
        ident = short_id(event.diff_id)
        if event.status == "reused":
            emit(PullEvent(ident, "Preparing"))
            emit(PullEvent(ident, event.detail))
        elif event.status == "queued":
            emit(PullEvent(ident, "Preparing"))
        elif event.status == "copying":
            emit(PullEvent(ident, "Pushing", event.done, event.total))
        elif event.status == "copied":
            emit(PullEvent(ident, "Pushed"))

    return on_event


def copy(
    source: str | Location,
    destination: str | Location,
    *,
    store: Store | None = None,
    platform: Platform | None = None,
    all_platforms: bool = False,
    include_foreign: bool = False,
    on_event: EventSink | None = None,
    insecure: tuple[str, ...] = (),
) -> CopyResult:
    """Copy one image (or, with ``all_platforms``, a whole index) from ``source`` to ``destination``."""
    src = source if isinstance(source, Location) else parse_location(source)
    dst = destination if isinstance(destination, Location) else parse_location(destination)
    emit = locked_emitter(on_event)
    ctx = Context(store, tuple(insecure))
    try:
        if "store" in (src.kind, dst.kind):
            ctx.need_store()
        if dst.kind == "store" and dst.ref is not None and dst.ref.digest is not None:
            raise InvalidReference(f"cannot name a stored image by digest: {dst.ref.familiar()}")
        if src.kind == "store" and dst.kind == "docker":
            from dockyard.store.source import StoreSource

            assert src.ref is not None
            # a registry wants compressed layers: plain tars (loaded docker-archives) go up gzip-compressed
            opened: Source = StoreSource(ctx.need_store(), src.ref.familiar(), compression="gzip")
        else:
            opened = PLACES[src.kind].open_source(src, ctx)
        try:
            return _copy_to(opened, src, dst, ctx, platform, all_platforms, include_foreign, emit)
        finally:
            opened.close()
    finally:
        ctx.close()


def copy_source(
    opened: Source,
    destination: str | Location,
    *,
    where: str,
    store: Store | None = None,
    all_platforms: bool = False,
    on_event: EventSink | None = None,
    insecure: tuple[str, ...] = (),
) -> CopyResult:
    """Copy what an already open ``opened`` source names (a build's images) to ``destination``; the name a layout or
    docker-archive gives it is the destination's (``oci-archive:FILE:NAME``, ``docker-archive:FILE:NAME``)."""
    dst = destination if isinstance(destination, Location) else parse_location(destination)
    src = Location("source", name=where)
    ctx = Context(store, tuple(insecure))
    try:
        if dst.kind == "store":
            ctx.need_store()
        return _copy_to(opened, src, dst, ctx, None, all_platforms, False, locked_emitter(on_event))
    finally:
        ctx.close()


def _source_name(src: Location, opened: Source) -> str | None:
    """The name a source gives its image, carried to destinations that keep names (archives, layouts)."""
    if src.kind == "store" and src.ref is not None and src.ref.digest is None:
        return src.ref.with_default_tag().familiar()
    entry = getattr(opened, "entry", None)
    if entry is not None and entry.repo_tags:
        return str(entry.repo_tags[0])
    which = getattr(opened, "which", None)
    if isinstance(which, Descriptor):
        from dockyard.oci.layout import ANNOTATION_IMAGE_NAME

        return which.annotations.get(ANNOTATION_IMAGE_NAME) or None
    return None


def _copy_to(
    opened: Source,
    src: Location,
    dst: Location,
    ctx: Context,
    platform: Platform | None,
    all_platforms: bool,
    include_foreign: bool,
    emit: EventSink,
) -> CopyResult:
    where = str(src)
    name = _source_name(src, opened)
    notes = getattr(opened, "notes", [])
    if all_platforms and src.kind == "store":
        missing: list[str] = getattr(opened, "missing_platforms", list)()
        if missing:
            raise ImageNotFound(f"{src}: the store does not hold every platform of the index: {', '.join(missing)}")
    if dst.kind == "store":
        return _copy_to_store(opened, src, dst, ctx, platform, all_platforms, emit)
    if dst.kind == "docker-archive":
        from dockyard.transport.docker_archive import DockerArchiveDestination

        if all_platforms:
            raise InvalidInput("a docker-archive holds single-platform images: --all needs docker:// or oci:")
        assert dst.path is not None
        with replaced_atomically(dst.path) as tmp, open(tmp, "wb") as f:
            archive = DockerArchiveDestination(f)
            done = transfer(opened, archive, where=where, platform=platform, on_event=pull_events(emit))
            names = [n for n in [dst.name if dst.ref is not None else None, name] if n][:1]
            archive.name([n for n in names if not n.startswith("@")])
            archive.commit()
        return CopyResult(src, dst, done.digest, done.images, tuple(notes))
    dest, reference = PLACES[dst.kind].open_destination(dst, ctx, name)
    try:
        if src.kind == "docker" and dst.kind == "docker" and isinstance(dest, Mounts):
            assert src.ref is not None and dst.ref is not None
            if src.ref.domain == dst.ref.domain:
                dest.mount_from_anywhere(src.ref.path)
        events = push_events(emit) if dst.kind == "docker" else pull_events(emit)
        done = transfer(
            opened,
            dest,
            where=where,
            platform=platform,
            all_platforms=all_platforms,
            include_foreign=include_foreign,
            reference=reference,
            on_event=events,
        )
        if isinstance(dest, Named):
            from dockyard.transport.oci_layout import RefName

            if dst.name:
                dest.name([RefName(dst.name)])  # type: ignore[list-item]
            else:
                dest.name([name] if name else [])
        dest.commit()
    finally:
        dest.close()
    return CopyResult(src, dst, done.digest, done.images, tuple(notes))


def _copy_to_store(
    opened: Source,
    src: Location,
    dst: Location,
    ctx: Context,
    platform: Platform | None,
    all_platforms: bool,
    emit: EventSink,
) -> CopyResult:
    """As ``pull`` records it: the name, and the digest copied as a repository digest of the stored image when the
    source is a registry (the index digest for a multi-platform source, whose bytes are kept too)."""
    from dockyard.store.ingest import StoreDestination

    store = ctx.need_store()
    assert dst.ref is not None
    top = opened.top()
    repo_digests = []
    if src.kind == "docker" and src.ref is not None:
        repo_digests.append(src.ref.untagged().with_digest(top.digest))
    with StoreDestination(store, [dst.ref.with_default_tag()], repo_digests=repo_digests) as dest:
        done = transfer(
            opened, dest, where=str(src), platform=platform, all_platforms=all_platforms, on_event=pull_events(emit)
        )
        dest.commit()
    return CopyResult(src, dst, done.digest, done.images, tuple(getattr(opened, "notes", [])))


__all__ = [
    "PLACES",
    "Context",
    "CopyResult",
    "Location",
    "Named",
    "Place",
    "Transferred",
    "copy",
    "copy_source",
    "parse_location",
    "pull_events",
    "push_events",
    "transfer",
]
