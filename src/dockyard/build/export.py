"""Where a build's images go, as buildx's ``--output`` names it: the store (``--load``, the default), an OCI layout
(``type=oci``, a tar or with ``tar=false`` a directory), a docker-archive (``type=docker``, one platform only), the
files (``type=local``: the root filesystem, one ``os_arch[_variant]/`` folder per platform when there are several),
a registry (``type=image,push=true`` or ``--push``). The images (and the index of several platforms) are a
:class:`~dockyard.transport.base.Source` handed to the copy engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from dockyard.build import attest
from dockyard.build.builder import BuiltImage
from dockyard.errors import InvalidInput
from dockyard.image.base import BlobLayer, StaticImage
from dockyard.image.transfer import RawManifest
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.digest import Digest
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.transport.base import MemorySource

if TYPE_CHECKING:
    from dockyard.store.store import Store

OUTPUT_TYPES = ("image", "registry", "docker", "oci", "local", "tar")


@dataclass(frozen=True)
class Output:
    """One ``--output`` value: ``type=oci,dest=out.tar``, ``type=local,dest=dir``, a bare path (local)..."""

    type: str
    dest: str | None = None
    attrs: dict[str, str] = field(default_factory=dict)

    @property
    def push(self) -> bool:
        return self.type == "registry" or self.attrs.get("push", "false").lower() == "true"

    @property
    def as_tar(self) -> bool:
        return self.attrs.get("tar", "true").lower() != "false"

    @property
    def names(self) -> list[str]:
        value = self.attrs.get("name", "")
        return [n for n in value.split(",") if n]


def parse_output(text: str) -> Output:
    """buildx's ``--output`` (``-o``) syntax; a value without ``type=`` is a local destination directory."""
    import csv

    if "=" not in text.split(",", 1)[0]:
        return Output("local", text) if text != "-" else Output("tar", "-")
    attrs: dict[str, str] = {}
    for item in next(csv.reader([text]), []):
        key, eq, value = item.partition("=")
        if not eq:
            raise InvalidInput(f"invalid --output value {text!r}: {item!r} is not key=value")
        attrs[key.strip().lower()] = value
    kind = attrs.pop("type", "")
    if kind not in OUTPUT_TYPES:
        raise InvalidInput(f"unsupported --output type {kind!r} (one of {', '.join(OUTPUT_TYPES)})")
    dest = attrs.pop("dest", None)
    if kind in ("docker", "oci", "local", "tar") and not dest:
        raise InvalidInput(f"--output type={kind} needs dest=")
    return Output(kind, dest, attrs)


def _layer_media(kind: str, layer_type: str) -> str:
    return mediatype.layer_type(kind, mediatype.layer_compression(layer_type))


def _level(annotations: Mapping[str, str], level: str) -> dict[str, str]:
    """buildx's annotation levels: ``index:k=v`` on the index, ``manifest:k=v`` (and plain ``k=v``) on manifests."""
    out = {}
    for key, value in annotations.items():
        head, sep, rest = key.partition(":")
        if sep and head in ("index", "manifest", "manifest-descriptor", "index-descriptor"):
            if head == level:
                out[rest] = value
        elif level == "manifest":
            out[key] = value
    return out


def image_of(built: BuiltImage, *, oci: bool, annotations: Mapping[str, str] = {}) -> StaticImage:
    """The built image as a manifest of the requested kind (OCI or Docker schema 2) over the same blobs."""
    kind = mediatype.OCI_MANIFEST if oci else mediatype.DOCKER_MANIFEST
    config = ImageConfig.parse(built.config)
    layers = [
        BlobLayer(
            Descriptor(_layer_media(kind, ref.descriptor.media_type), ref.descriptor.digest, ref.descriptor.size),
            ref.diff_id,
            ref.open,
            None,
        )
        for ref in built.layers
    ]
    manifest = Manifest.build(
        descriptor_of(built.config, mediatype.config_type_for(kind)),
        [layer.descriptor() for layer in layers],
        kind,
        dict(annotations) or None,
    )
    return StaticImage(manifest, config, tuple(layers))


class BuildSource(MemorySource):
    """The built images (and their index when there are several platforms) as a copy source."""

    def __init__(
        self,
        built: Sequence[BuiltImage],
        *,
        oci: bool,
        index: bool | None = None,
        attestations: attest.Request | None = None,
        annotations: Mapping[str, str] = {},
    ) -> None:
        """``attestations``: buildx's provenance/SBOM attestation manifests (an OCI index, even for one platform).
        ``annotations``: buildx's ``--annotation`` (``manifest:`` / ``index:`` prefixes; plain ones go on the
        manifests)."""
        super().__init__("this build")
        attesting = attestations is not None and attestations.wanted
        oci = oci or attesting
        self.images = [image_of(b, oci=oci, annotations=_level(annotations, "manifest")) for b in built]
        for image in self.images:
            manifest = image.manifest()
            self.add_bytes(manifest.config.digest, image.config().raw)
            for layer in image.layers():
                self.blobs[layer.descriptor().digest] = layer.open
            self.manifests[manifest.digest] = RawManifest(manifest.raw, manifest.media_type)
        several = (len(self.images) > 1 or attesting) if index is None else index
        self.index: Index | None = None
        if several:
            kind = mediatype.OCI_INDEX if oci else mediatype.DOCKER_MANIFEST_LIST
            descs = []
            for image in self.images:
                manifest = image.manifest()
                desc = descriptor_of(manifest.raw, manifest.media_type)
                descs.append(Descriptor(desc.media_type, desc.digest, desc.size, platform=image.config().platform))
            if attesting:
                assert attestations is not None
                for image, b in zip(self.images, built, strict=True):
                    att = attest.attest(image, replace(attestations, materials=b.materials))
                    for digest, data in att.blobs.items():
                        self.add_bytes(Digest.parse(digest), data)
                    self.manifests[att.manifest.digest] = RawManifest(att.manifest.raw, att.manifest.media_type)
                    descs.append(attest.index_entry(att))
            self.index = Index.build(descs, kind, _level(annotations, "index") or None)

    @property
    def several(self) -> bool:
        return self.index is not None

    def top(self) -> RawManifest:
        if self.index is not None:
            return RawManifest(self.index.raw, self.index.media_type)
        manifest = self.images[0].manifest()
        return RawManifest(manifest.raw, manifest.media_type)

    @property
    def digest(self) -> Digest:
        return self.top().digest

    @property
    def image_ids(self) -> list[Digest]:
        return [image.config().digest for image in self.images]


@dataclass(frozen=True)
class Exported:
    what: str  # a line for the progress ("naming to docker.io/library/app:1", "sending tarball")
    digest: Digest


def to_store(store: Store, source: BuildSource, tags: Sequence[str]) -> Exported:
    """Into the store under ``tags`` (untagged: a dangling image, as ``docker build`` without ``-t``)."""
    from dockyard.copy import transfer
    from dockyard.oci import reference as refs
    from dockyard.store.ingest import StoreDestination

    names = [refs.parse(t).with_default_tag() for t in tags]
    with StoreDestination(store, names) as dest:
        done = transfer(source, dest, where="build", all_platforms=source.several)
        dest.commit()
    return Exported(", ".join(n.familiar() for n in names), done.digest)


def to_place(
    source: BuildSource, location: str, *, store: Store | None = None, insecure: tuple[str, ...] = ()
) -> Digest:
    """To a place the copy engine knows (``oci:DIR:tag``, ``oci-archive:FILE``, ``docker-archive:FILE:name``,
    ``docker://REF``)."""
    from dockyard.copy import copy_source

    result = copy_source(source, location, where="build", all_platforms=source.several, store=store, insecure=insecure)
    return result.digest


def to_local(source: BuildSource, dest: Path) -> list[Path]:
    """The root filesystem of each image under ``dest`` (``dest/os_arch[_variant]/`` for several platforms)."""
    from dockyard.layers.unpack import unpack

    out = []
    for image in source.images:
        target = dest
        if source.several:
            p = image.config().platform
            target = dest / "_".join(x for x in (p.os, p.architecture, p.variant or "") if x)
        target.mkdir(parents=True, exist_ok=True)
        unpack([layer.open for layer in image.layers()], target)
        out.append(target)
    return out


def to_tar(source: BuildSource, out: BinaryIO) -> None:
    """The root filesystem as one tar (``type=tar``): the union of the layers (one image only)."""
    from dockyard.layers.union import export

    if source.several:
        raise InvalidInput("--output type=tar holds one platform's files: build one platform")
    export([layer.open for layer in source.images[0].layers()], out)


__all__ = [
    "OUTPUT_TYPES",
    "BuildSource",
    "Exported",
    "Output",
    "image_of",
    "parse_output",
    "to_local",
    "to_place",
    "to_store",
    "to_tar",
]
