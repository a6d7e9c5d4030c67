"""The fixed names of the OCI image layout and the annotations that name images in its ``index.json``."""

from __future__ import annotations

from typing import Final

LAYOUT_FILE: Final = "oci-layout"
INDEX_FILE: Final = "index.json"
LAYOUT_VERSION: Final = "1.0.0"
LAYOUT_CONTENT: Final = b'{"imageLayoutVersion":"1.0.0"}'
#: A full reference naming the image (containerd, ``docker save`` >= 25).
ANNOTATION_IMAGE_NAME: Final = "io.containerd.image.name"
#: The OCI ref name: usually a tag (``oci:DIR:REF``), sometimes a full reference.
ANNOTATION_REF_NAME: Final = "org.opencontainers.image.ref.name"

__all__ = [
    "ANNOTATION_IMAGE_NAME",
    "ANNOTATION_REF_NAME",
    "INDEX_FILE",
    "LAYOUT_CONTENT",
    "LAYOUT_FILE",
    "LAYOUT_VERSION",
]
