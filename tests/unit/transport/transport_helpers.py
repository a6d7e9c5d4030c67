"""Small synthetic images for the transport tests, built with the standard library only."""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.image.base import BlobLayer, Image, StaticImage
from dockyard.oci import mediatype
from dockyard.oci.config import ImageConfig
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform


def layer_tar(files: dict[str, bytes]) -> bytes:
    """A deterministic uncompressed layer tar holding ``files``."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


@dataclass
class Built:
    image: StaticImage
    tars: list[bytes]  # uncompressed layer tars
    blobs: list[bytes]  # layer blobs as described by the manifest


def build_image(
    layers: Sequence[dict[str, bytes]],
    *,
    compress: bool = True,
    manifest_type: str = mediatype.OCI_MANIFEST,
    platform: Platform | None = None,
    config: dict[str, Any] | None = None,
    sized: bool = True,
) -> Built:
    tars = [layer_tar(files) for files in layers]
    blobs = [gz(t) if compress else t for t in tars]
    kind = "gzip" if compress else "none"
    media = mediatype.layer_type(manifest_type, kind)
    blob_layers = []
    for tar, blob in zip(tars, blobs, strict=True):
        desc = Descriptor(media, sha(blob), len(blob))
        blob_layers.append(BlobLayer(desc, sha(tar), functools.partial(io.BytesIO, blob), len(tar) if sized else None))
    cfg = ImageConfig.build(
        [sha(t) for t in tars],
        platform=platform,
        created="2024-01-01T00:00:00Z",
        config=config or {"Cmd": ["/bin/sh"]},
    )
    manifest = Manifest.build(
        descriptor_of(cfg.raw, mediatype.config_type_for(manifest_type)),
        [layer.descriptor() for layer in blob_layers],
        manifest_type,
    )
    return Built(StaticImage(manifest, cfg, tuple(blob_layers)), tars, blobs)


def read_layers(image: Image) -> list[bytes]:
    out = []
    for layer in image.layers():
        with layer.open() as f:
            out.append(f.read())
    return out


def tar_names(path: Path) -> list[str]:
    with tarfile.open(path) as tar:
        return tar.getnames()


def tar_read(path: Path, name: str) -> bytes:
    with tarfile.open(path) as tar:
        f = tar.extractfile(name)
        assert f is not None
        return f.read()


def add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def add_symlink(tar: tarfile.TarFile, name: str, target: str) -> None:
    info = tarfile.TarInfo(name)
    info.type = tarfile.SYMTYPE
    info.linkname = target
    tar.addfile(info)


def write_docker_archive(path: Path, files: dict[str, bytes], manifest: Any) -> Path:
    """A hand-made docker-archive tar: ``files`` plus ``manifest.json``; symlinks as ``("->", target)``."""
    with tarfile.open(path, "w") as tar:
        for name, data in files.items():
            if data.startswith(b"->"):
                add_symlink(tar, name, data[2:].decode())
            else:
                add_bytes(tar, name, data)
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return path
