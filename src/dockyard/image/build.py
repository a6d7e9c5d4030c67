"""Build small images in memory from file lists: the sample image, test fixtures, synthetic layers.

Deterministic: the same input gives the same bytes (fixed mtimes, sorted nothing - entries in given order).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, BinaryIO

from dockyard.image.base import BlobLayer, StaticImage
from dockyard.oci import mediatype
from dockyard.oci.config import HistoryEntry, ImageConfig
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.digest import Digest
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform


@dataclass(frozen=True, slots=True)
class Entry:
    """One tar entry of a synthetic layer."""

    path: str
    kind: str = "file"  # file | dir | symlink | hardlink | fifo | chardev
    content: bytes = b""
    mode: int = 0o644
    uid: int = 0
    gid: int = 0
    target: str = ""  # symlink / hardlink target
    mtime: int = 1_700_000_000
    xattrs: dict[str, str] = field(default_factory=dict)


def file(path: str, content: bytes | str = b"", mode: int = 0o644, **kw: Any) -> Entry:
    data = content.encode() if isinstance(content, str) else content
    return Entry(path, "file", data, mode, **kw)


def directory(path: str, mode: int = 0o755, **kw: Any) -> Entry:
    return Entry(path, "dir", mode=mode, **kw)


def symlink(path: str, target: str, **kw: Any) -> Entry:
    return Entry(path, "symlink", target=target, mode=0o777, **kw)


def hardlink(path: str, target: str, **kw: Any) -> Entry:
    return Entry(path, "hardlink", target=target, **kw)


def whiteout(path: str) -> Entry:
    head, _, name = path.rstrip("/").rpartition("/")
    return file(f"{head}/.wh.{name}" if head else f".wh.{name}", b"")


def opaque(dir_path: str) -> Entry:
    return file(f"{dir_path.rstrip('/')}/.wh..wh..opq", b"")


_TYPES = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "fifo": tarfile.FIFOTYPE,
    "chardev": tarfile.CHRTYPE,
}


def layer_tar(entries: Sequence[Entry]) -> bytes:
    """An uncompressed PAX layer tar of ``entries``, in the order given."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for e in entries:
            info = tarfile.TarInfo(e.path)
            info.type = _TYPES[e.kind]
            info.mode = e.mode
            info.uid, info.gid = e.uid, e.gid
            info.uname = info.gname = ""
            info.mtime = e.mtime
            if e.kind in ("symlink", "hardlink"):
                info.linkname = e.target
            if e.xattrs:
                info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in e.xattrs.items()}
            data: BinaryIO | None = None
            if e.kind == "file":
                info.size = len(e.content)
                data = io.BytesIO(e.content)
            tar.addfile(info, data)
    return buf.getvalue()


def compress_bytes(data: bytes, compression: str) -> bytes:
    from dockyard.layers.compression import Compression, compress

    out = io.BytesIO()
    compress(io.BytesIO(data), out, Compression(compression), None)
    return out.getvalue()


@dataclass(frozen=True, slots=True)
class LayerSpec:
    entries: Sequence[Entry]
    created_by: str = ""
    comment: str = ""


def _bytes_opener(data: bytes) -> Any:
    return lambda: io.BytesIO(data)


def build_image(
    layers: Sequence[LayerSpec | Sequence[Entry]],
    *,
    compression: str = "gzip",
    manifest_type: str = mediatype.OCI_MANIFEST,
    platform: Platform | None = None,
    created: str = "2024-01-01T00:00:00Z",
    config: dict[str, Any] | None = None,
    empty_history: Sequence[tuple[int, str]] = (),
    author: str = "",
) -> StaticImage:
    """An image whose layers hold ``layers`` (each a list of entries), with one history row per layer.

    ``empty_history`` inserts ``(position, created_by)`` empty-layer rows (ENV, CMD, ...) before layer ``position``.
    """
    specs = [s if isinstance(s, LayerSpec) else LayerSpec(s) for s in layers]
    blob_layers = []
    diff_ids: list[Digest] = []
    history: list[HistoryEntry] = []
    empties = dict(empty_history)
    for i, spec in enumerate(specs):
        if i in empties:
            history.append(HistoryEntry(created, empties[i], author, "", True))
        raw = layer_tar(spec.entries)
        diff_id = Digest.of(raw)
        blob = raw if compression == "none" else compress_bytes(raw, compression)
        media = mediatype.layer_type(manifest_type, compression)
        desc = Descriptor(media, Digest.of(blob), len(blob))
        blob_layers.append(BlobLayer(desc, diff_id, _bytes_opener(blob), len(raw)))
        diff_ids.append(diff_id)
        history.append(HistoryEntry(created, spec.created_by or f"layer {i}", author, spec.comment, False))
    if len(specs) in empties:
        history.append(HistoryEntry(created, empties[len(specs)], author, "", True))
    cfg = ImageConfig.build(diff_ids, platform=platform, created=created, history=history, config=config, author=author)
    manifest = Manifest.build(
        descriptor_of(cfg.raw, mediatype.config_type_for(manifest_type)),
        [layer.descriptor() for layer in blob_layers],
        manifest_type,
    )
    return StaticImage(manifest, cfg, tuple(blob_layers))
