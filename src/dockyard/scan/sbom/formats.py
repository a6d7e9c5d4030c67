"""An SBOM written out: ``json`` (dockyard's own document), ``table``, ``cyclonedx`` (CycloneDX 1.6 JSON through
``cyclonedx-python-lib``) and ``spdx`` (SPDX 2.3 JSON through ``spdx-tools``, validated by it as it writes).
The libraries are imported only by the format that needs them.

With a cache root, a CycloneDX or SPDX document is kept per SBOM content (``rendered/``): the same image written
again takes the kept document with a new serial number / namespace and creation time, without importing or
running the library (~0.1 s of a cached ``sbom --format cyclonedx``)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from dockyard.scan.package import Package
from dockyard.scan.sbom.result import Sbom

TOOL: Final = "dockyard"


def _version() -> str:
    from dockyard import __version__

    return str(__version__)


def to_json(sbom: Sbom, name: str) -> str:
    doc = {"name": name, **sbom.to_doc()}
    return json.dumps(doc, indent=2) + "\n"


def to_table(sbom: Sbom, name: str) -> str:
    """Docker's habit: upper-case headers, columns three spaces apart."""
    from dockyard.compat.runewidth import string_width  # unicodedata: only the table needs it

    headers = ["NAME", "VERSION", "TYPE", "SOURCE", "LAYER"]
    rows = [
        [
            p.name,
            p.version,
            p.kind,
            (f"{p.source} {p.source_version}" if p.source_version != p.version else p.source)
            if p.source and (p.source != p.name or p.source_version != p.version)
            else "",
            str(sbom.layers.index(p.layer) + 1) if p.layer in sbom.layers else "",
        ]
        for p in sbom.packages
    ]
    widths = [max([string_width(h)] + [string_width(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = []
    for row in [headers, *rows]:
        cells = [c + " " * (w - string_width(c)) for c, w in zip(row, widths, strict=True)]
        lines.append("   ".join(cells).rstrip())
    return "\n".join(lines) + "\n"


def component_refs(packages: tuple[Package, ...]) -> list[str]:
    """A unique reference per package: its purl, suffixed when two packages share it (two site-packages)."""
    seen: dict[str, int] = {}
    out = []
    for p in packages:
        n = seen.get(p.purl, 0)
        seen[p.purl] = n + 1
        out.append(p.purl if n == 0 else f"{p.purl}#{n}")
    return out


def to_cyclonedx(sbom: Sbom, name: str) -> str:
    from cyclonedx.model import Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.model.license import DisjunctiveLicense
    from cyclonedx.output.json import JsonV1Dot6
    from packageurl import PackageURL

    bom = Bom()
    image = Component(
        name=name,
        type=ComponentType.CONTAINER,
        bom_ref=sbom.image_id,
        properties=[Property(name="dockyard:image:id", value=sbom.image_id)]
        + [Property(name="dockyard:image:diff_id", value=d) for d in sbom.layers],
    )
    bom.metadata.component = image
    parts: list[Component] = []
    if sbom.os is not None:
        parts.append(
            Component(
                name=sbom.os.family,
                version=sbom.os.version or None,
                type=ComponentType.OPERATING_SYSTEM,
                bom_ref=f"os:{sbom.os.family}:{sbom.os.version}",
                description=sbom.os.name or None,
            )
        )
    for ref, p in zip(component_refs(sbom.packages), sbom.packages, strict=True):
        props = [
            Property(name="dockyard:package:type", value=p.kind),
            Property(name="dockyard:package:ecosystem", value=p.ecosystem),
            Property(name="dockyard:layer:diff_id", value=p.layer),
            Property(name="dockyard:path", value=p.path),
        ]
        if p.source:
            props.append(Property(name="dockyard:package:source_name", value=p.source))
            props.append(Property(name="dockyard:package:source_version", value=p.source_version))
        parts.append(
            Component(
                name=p.name,
                version=p.version,
                type=ComponentType.LIBRARY,
                purl=PackageURL.from_string(p.purl),
                bom_ref=ref,
                licenses=[DisjunctiveLicense(name=lic) for lic in p.licenses],
                properties=props,
            )
        )
    for c in parts:
        bom.components.add(c)
    bom.register_dependency(image, parts)
    return str(JsonV1Dot6(bom).output_as_string(indent=2)) + "\n"


def _spdx_id(text: str, n: int) -> str:
    return f"SPDXRef-Package-{re.sub(r'[^A-Za-z0-9.-]+', '-', text)[:60]}-{n}"


def to_spdx(sbom: Sbom, name: str) -> str:
    import io
    import uuid

    from spdx_tools.spdx.model import (
        Actor,
        ActorType,
        CreationInfo,
        Document,
        ExternalPackageRef,
        ExternalPackageRefCategory,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )
    from spdx_tools.spdx.model import Package as SpdxPackage
    from spdx_tools.spdx.model.package import PackagePurpose
    from spdx_tools.spdx.writer.json.json_writer import write_document_to_stream

    now = datetime.now(UTC).replace(microsecond=0)
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=name,
        document_namespace=f"https://dockyard.invalid/spdx/{sbom.image_id.replace(':', '-')}-{uuid.uuid4()}",
        creators=[Actor(ActorType.TOOL, f"{TOOL}-{_version()}")],
        created=now,
    )
    image_id = "SPDXRef-Image"
    packages = [
        SpdxPackage(
            spdx_id=image_id,
            name=name,
            download_location=SpdxNoAssertion(),
            version=sbom.image_id,
            files_analyzed=False,
            primary_package_purpose=PackagePurpose.CONTAINER,
        )
    ]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, image_id)]
    if sbom.os is not None:
        packages.append(
            SpdxPackage(
                spdx_id="SPDXRef-OperatingSystem",
                name=sbom.os.family,
                download_location=SpdxNoAssertion(),
                version=sbom.os.version or None,
                files_analyzed=False,
                primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
            )
        )
        relationships.append(Relationship(image_id, RelationshipType.CONTAINS, "SPDXRef-OperatingSystem"))
    for n, p in enumerate(sbom.packages):
        sid = _spdx_id(f"{p.kind}-{p.name}", n)
        source = f"built package from: {p.source} {p.source_version}" if p.source else None
        packages.append(
            SpdxPackage(
                spdx_id=sid,
                name=p.name,
                download_location=SpdxNoAssertion(),
                version=p.version,
                files_analyzed=False,
                source_info=source,
                license_declared=SpdxNoAssertion(),
                license_concluded=SpdxNoAssertion(),
                comment=f"layer {p.layer}; found in {p.path}",
                external_references=[
                    ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", p.purl),
                ],
                primary_package_purpose=PackagePurpose.LIBRARY,
            )
        )
        relationships.append(Relationship(image_id, RelationshipType.CONTAINS, sid))
    doc = Document(info, packages=packages, relationships=relationships)
    out = io.StringIO()
    write_document_to_stream(doc, out, validate=True)
    # spdx-tools 0.8 writes the enum's Python name (PACKAGE_MANAGER); the SPDX 2.3 schema says PACKAGE-MANAGER.
    written = json.loads(out.getvalue())
    for pkg in written.get("packages", []):
        for ref in pkg.get("externalRefs", []):
            ref["referenceCategory"] = str(ref["referenceCategory"]).replace("_", "-")
    return json.dumps(written, indent=2) + "\n"


FORMATS: Final[dict[str, Callable[[Sbom, str], str]]] = {
    "table": to_table,
    "json": to_json,
    "cyclonedx": to_cyclonedx,
    "spdx": to_spdx,
}


def _fresh_cyclonedx(text: str) -> str:
    """A kept CycloneDX document as a new one: a new ``serialNumber`` and ``metadata.timestamp``."""
    import uuid  # with the platform module it imports, ~3 ms that the json and table formats do not need

    now = datetime.now(UTC).isoformat()
    text = re.sub(r'"timestamp": "[^"]*"', lambda _: f'"timestamp": "{now}"', text, count=1)
    serial = f"urn:uuid:{uuid.uuid4()}"
    return re.sub(r'"serialNumber": "urn:uuid:[0-9a-f-]+"', lambda _: f'"serialNumber": "{serial}"', text, count=1)


def _fresh_spdx(text: str) -> str:
    """A kept SPDX document as a new one: a new ``documentNamespace`` (its UUID) and ``creationInfo.created``."""
    import uuid

    now = datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    text = re.sub(r'"created": "[^"]*"', lambda _: f'"created": "{now}"', text, count=1)
    ns = r'("documentNamespace": "[^"]*-)[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"'
    return re.sub(ns, lambda m: f'{m.group(1)}{uuid.uuid4()}"', text, count=1)


#: The formats whose documents are kept, and how a kept one is made new.
_KEPT: Final[dict[str, Callable[[str], str]]] = {"cyclonedx": _fresh_cyclonedx, "spdx": _fresh_spdx}


def render(sbom: Sbom, fmt: str, name: str, *, cache_root: Path | None = None) -> str:
    """``sbom`` written in ``fmt``; with ``cache_root``, CycloneDX and SPDX documents of complete SBOMs are kept."""
    fresh = _KEPT.get(fmt)
    if cache_root is None or fresh is None or not sbom.complete:
        return FORMATS[fmt](sbom, name)
    doc = json.dumps([fmt, name, _version(), sbom.to_doc()], sort_keys=True, separators=(",", ":"))
    path = cache_root / "rendered" / f"{hashlib.sha256(doc.encode()).hexdigest()}.{fmt}.json"
    try:
        return fresh(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        pass
    text = FORMATS[fmt](sbom, name)
    from dockyard.atomicfile import write_atomically

    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, text.encode("utf-8"))
    except OSError:
        pass  # the cache is an optimisation: a read-only store still gets its document
    return text


__all__ = ["FORMATS", "render", "to_cyclonedx", "to_json", "to_spdx", "to_table"]
