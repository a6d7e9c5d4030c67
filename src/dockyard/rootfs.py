"""Flatten an image's layers: unpack to a directory or export as one tar (``docker export`` of the image)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from dockyard.errors import DockyardError, InvalidInput
from dockyard.layers import union
from dockyard.layers import unpack as _unpack
from dockyard.layers.limits import Limits
from dockyard.store.store import Store


def unpack(
    store: Store,
    text: str,
    dest: Path,
    *,
    devices: bool = False,
    limits: Limits | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> _unpack.UnpackReport:
    """Write the image's root filesystem into ``dest`` (new or empty). On refusal nothing stays behind."""
    image = store.image(text)
    if devices and os.geteuid() != 0:
        raise InvalidInput("--devices needs root")
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise InvalidInput(f"{dest}: destination exists and is not an empty directory")
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    openers = [layer.open for layer in image.layers()]
    try:
        return _unpack.unpack(openers, dest, devices=devices, limits=limits or Limits.from_env(), on_warning=on_warning)
    except (DockyardError, OSError):
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            for child in dest.iterdir():
                if child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                else:
                    child.unlink(missing_ok=True)
        raise


def report_json(report: _unpack.UnpackReport) -> dict[str, Any]:
    """An :class:`UnpackReport` as ``unpack --format json`` prints it (Docker-style capitalised keys)."""
    return {
        "Layers": report.layers,
        "Entries": report.entries,
        "Files": report.files,
        "Directories": report.dirs,
        "Symlinks": report.symlinks,
        "Hardlinks": report.hardlinks,
        "Devices": report.devices,
        "SkippedDevices": report.skipped_devices,
        "Whiteouts": report.whiteouts,
        "Bytes": report.bytes,
        "Warnings": list(report.warnings),
    }


def export_stream(store: Store, text: str, out: BinaryIO, *, limits: Limits | None = None) -> None:
    """Write the image's flattened root filesystem as one tar to a stream (``export`` without ``-o``); the
    image is looked up first, so a wrong name writes nothing."""
    image = store.image(text)
    openers = [layer.open for layer in image.layers()]
    union.export(openers, out, limits or Limits.from_env())


def export(store: Store, text: str, out: Path, *, limits: Limits | None = None) -> None:
    """Write the image's flattened root filesystem as one tar; the file appears only when complete."""
    image = store.image(text)
    openers = [layer.open for layer in image.layers()]
    given, out = out, out.resolve()
    from dockyard.archive import output_error

    try:
        fd, name = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
    except OSError as exc:
        raise output_error(exc, given) from None
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            union.export(openers, f, limits or Limits.from_env())
        tmp.replace(out)
    except OSError as exc:
        raise output_error(exc, given) from None
    finally:
        tmp.unlink(missing_ok=True)
