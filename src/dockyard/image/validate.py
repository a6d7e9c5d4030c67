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


def validate_image(image: Image) -> None:
    check_manifest_config(image.manifest(), image.config())
    for layer, desc in zip(image.layers(), image.manifest().layers, strict=True):
        if layer.descriptor() != desc:
            raise InvalidManifest(f"layer {desc.digest} does not match its manifest descriptor")
