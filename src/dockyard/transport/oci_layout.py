"""The OCI image layout: ``oci-layout``, ``index.json`` and content-addressed ``blobs/<alg>/<hex>``.

:func:`read` takes a layout directory or a tar of one (plain or compressed) and yields one image per
descriptor of ``index.json``; a descriptor that points at an index (or a Docker manifest list) yields
the child for the wanted platform. Manifests and configs are verified against their descriptors at
once; layer blobs are only checked for presence and size, and are verified by whoever reads them.

:func:`write` writes config and layer blobs as they are (compressed layers stay compressed), OCI
manifests (Docker schema 2 ones are converted, see :func:`write`), and one ``index.json`` descriptor
per image name, annotated the way ``docker save`` >= 25 and containerd do.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from dockyard.errors import (
    DigestMismatch,
    InvalidArchive,
    InvalidManifest,
    InvalidReference,
    SizeMismatch,
)
from dockyard.image.base import BlobLayer, Image, Layer, StaticImage
from dockyard.image.synth import synthesize_manifest
from dockyard.image.validate import check_manifest_config
from dockyard.oci import _json, mediatype
from dockyard.oci import reference as refs
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, DigestHasher
from dockyard.oci.index import Index
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.transport._tarutil import (
    MAX_JSON_SIZE,
    ArchiveSource,
    HashingReader,
    TarWriter,
    open_source,
)

LAYOUT_FILE: Final = "oci-layout"
INDEX_FILE: Final = "index.json"
LAYOUT_VERSION: Final = "1.0.0"
ANNOTATION_IMAGE_NAME: Final = "io.containerd.image.name"
ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"

_CHUNK: Final = 1 << 20
_MAX_INDEX_DEPTH: Final = 4


@dataclass(frozen=True, slots=True)
class RefName:
    """A name for :func:`write` that is only an ``org.opencontainers.image.ref.name`` (``oci:DIR:REF``), written
    verbatim, with no image name annotation."""

    value: str


@dataclass(frozen=True, slots=True)
class LayoutEntry:
    """One image of an OCI layout.

    ``name`` is the ``io.containerd.image.name`` annotation of its ``index.json`` descriptor (a full
    reference), ``ref_name`` the ``org.opencontainers.image.ref.name`` one (usually a tag), and
    ``index_digest`` the digest of the index it was selected from, when the descriptor named an index.
    """

    image: Image
    name: str | None
    ref_name: str | None
    index_digest: Digest | None = None


# --------------------------------------------------------------------------- reading


def read(path: Path, *, platform: Platform | None = None) -> list[LayoutEntry]:
    """Every image the ``index.json`` of the layout at ``path`` names (directory or tar).

    Indexes select their child for ``platform`` (default: this host's platform).
    """
    source = open_source(path, what="OCI layout")
    _check_layout_file(source)
    if source.member(INDEX_FILE) is None:
        raise InvalidArchive(f"{source.label}: OCI layout without index.json")
    try:
        index = Index.parse(source.read_bytes(INDEX_FILE, "index.json"))
    except InvalidManifest as exc:
        raise InvalidArchive(f"{source.label}: index.json: {exc}") from None
    entries: list[LayoutEntry] = []
    skipped: list[str] = []
    for desc in index.manifests:
        name = desc.annotations.get(ANNOTATION_IMAGE_NAME) or None
        ref_name = desc.annotations.get(ANNOTATION_REF_NAME) or None
        if mediatype.is_index(desc.media_type):
            child = _select(source, desc, platform or Platform.host(), 0)
            image = _read_image(source, child)
            index_digest: Digest | None = desc.digest
        elif mediatype.is_manifest(desc.media_type):
            image = _read_image(source, desc)
            index_digest = None
        else:
            skipped.append(f"{desc.digest} ({desc.media_type})")
            continue
        if image is None:
            skipped.append(f"{desc.digest} (not a container image)")
            continue
        entries.append(LayoutEntry(image, name, ref_name, index_digest))
    if not entries:
        detail = f" (skipped: {', '.join(skipped)})" if skipped else ""
        raise InvalidArchive(f"{source.label}: the OCI layout holds no images{detail}")
    return entries


def _check_layout_file(source: ArchiveSource) -> None:
    if source.member(LAYOUT_FILE) is None:
        raise InvalidArchive(f"{source.label}: not an OCI image layout: the oci-layout file is missing")
    raw = source.read_bytes(LAYOUT_FILE, "oci-layout", limit=1 << 16)
    try:
        obj = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidArchive(f"{source.label}: oci-layout is not valid JSON") from None
    version = obj.get("imageLayoutVersion") if isinstance(obj, dict) else None
    if version != LAYOUT_VERSION:
        raise InvalidArchive(
            f"{source.label}: oci-layout: unsupported imageLayoutVersion {version!r} (want {LAYOUT_VERSION!r})"
        )


def _blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def _read_blob(source: ArchiveSource, desc: Descriptor, what: str) -> bytes:
    """A small blob (manifest, index, config), checked against its descriptor's size and digest."""
    name = _blob_name(desc.digest)
    member = source.require(name, what)
    if member.size != desc.size:
        raise SizeMismatch(desc.size, member.size, f"{what} {desc.digest}")
    raw = source.read_bytes(name, what, limit=MAX_JSON_SIZE)
    desc.digest.verify(raw, f"{what} {desc.digest}")
    return raw


class _NoMatch(Exception):
    def __init__(self, available: list[str]) -> None:
        super().__init__("no match")
        self.available = available


def _select(source: ArchiveSource, desc: Descriptor, platform: Platform, depth: int) -> Descriptor:
    """The image manifest descriptor for ``platform`` under the index ``desc``.

    As containerd: the first child in index order whose platform matches; a child without a platform
    matches by its config's platform; nested indexes are followed.
    """
    try:
        return _select_in(source, desc, platform, depth)
    except _NoMatch as exc:
        available = ", ".join(dict.fromkeys(exc.available)) or "none"
        raise InvalidManifest(
            f"{source.label}: no image for platform {platform} in index {desc.digest} (available: {available})"
        ) from None


def _select_in(source: ArchiveSource, desc: Descriptor, platform: Platform, depth: int) -> Descriptor:
    if depth >= _MAX_INDEX_DEPTH:
        raise InvalidArchive(f"{source.label}: indexes nested too deeply at {desc.digest}")
    raw = _read_blob(source, desc, "index")
    try:
        index = Index.parse(raw, desc.media_type)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{source.label}: index {desc.digest}: {exc}") from None
    available: list[str] = []
    for child in index.manifests:
        if mediatype.is_index(child.media_type):
            if child.platform is not None and not platform.matches(child.platform):
                available.append(str(child.platform))
                continue
            try:
                return _select_in(source, child, platform, depth + 1)
            except _NoMatch as exc:
                available.extend(exc.available)
                continue
        if not mediatype.is_manifest(child.media_type):
            continue
        child_platform = child.platform or _config_platform(source, child)
        if child_platform is None:
            continue
        if platform.matches(child_platform):
            return child
        available.append(str(child_platform))
    raise _NoMatch(available)


def _config_platform(source: ArchiveSource, desc: Descriptor) -> Platform | None:
    """The platform of the image config behind the manifest ``desc`` (None for non-images)."""
    try:
        manifest = Manifest.parse(_read_blob(source, desc, "manifest"), desc.media_type)
        if manifest.config.media_type not in mediatype.CONFIG_TYPES:
            return None
        return _platform_of(ImageConfig.parse(_read_blob(source, manifest.config, "config")))
    except InvalidManifest as exc:
        raise InvalidManifest(f"{source.label}: manifest {desc.digest}: {exc}") from None


def _read_image(source: ArchiveSource, desc: Descriptor) -> Image | None:
    """The image whose manifest ``desc`` describes; None when it is not a container image (an artifact)."""
    where = f"{source.label}: manifest {desc.digest}"
    raw = _read_blob(source, desc, "manifest")
    try:
        manifest = Manifest.parse(raw, desc.media_type if mediatype.is_manifest(desc.media_type) else None)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{where}: {exc}") from None
    if manifest.config.media_type not in mediatype.CONFIG_TYPES:
        return None
    for i, ldesc in enumerate(manifest.layers):
        if not mediatype.is_layer(ldesc.media_type):
            raise InvalidManifest(f"{where}: layers[{i}] has media type {ldesc.media_type!r}, not a layer")
    config_raw = _read_blob(source, manifest.config, "config")
    try:
        config = ImageConfig.parse(config_raw)
        check_manifest_config(manifest, config)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{where}: {exc}") from None
    layers: list[Layer] = []
    for ldesc, diff_id in zip(manifest.layers, config.diff_ids, strict=True):
        name = _blob_name(ldesc.digest)
        member = source.require(name, "layer blob")
        if member.size != ldesc.size:
            raise SizeMismatch(ldesc.size, member.size, f"layer {ldesc.digest}")
        uncompressed = ldesc.size if mediatype.layer_compression(ldesc.media_type) == "none" else None
        layers.append(BlobLayer(ldesc, diff_id, functools.partial(source.open, name), uncompressed))
    return StaticImage(manifest, config, tuple(layers))


# --------------------------------------------------------------------------- writing


def _index_descriptors(planned: Sequence[tuple[Manifest, ImageConfig, list[str | RefName]]]) -> list[Descriptor]:
    out: list[Descriptor] = []
    seen: set[tuple[Digest, str]] = set()
    for manifest, config, names in planned:
        platform = _platform_of(config)
        annotated: list[dict[str, str]] = []
        for text in names:
            if isinstance(text, RefName):
                if not text.value:
                    raise InvalidReference("an OCI layout ref name must not be empty")
                annotated.append({ANNOTATION_REF_NAME: text.value})
                continue
            ref = refs.parse(text)
            if ref.digest is not None:
                raise InvalidReference(f"cannot save {text} under a digest reference: an OCI layout needs tags")
            ref = ref.with_default_tag()
            annotated.append({ANNOTATION_IMAGE_NAME: str(ref), ANNOTATION_REF_NAME: ref.tag or "latest"})
        for marks in annotated or [{}]:
            key = (manifest.digest, marks.get(ANNOTATION_IMAGE_NAME, "") or marks.get(ANNOTATION_REF_NAME, ""))
            if key in seen:
                continue
            seen.add(key)
            out.append(Descriptor(manifest.media_type, manifest.digest, manifest.size, platform, marks))
    return out


def _platform_of(config: ImageConfig) -> Platform | None:
    if not config.os or not config.architecture:
        return None
    try:
        return config.platform
    except ValueError:
        return None


def write(
    images: Sequence[tuple[Image, Sequence[str | RefName]]],
    out: Path,
    *,
    as_tar: bool,
    keep_docker_manifests: bool = False,
) -> None:
    """Write ``images`` (each with its names) as an OCI image layout: a directory, or a tar when ``as_tar``.

    A directory ``out`` must not exist or be empty. Config and layer blobs are written once each, as
    they are (compressed layers stay compressed), and verified against their digests on the way.
    OCI manifests are kept byte for byte; a Docker schema 2 manifest is replaced by the equivalent
    OCI manifest (same config and layer blobs), as ``skopeo copy`` does, because OCI layout readers
    such as skopeo < 1.14 only look at OCI media types in ``index.json`` -- unless
    ``keep_docker_manifests``.
    """
    small: dict[Digest, bytes] = {}
    layers: dict[Digest, Layer] = {}
    planned: list[tuple[Manifest, ImageConfig, list[str | RefName]]] = []
    for image, names in images:
        manifest = image.manifest()
        config = image.config()
        check_manifest_config(manifest, config)
        image_layers = list(image.layers())
        if [layer.descriptor().digest for layer in image_layers] != [d.digest for d in manifest.layers]:
            raise InvalidManifest(f"image {config.digest.short}: its layers do not match its manifest")
        if manifest.media_type == mediatype.DOCKER_MANIFEST and not keep_docker_manifests:
            manifest = synthesize_manifest(config, manifest.layers, mediatype.OCI_MANIFEST)
        planned.append((manifest, config, list(names)))
        small[manifest.digest] = manifest.raw
        small[manifest.config.digest] = config.raw
        for layer in image_layers:
            layers.setdefault(layer.descriptor().digest, layer)
    for digest in small:
        layers.pop(digest, None)  # a layer that is byte-identical to a config/manifest: write it once
    index = Index.build(_index_descriptors(planned), mediatype.OCI_INDEX)
    layout = _json.dumps({"imageLayoutVersion": LAYOUT_VERSION})
    order = sorted({*small, *layers})
    if as_tar:
        try:
            with open(out, "wb") as f, TarWriter(f) as tar:
                tar.add_dir("blobs")
                for algorithm in sorted({d.algorithm for d in order}):
                    tar.add_dir(f"blobs/{algorithm}")
                for digest in order:
                    if digest in small:
                        tar.add_bytes(_blob_name(digest), small[digest])
                    else:
                        _tar_layer(tar, layers[digest])
                tar.add_bytes(INDEX_FILE, index.raw)
                tar.add_bytes(LAYOUT_FILE, layout)
        except BaseException:
            out.unlink(missing_ok=True)
            raise
        return
    created = _prepare_dir(out)
    try:
        (out / "blobs").mkdir()
        for digest in order:
            target = out / _blob_name(digest)
            target.parent.mkdir(parents=True, exist_ok=True)
            if digest in small:
                _atomic_write(target, small[digest])
            else:
                _dir_layer(target, layers[digest])
        _atomic_write(out / INDEX_FILE, index.raw)
        _atomic_write(out / LAYOUT_FILE, layout)
    except BaseException:
        # Leave things as they were: the directory was empty or did not exist.
        shutil.rmtree(out / "blobs", ignore_errors=True)
        for name in (INDEX_FILE, LAYOUT_FILE):
            (out / name).unlink(missing_ok=True)
        if created:
            shutil.rmtree(out, ignore_errors=True)
        raise


def _prepare_dir(out: Path) -> bool:
    """Check that ``out`` is an empty directory or create it; True when it was created."""
    if out.exists():
        if not out.is_dir():
            raise InvalidArchive(f"{out}: exists and is not a directory")
        if any(out.iterdir()):
            raise InvalidArchive(f"{out}: directory is not empty")
        return False
    out.mkdir()
    return True


def _atomic_write(target: Path, data: bytes) -> None:
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, target)


def _tar_layer(tar: TarWriter, layer: Layer) -> None:
    desc = layer.descriptor()
    what = f"layer {desc.digest}"
    hasher = DigestHasher(desc.digest.algorithm)
    with layer.open() as src:
        tar.add_stream(_blob_name(desc.digest), HashingReader(src, hasher.update), desc.size, what)
    _check(hasher, desc.digest, what)


def _dir_layer(target: Path, layer: Layer) -> None:
    desc = layer.descriptor()
    what = f"layer {desc.digest}"
    hasher = DigestHasher(desc.digest.algorithm)
    fd, tmp_name = tempfile.mkstemp(prefix=".tmp-", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as dst, layer.open() as src:
            shutil.copyfileobj(HashingReader(src, hasher.update), dst, _CHUNK)
        if hasher.size != desc.size:
            raise SizeMismatch(desc.size, hasher.size, what)
        _check(hasher, desc.digest, what)
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    finally:
        if os.path.lexists(tmp_name):
            os.unlink(tmp_name)


def _check(hasher: DigestHasher, expected: Digest, what: str) -> None:
    actual = hasher.digest()
    if actual != expected:
        raise DigestMismatch(str(expected), str(actual), what)


__all__ = ["LayoutEntry", "RefName", "read", "write"]
