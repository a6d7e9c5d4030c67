"""Structural checks that tie a manifest, its config and its layers together."""

from __future__ import annotations

from dockyard.errors import InvalidManifest
from dockyard.image.base import Image
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.manifest import Manifest


def check_manifest_config(manifest: Manifest, config: ImageConfig) -> None:
    """The manifest's config descriptor must describe the config bytes; layers must match diff_ids."""
    manifest.config.digest.verify(config.raw, "image config")
    if manifest.config.size != len(config.raw):
        raise InvalidManifest(f"manifest config: size {manifest.config.size} but the config is {len(config.raw)} bytes")
    layers = [d for d in manifest.layers if mediatype.is_layer(d.media_type)]
    if len(layers) != len(config.diff_ids):
        raise InvalidManifest(
            f"manifest has {len(layers)} layers but the config's rootfs has {len(config.diff_ids)} diff_ids"
        )


def validate_image(image: Image, *, read_layers: bool = True) -> None:
    """Every invariant an image must keep, as go-containerregistry's ``validate.Image``: the manifest's config
    descriptor describes the config bytes, each layer's descriptor is the manifest's, its diff_id the config's;
    with ``read_layers``, each layer blob is read once and its digest, size and diff_id checked."""
    from dockyard.errors import DigestMismatch, SizeMismatch
    from dockyard.layers.digesting import copy_and_digest

    manifest, config = image.manifest(), image.config()
    check_manifest_config(manifest, config)
    layers = list(image.layers())
    wanted = [d for d in manifest.layers if mediatype.is_layer(d.media_type)]
    if len(layers) != len(wanted):
        raise InvalidManifest(f"image has {len(layers)} layers but its manifest lists {len(wanted)}")
    for layer, desc, diff_id in zip(layers, wanted, config.diff_ids, strict=True):
        if layer.descriptor() != desc:
            raise InvalidManifest(f"layer {desc.digest} does not match its manifest descriptor")
        if layer.diff_id() != diff_id:
            raise InvalidManifest(f"layer {desc.digest}: diff_id {layer.diff_id()} but the config says {diff_id}")
        if not read_layers:
            continue
        with layer.open() as f:
            found = copy_and_digest(f, None)
        if found.digest != desc.digest:
            raise DigestMismatch(str(desc.digest), str(found.digest), f"layer {desc.digest}")
        if found.size != desc.size:
            raise SizeMismatch(desc.size, found.size, f"layer {desc.digest}")
        if found.diff_id != diff_id:
            raise DigestMismatch(str(diff_id), str(found.diff_id), f"layer {desc.digest} (diff_id)")
