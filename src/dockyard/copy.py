"""One copy engine: an image from any place to any other, with skopeo's names for the places.

    docker://REF                  a registry                (source and destination)
    oci:DIR[:REF]                 an OCI image layout        (REF: the ref name, e.g. a tag)
    oci-archive:FILE[:REF]        an OCI layout as a tar
    docker-archive:FILE[:REF]     a docker-archive tar        (REF: the RepoTags name / which image)
    REF (no transport)            the local store

Sources become :class:`~dockyard.image.base.Image` values (layers streamed only when the destination reads
them); destinations take an image and its name. Digests are verified on every hop: by the store's ingest
(distribution digest and diff_id), by the archive writers (each blob re-hashed), by the registry on upload.
``pull`` and ``push`` are this engine between a registry and the store, with Docker's messages; ``load`` and
``save`` between the store and the archive formats. ``--all`` copies every platform of a registry index to
another registry, keeping the index (and so its digest) byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.atomicfile import replaced_atomically
from dockyard.errors import InvalidArchive, InvalidInput, InvalidReference
from dockyard.events import EventSink, locked_emitter
from dockyard.image.base import Image
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform

if TYPE_CHECKING:
    from dockyard.oci.manifest import Manifest
    from dockyard.store.store import Store
    from dockyard.transport.registry.client import RegistryClient

TRANSPORTS = ("docker", "oci", "oci-archive", "docker-archive")


@dataclass(frozen=True, slots=True)
class Location:
    """Where an image is: ``kind`` is a transport name or ``store``."""

    kind: str
    ref: refs.Reference | None = None  # docker:// and the store; the name in docker-archive
    path: Path | None = None  # oci, oci-archive, docker-archive
    name: str | None = None  # the ref name of oci / oci-archive, or the docker-archive name as written

    def __str__(self) -> str:
        if self.kind == "store":
            return str(self.ref)
        if self.kind == "docker":
            return f"docker://{self.ref}"
        return f"{self.kind}:{self.path}" + (f":{self.name}" if self.name else "")


def parse_location(text: str) -> Location:
    """Parse skopeo's ``transport:details`` form; a bare reference is the local store."""
    if text.startswith("docker://"):
        return Location("docker", ref=refs.parse(text[len("docker://") :]))
    for kind in ("oci-archive", "docker-archive", "oci"):
        prefix = kind + ":"
        if text.startswith(prefix):
            rest = text[len(prefix) :]
            if not rest:
                raise InvalidReference(f"{kind}: needs a path: {text!r}")
            path, sep, name = rest.partition(":")
            if not path:
                raise InvalidReference(f"{kind}: needs a path: {text!r}")
            ref = None
            if kind == "docker-archive" and sep and name and not name.startswith("@"):
                ref = refs.parse(name)
                if ref.digest is not None:
                    raise InvalidReference(f"docker-archive doesn't support digest references: {name}")
            return Location(kind, ref=ref, path=Path(path), name=name or None)
    if text.startswith("docker:"):
        raise InvalidReference(f"invalid location {text!r}: the registry transport is written docker://REF")
    if ":" in text.split("/", 1)[0] and text.split(":", 1)[0] in ("containers-storage", "dir", "docker-daemon"):
        raise InvalidReference(f"transport {text.split(':', 1)[0]!r} is not supported (use {', '.join(TRANSPORTS)})")
    return Location("store", ref=refs.parse(text))


@dataclass(frozen=True, slots=True)
class CopyResult:
    source: Location
    destination: Location
    digest: Digest  # the manifest (or, with --all, index) digest written at the destination
    images: int  # how many single-platform images were copied


# --------------------------------------------------------------------------- reading


def read_image(
    src: Location, *, store: Store | None, platform: Platform | None, client: RegistryClient | None
) -> tuple[Image, str | None]:
    """The image at ``src`` (for ``platform`` where it is an index) and the name it carries, if any."""
    if src.kind == "store":
        assert store is not None and src.ref is not None
        image = store.image(src.ref.familiar())
        return image, src.ref.with_default_tag().familiar() if src.ref.digest is None else None
    if src.kind == "docker":
        from dockyard.transport import remote

        assert client is not None and src.ref is not None
        target = remote.resolve(client, src.ref)
        return remote.image_for(client, target, platform), None
    assert src.path is not None
    if src.kind == "docker-archive":
        from dockyard.transport import docker_archive

        entries = docker_archive.read(src.path)
        if src.name and src.name.startswith("@"):
            try:
                entry = entries[int(src.name[1:])]
            except (ValueError, IndexError):
                raise InvalidArchive(f"{src}: no image number {src.name[1:]} ({len(entries)} images)") from None
        elif src.ref is not None:
            wanted = src.ref.with_default_tag()
            found = [e for e in entries if any(refs.parse(t) == wanted for t in e.repo_tags)]
            if not found:
                raise InvalidArchive(f"{src}: no image named {wanted.familiar()}")
            entry = found[0]
        elif len(entries) == 1:
            entry = entries[0]
        else:
            raise InvalidArchive(f"{src}: holds {len(entries)} images: say which (:NAME or :@N)")
        return entry.image, (entry.repo_tags[0] if entry.repo_tags else None)
    from dockyard.transport import oci_layout

    layout = oci_layout.read(src.path, platform=platform)
    if src.name:
        chosen = [e for e in layout if src.name in (e.ref_name, e.name)]
        if not chosen:
            raise InvalidArchive(f"{src}: no image with ref name {src.name!r}")
    elif len(layout) == 1:
        chosen = layout
    else:
        raise InvalidArchive(f"{src}: holds {len(layout)} images: say which (:REF)")
    return chosen[0].image, chosen[0].name


# --------------------------------------------------------------------------- writing


def write_image(
    image: Image,
    dst: Location,
    name: str | None,
    *,
    store: Store | None,
    client: RegistryClient | None,
    emit: EventSink,
    sources: dict[str, list[str]] | None = None,
) -> Digest:
    """Write ``image`` at ``dst``; the manifest digest it has there."""
    if dst.kind == "store":
        assert store is not None and dst.ref is not None
        if dst.ref.digest is not None:
            raise InvalidReference(f"cannot name a stored image by digest: {dst.ref.familiar()}")
        store.ingest(image, [dst.ref.with_default_tag()], max_concurrent=3)
        return image.manifest().digest
    if dst.kind == "docker":
        from dockyard.push import upload_image

        assert client is not None and dst.ref is not None
        reference: str | Digest = dst.ref.digest if dst.ref.digest is not None else (dst.ref.tag or "latest")
        return upload_image(client, dst.ref.path, image, reference, emit=emit, sources=sources)
    assert dst.path is not None
    names = [n for n in [dst.name or name] if n]
    if dst.kind == "docker-archive":
        from dockyard.transport import docker_archive

        tags = [refs.parse(n).with_default_tag().familiar() for n in names]
        with replaced_atomically(dst.path) as tmp:
            docker_archive.write([(image, tags)], tmp)
        return image.manifest().digest
    from dockyard.transport import oci_layout

    # oci:DIR:REF names the image by REF alone, verbatim, as skopeo does
    layout_names: list[str | oci_layout.RefName] = [oci_layout.RefName(dst.name)] if dst.name else list(names)
    if dst.kind == "oci-archive":
        with replaced_atomically(dst.path) as tmp:
            oci_layout.write([(image, layout_names)], tmp, as_tar=True)
    else:
        oci_layout.write([(image, layout_names)], dst.path, as_tar=False)
    return image.manifest().digest


# --------------------------------------------------------------------------- the engine


def copy(
    source: str | Location,
    destination: str | Location,
    *,
    store: Store | None = None,
    platform: Platform | None = None,
    all_platforms: bool = False,
    on_event: EventSink | None = None,
    insecure: tuple[str, ...] = (),
) -> CopyResult:
    """Copy one image (or, with ``all_platforms``, a whole registry index) from ``source`` to ``destination``."""
    from dockyard.transport import remote

    src = source if isinstance(source, Location) else parse_location(source)
    dst = destination if isinstance(destination, Location) else parse_location(destination)
    if "store" in (src.kind, dst.kind) and store is None:
        raise InvalidInput("copying to or from the local store needs a store")
    if dst.kind == "docker" and dst.ref is not None and dst.ref.tag is None and dst.ref.digest is None:
        dst = Location("docker", ref=dst.ref.with_default_tag())
    emit = locked_emitter(on_event)
    clients: dict[str, RegistryClient] = {}

    def client_of(loc: Location) -> RegistryClient | None:
        if loc.kind != "docker" or loc.ref is None:
            return None
        if loc.ref.domain not in clients:
            clients[loc.ref.domain] = remote.client_for(loc.ref.domain, insecure=insecure)
        return clients[loc.ref.domain]

    try:
        src_client, dst_client = client_of(src), client_of(dst)
        same_registry = (
            src.kind == dst.kind == "docker"
            and src.ref is not None
            and dst.ref is not None
            and src.ref.domain == dst.ref.domain
        )
        if all_platforms:
            if src.kind != "docker" or dst.kind != "docker":
                raise InvalidInput("--all copies a registry index to a registry: both must be docker://")
            assert src_client is not None and dst_client is not None and src.ref is not None and dst.ref is not None
            return _copy_index(src, dst, src_client, dst_client, same_registry, emit)
        if src.kind == "docker" and dst.kind == "store":
            assert src_client is not None
            return _registry_to_store(src, dst, src_client, store, platform, emit)
        image, name = read_image(src, store=store, platform=platform, client=src_client)
        sources = _same_registry_sources(image, src) if same_registry else None
        digest = write_image(image, dst, name, store=store, client=dst_client, emit=emit, sources=sources)
        return CopyResult(src, dst, digest, 1)
    finally:
        for c in clients.values():
            c.close()


def _registry_to_store(
    src: Location,
    dst: Location,
    client: RegistryClient,
    store: Store | None,
    platform: Platform | None,
    emit: EventSink,
) -> CopyResult:
    """As ``pull`` records it: the digest copied is a repository digest of the stored image (the index
    digest for a multi-platform source, whose bytes are kept too)."""
    from dockyard.pull import store_pulled
    from dockyard.transport import remote

    assert src.ref is not None and dst.ref is not None and store is not None
    if dst.ref.digest is not None:
        raise InvalidReference(f"cannot name a stored image by digest: {dst.ref.familiar()}")
    target = remote.resolve(client, src.ref)
    image = remote.image_for(client, target, platform)
    store_pulled(store, src.ref, target, image, name=dst.ref.with_default_tag(), emit=emit)
    return CopyResult(src, dst, image.manifest().digest, 1)


def _same_registry_sources(image: Image, src: Location) -> dict[str, list[str]]:
    assert src.ref is not None
    blobs = [str(layer.descriptor().digest) for layer in image.layers()]
    return {b: [src.ref.path] for b in blobs}


def _copy_index(
    src: Location,
    dst: Location,
    src_client: RegistryClient,
    dst_client: RegistryClient,
    same_registry: bool,
    emit: EventSink,
) -> CopyResult:
    """Every child of a registry index (or the one manifest), then the index itself, unchanged."""
    from dockyard.oci.index import Index
    from dockyard.oci.manifest import Manifest
    from dockyard.oci.platform import Platform as _Platform
    from dockyard.transport import remote

    assert src.ref is not None and dst.ref is not None
    target = remote.resolve(src_client, src.ref)
    index = target.index
    reference: str | Digest = dst.ref.digest if dst.ref.digest is not None else (dst.ref.tag or "latest")
    if index is None:
        image = remote.image_for(src_client, target)
        sources = _same_registry_sources(image, src) if same_registry else None
        from dockyard.push import upload_image

        digest = upload_image(dst_client, dst.ref.path, image, reference, emit=emit, sources=sources)
        return CopyResult(src, dst, digest, 1)
    from dockyard.push import upload_image

    copied = 0
    for desc in index.manifests:
        got = src_client.get_manifest(src.ref.path, desc.digest)
        parsed = remote.parse_target(src.ref.with_digest(desc.digest), got.data, got.media_type, got.digest).parsed
        if isinstance(parsed, Index):
            raise InvalidInput(f"{src}: nested indexes are not copied with --all")
        assert isinstance(parsed, Manifest)
        child_target = remote.Target(src.ref.with_digest(desc.digest), got.data, got.media_type, got.digest, parsed)
        if parsed.config.media_type not in mediatype.CONFIG_TYPES:
            _copy_artifact(src_client, dst_client, src, dst, parsed, got.data, got.media_type)
            continue
        image = remote.image_for(src_client, child_target, desc.platform or _Platform.host())
        sources = _same_registry_sources(image, src) if same_registry else None
        upload_image(dst_client, dst.ref.path, image, desc.digest, emit=emit, sources=sources)
        copied += 1
    digest = dst_client.put_manifest(dst.ref.path, reference, target.raw, target.media_type)
    return CopyResult(src, dst, digest, copied)


def _copy_artifact(
    src_client: RegistryClient,
    dst_client: RegistryClient,
    src: Location,
    dst: Location,
    manifest: Manifest,
    raw: bytes,
    media_type: str,
) -> None:
    """A non-image child of an index (attestations, signatures): its blobs and manifest, as they are."""
    from dockyard.transport import remote

    assert src.ref is not None and dst.ref is not None
    for desc in [manifest.config, *manifest.layers]:
        remote.copy_blob(src_client, src.ref.path, desc, dst_client, dst.ref.path)
    dst_client.put_manifest(dst.ref.path, manifest.digest, raw, media_type)


__all__ = ["CopyResult", "Location", "copy", "parse_location", "read_image", "write_image"]
