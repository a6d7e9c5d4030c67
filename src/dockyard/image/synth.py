"""Synthesise manifests for images that arrive without one (docker-archive, the store's own copies).

A docker-archive carries configs and layer files but no manifest; the image model needs one. The
manifest made here describes the layer blobs *as the caller has them* (their media type, digest and
size), with the layer media types translated into the requested manifest flavour, and a config
descriptor for the config bytes. The same inputs always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from dockyard.errors import InvalidManifest
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.manifest import Manifest

# Non-distributable ("foreign") layers have their own types in each flavour.
_FOREIGN_FOR: Final = {
    mediatype.DOCKER_MANIFEST: {
        "gzip": mediatype.DOCKER_LAYER_FOREIGN,
    },
    mediatype.OCI_MANIFEST: {
        "none": mediatype.OCI_LAYER_NONDIST,
        "gzip": mediatype.OCI_LAYER_NONDIST_GZIP,
        "zstd": mediatype.OCI_LAYER_NONDIST_ZSTD,
    },
}
_FOREIGN_TYPES: Final = frozenset(
    {
        mediatype.DOCKER_LAYER_FOREIGN,
        mediatype.OCI_LAYER_NONDIST,
        mediatype.OCI_LAYER_NONDIST_GZIP,
        mediatype.OCI_LAYER_NONDIST_ZSTD,
    }
)


def layer_media_type(layer_type: str, manifest_type: str) -> str:
    """The media type a manifest of ``manifest_type`` uses for a layer now typed ``layer_type``.

    Keeps the compression and the foreign/non-distributable flag; raises :class:`InvalidManifest`
    for media types that are not layers or have no equivalent in the target flavour.
    """
    if manifest_type not in mediatype.MANIFEST_TYPES:
        raise InvalidManifest(f"cannot synthesise a manifest of type {manifest_type!r}")
    if not mediatype.is_layer(layer_type):
        raise InvalidManifest(f"{layer_type!r} is not a layer media type")
    compression = mediatype.layer_compression(layer_type)
    if layer_type in _FOREIGN_TYPES:
        foreign = _FOREIGN_FOR[manifest_type].get(compression)
        if foreign is None:
            raise InvalidManifest(
                f"a {compression} non-distributable layer cannot be described in a {manifest_type} manifest"
            )
        return foreign
    try:
        return mediatype.layer_type(manifest_type, compression)
    except ValueError:
        raise InvalidManifest(f"no {manifest_type} layer media type for {layer_type!r}") from None


def convert_layer(desc: Descriptor, manifest_type: str) -> Descriptor:
    """``desc`` with its media type translated for a ``manifest_type`` manifest (digest, size, urls kept)."""
    media = layer_media_type(desc.media_type, manifest_type)
    return Descriptor(media, desc.digest, desc.size, urls=desc.urls, annotations=dict(desc.annotations))


def synthesize_manifest(
    config: ImageConfig,
    layer_descs: Sequence[Descriptor],
    media_type: str = mediatype.DOCKER_MANIFEST,
) -> Manifest:
    """A manifest of type ``media_type`` for ``config`` and layers described by ``layer_descs``.

    There must be one layer descriptor per diff_id of the config, in the same order.
    """
    if len(layer_descs) != len(config.diff_ids):
        raise InvalidManifest(
            f"{len(layer_descs)} layers given but the config's rootfs has {len(config.diff_ids)} diff_ids"
        )
    layers = [convert_layer(d, media_type) for d in layer_descs]
    config_desc = descriptor_of(config.raw, mediatype.config_type_for(media_type))
    return Manifest.build(config_desc, layers, media_type)


__all__ = ["convert_layer", "layer_media_type", "synthesize_manifest"]
