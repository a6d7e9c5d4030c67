"""Build attestations as buildx attaches them (``--provenance``, ``--sbom``): for each platform's image, an
attestation manifest in the image index, pointing at the image by the ``vnd.docker.reference.digest`` annotation,
with platform ``unknown/unknown``; its layers are in-toto statements (``application/vnd.in-toto+json``) whose subject
is the image manifest: SLSA provenance v0.2 (BuildKit's ``mode=min`` or ``max``) and an SPDX 2.3 document made by the
scanner's catalogers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from dockyard.image.base import StaticImage
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor, descriptor_of
from dockyard.oci.manifest import Manifest

IN_TOTO = "application/vnd.in-toto+json"
STATEMENT = "https://in-toto.io/Statement/v0.1"
PROVENANCE = "https://slsa.dev/provenance/v0.2"
SPDX = "https://spdx.dev/Document"
BUILD_TYPE = "https://mobyproject.org/buildkit@v1"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"
ATTESTATION_MANIFEST = "attestation-manifest"
PREDICATE_ANNOTATION = "in-toto.io/predicate-type"


@dataclass(frozen=True)
class Request:
    """What was asked: the attestations and what provenance records of the build."""

    provenance: str | None = "min"  # None, "min" or "max"
    sbom: bool = False
    names: tuple[str, ...] = ()
    dockerfile: str = "Dockerfile"
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    started: str = ""
    materials: Sequence[tuple[str, str, str]] = ()  # (name, digest, platform)

    @property
    def wanted(self) -> bool:
        return self.provenance is not None or self.sbom


def parse_flag(value: str | None, *, default: str | None) -> str | None:
    """``--provenance`` values: ``true``/``false``, ``mode=min|max`` (``false`` and ``mode=`` off give None)."""
    if value is None:
        return default
    text = value.strip().lower()
    if text in ("", "true", "1"):
        return "min"
    if text in ("false", "0"):
        return None
    fields = dict(item.partition("=")[::2] for item in text.split(","))
    if fields.get("disabled") == "true":
        return None
    mode = fields.get("mode", "min")
    if mode not in ("min", "max"):
        raise ValueError(f"invalid provenance mode {mode!r} (min or max)")
    return mode


def _purl(name: str, platform: str) -> str:
    repo, _, tag = name.rpartition(":") if ":" in name.rsplit("/", 1)[-1] else (name, "", "")
    version = f"@{tag}" if tag else ""
    return f"pkg:docker/{repo or name}{version}?platform={quote(platform, safe='')}"


def _statement(predicate_type: str, predicate: Any, image: StaticImage, names: Sequence[str]) -> bytes:
    platform = str(image.config().platform)
    manifest = image.manifest()
    subjects = [
        {"name": _purl(n, platform), "digest": {manifest.digest.algorithm: manifest.digest.hex}}
        for n in (names or ["_"])
    ]
    doc = {"_type": STATEMENT, "predicateType": predicate_type, "subject": subjects, "predicate": predicate}
    return json.dumps(doc, indent=2).encode()


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def provenance(image: StaticImage, request: Request) -> dict[str, Any]:
    """SLSA provenance v0.2 as BuildKit writes it (``mode=max`` adds the build arguments and completeness)."""
    platform = str(image.config().platform)
    materials = [
        {"uri": _purl(name, plat), "digest": {digest.partition(":")[0]: digest.partition(":")[2]}}
        for name, digest, plat in request.materials
    ]
    args: dict[str, str] = {}
    if request.provenance == "max":
        args = {f"build-arg:{k}": v for k, v in sorted(request.build_args.items())}
        if request.target:
            args["target"] = request.target
    parameters: dict[str, Any] = {"frontend": "dockerfile.v0", "args": args}
    if request.provenance == "max":
        parameters["locals"] = [{"name": "context"}, {"name": "dockerfile"}]
    return {
        "builder": {"id": ""},
        "buildType": BUILD_TYPE,
        "materials": materials,
        "invocation": {
            "configSource": {"entryPoint": request.dockerfile},
            "parameters": parameters,
            "environment": {"platform": platform},
        },
        "metadata": {
            "buildInvocationID": str(uuid.uuid4()),
            "buildStartedOn": request.started or _now(),
            "buildFinishedOn": _now(),
            "completeness": {"parameters": request.provenance == "max", "environment": True, "materials": False},
            "reproducible": False,
        },
    }


def sbom(image: StaticImage, name: str) -> dict[str, Any]:
    """The image's SPDX 2.3 document (the scanner's catalogers)."""
    from dockyard.scan.sbom import sbom as make_sbom
    from dockyard.scan.sbom.formats import to_spdx

    doc: dict[str, Any] = json.loads(to_spdx(make_sbom(image), name))
    return doc


@dataclass(frozen=True)
class Attestation:
    """An attestation manifest for one image and the blobs it names."""

    manifest: Manifest
    blobs: dict[str, bytes]
    subject: Descriptor  # the image manifest it attests


def attest(image: StaticImage, request: Request) -> Attestation:
    """The attestation manifest of ``image``: one in-toto layer per statement."""
    statements: list[tuple[str, bytes]] = []
    if request.provenance is not None:
        statements.append((PROVENANCE, _statement(PROVENANCE, provenance(image, request), image, request.names)))
    if request.sbom:
        name = request.names[0] if request.names else "image"
        statements.append((SPDX, _statement(SPDX, sbom(image, name), image, request.names)))
    blobs: dict[str, bytes] = {}
    layers = []
    for predicate_type, data in statements:
        desc = descriptor_of(data, IN_TOTO)
        annotations = {PREDICATE_ANNOTATION: predicate_type}
        layers.append(Descriptor(desc.media_type, desc.digest, desc.size, annotations=annotations))
        blobs[str(desc.digest)] = data
    config = json.dumps(
        {"architecture": "unknown", "os": "unknown", "config": {}, "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()
    config_desc = descriptor_of(config, mediatype.OCI_CONFIG)
    blobs[str(config_desc.digest)] = config
    manifest = Manifest.build(config_desc, layers, mediatype.OCI_MANIFEST)
    subject = image.manifest()
    return Attestation(manifest, blobs, descriptor_of(subject.raw, subject.media_type))


def index_entry(att: Attestation) -> Descriptor:
    """The attestation manifest's entry in the image index."""
    desc = descriptor_of(att.manifest.raw, att.manifest.media_type)
    from dockyard.oci.platform import Platform

    return Descriptor(
        desc.media_type,
        desc.digest,
        desc.size,
        platform=Platform("unknown", "unknown"),
        annotations={REFERENCE_DIGEST: str(att.subject.digest), REFERENCE_TYPE: ATTESTATION_MANIFEST},
    )


__all__ = [
    "ATTESTATION_MANIFEST",
    "IN_TOTO",
    "PROVENANCE",
    "SPDX",
    "Attestation",
    "Request",
    "attest",
    "index_entry",
    "parse_flag",
    "provenance",
    "sbom",
]
