"""Media types of the OCI image spec and Docker's image manifest schema 2."""

from __future__ import annotations

from typing import Final

OCI_MANIFEST: Final = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX: Final = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG: Final = "application/vnd.oci.image.config.v1+json"
OCI_LAYER: Final = "application/vnd.oci.image.layer.v1.tar"
OCI_LAYER_GZIP: Final = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_LAYER_ZSTD: Final = "application/vnd.oci.image.layer.v1.tar+zstd"
OCI_LAYER_NONDIST: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar"
OCI_LAYER_NONDIST_GZIP: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip"
OCI_LAYER_NONDIST_ZSTD: Final = "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd"
OCI_EMPTY: Final = "application/vnd.oci.empty.v1+json"

DOCKER_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_MANIFEST_LIST: Final = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG: Final = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER: Final = "application/vnd.docker.image.rootfs.diff.tar"
DOCKER_LAYER_GZIP: Final = "application/vnd.docker.image.rootfs.diff.tar.gzip"
DOCKER_LAYER_ZSTD: Final = "application/vnd.docker.image.rootfs.diff.tar.zstd"
DOCKER_LAYER_FOREIGN: Final = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
DOCKER_SCHEMA1_MANIFEST: Final = "application/vnd.docker.distribution.manifest.v1+json"
DOCKER_SCHEMA1_SIGNED: Final = "application/vnd.docker.distribution.manifest.v1+prettyjws"

MANIFEST_TYPES: Final = frozenset({OCI_MANIFEST, DOCKER_MANIFEST})
#: Schema 1 manifests (signed or not): retired by Docker, refused with a clear error wherever they come in.
SCHEMA1_TYPES: Final = frozenset({DOCKER_SCHEMA1_MANIFEST, DOCKER_SCHEMA1_SIGNED})
INDEX_TYPES: Final = frozenset({OCI_INDEX, DOCKER_MANIFEST_LIST})
CONFIG_TYPES: Final = frozenset({OCI_CONFIG, DOCKER_CONFIG})
LAYER_TYPES: Final = frozenset(
    {
        OCI_LAYER,
        OCI_LAYER_GZIP,
        OCI_LAYER_ZSTD,
        OCI_LAYER_NONDIST,
        OCI_LAYER_NONDIST_GZIP,
        OCI_LAYER_NONDIST_ZSTD,
        DOCKER_LAYER,
        DOCKER_LAYER_GZIP,
        DOCKER_LAYER_ZSTD,
        DOCKER_LAYER_FOREIGN,
    }
)
#: Non-distributable ("foreign") layers: copies leave them where their URLs say unless asked to include them.
FOREIGN_TYPES: Final = frozenset(
    {OCI_LAYER_NONDIST, OCI_LAYER_NONDIST_GZIP, OCI_LAYER_NONDIST_ZSTD, DOCKER_LAYER_FOREIGN}
)

# Layer media type by (manifest flavour, compression name) -- "none", "gzip", "zstd".
_LAYER_FOR: Final = {
    (OCI_MANIFEST, "none"): OCI_LAYER,
    (OCI_MANIFEST, "gzip"): OCI_LAYER_GZIP,
    (OCI_MANIFEST, "zstd"): OCI_LAYER_ZSTD,
    (DOCKER_MANIFEST, "none"): DOCKER_LAYER,
    (DOCKER_MANIFEST, "gzip"): DOCKER_LAYER_GZIP,
    (DOCKER_MANIFEST, "zstd"): DOCKER_LAYER_ZSTD,
}


def is_manifest(media_type: str) -> bool:
    return media_type in MANIFEST_TYPES


def is_index(media_type: str) -> bool:
    return media_type in INDEX_TYPES


def is_layer(media_type: str) -> bool:
    return media_type in LAYER_TYPES or media_type.startswith("application/vnd.oci.image.layer.")


def layer_type(manifest_type: str, compression: str) -> str:
    """The layer media type a manifest of ``manifest_type`` uses for ``compression``."""
    try:
        return _LAYER_FOR[(manifest_type, compression)]
    except KeyError:
        raise ValueError(f"no layer media type for {manifest_type} with {compression}") from None


def config_type_for(manifest_type: str) -> str:
    return DOCKER_CONFIG if manifest_type == DOCKER_MANIFEST else OCI_CONFIG


def layer_compression(media_type: str) -> str:
    """The compression a layer media type declares: "gzip", "zstd" or "none"."""
    if media_type.endswith(("+gzip", ".gzip")):
        return "gzip"
    if media_type.endswith(("+zstd", ".zstd")):
        return "zstd"
    return "none"


def only_artifact_layers(layer_types: list[str]) -> bool:
    """Whether a manifest's layers are all something other than layers (BuildKit's attestation manifests: in-toto
    statements under an image config type); a manifest without layers is not one."""
    return bool(layer_types) and not any(is_layer(t) for t in layer_types)
