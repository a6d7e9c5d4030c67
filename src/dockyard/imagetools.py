"""``imagetools inspect`` and ``imagetools create``: buildx's commands, against registries only.

Sources matched (docker/buildx): ``util/imagetools/printers.go`` (the text layout, written through Go's
``text/tabwriter`` with padding 1 -- :func:`dockyard.compat.tabwriter.tabwrite`, trailing spaces and all -- and the
``--format`` inputs ``.Name``, ``.Manifest``, ``.Image``), ``util/imagetools/loader.go`` (which children
are images, keyed by normalised platform), ``util/imagetools/create.go`` (``Combine``: children of index
sources inlined, duplicates merged, a Docker manifest list only when every child is Docker-typed, the
index written by ``json.MarshalIndent`` with two spaces) and ``commands/imagetools/create.go`` (sources
are references, bare digests in the one repository named, or descriptor JSON; ``--append`` adds the
first tag as a source; sources in other repositories are copied to the target's first).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from dockyard.compat.gojson import marshal_ordered as go_marshal
from dockyard.compat.gotime import rfc3339_nano as go_time
from dockyard.compat.tabwriter import tabwrite
from dockyard.copy import Context
from dockyard.errors import DockyardError, InvalidInput, InvalidManifest, InvalidReference, SizeMismatch
from dockyard.oci import mediatype
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest, is_digest
from dockyard.oci.index import Index, parse_any
from dockyard.oci.manifest import Manifest
from dockyard.oci.platform import Platform
from dockyard.oci.reference import Reference
from dockyard.remote_ops import go_descriptor
from dockyard.transport.base import MAX_INDEX_DEPTH

if TYPE_CHECKING:
    from dockyard.transport.registry.client import RegistryClient

Progress = Callable[[str], None]

_REFERENCE_ANNOTATIONS: Final = ("com.docker.reference.digest", "vnd.docker.reference.digest")
_PFX: Final = "  "


# --- inspect -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inspected:
    """What a name resolved to: the normalised reference, the registry's bytes and their descriptor."""

    name: str
    ref: Reference
    raw: bytes
    descriptor: Descriptor
    parsed: Index | Manifest


def parse_name(name: str) -> Reference:
    """buildx's ``parseRef``: a normalised reference, ``latest`` added unless a tag or digest is given."""
    return Reference.parse(name).with_default_tag()


def fetch(client: RegistryClient, name: str) -> Inspected:
    """Resolve ``name`` in its registry (the client must be for the reference's domain)."""
    ref = parse_name(name)
    ident = ref.digest if ref.digest is not None else ref.tag
    assert ident is not None
    got = client.get_manifest(ref.path, ident)
    try:
        parsed = parse_any(got.data, got.media_type)
    except InvalidManifest as exc:
        raise InvalidManifest(f"{ref.familiar()}: {exc}") from None
    return Inspected(name, ref, got.data, Descriptor(got.media_type, got.digest, len(got.data)), parsed)


def render_text(item: Inspected) -> str:
    """buildx's default layout: Name, MediaType, Digest, then each child of an index."""
    out = tabwrite(f"Name:\t{item.ref}\nMediaType:\t{item.descriptor.media_type}\nDigest:\t{item.descriptor.digest}\n")
    if isinstance(item.parsed, Index):
        out += _render_children(item)
    return out


def _render_children(item: Inspected) -> str:
    assert isinstance(item.parsed, Index)
    out = [tabwrite("\t\nManifests:\t\n")]
    pending: list[str] = []
    for i, desc in enumerate(item.parsed.manifests):
        if i:
            pending.append("\t\n")
        pending.append(f"{_PFX}Name:\t{item.ref.with_digest(desc.digest)}\n")
        pending.append(f"{_PFX}MediaType:\t{desc.media_type}\n")
        platform = desc.platform
        if platform is None:
            continue
        pending.append(f"{_PFX}Platform:\t{platform}\n")
        if platform.os_version:
            pending.append(f"{_PFX}OSVersion:\t{platform.os_version}\n")
        if platform.os_features:
            pending.append(f"{_PFX}OSFeatures:\t{', '.join(platform.os_features)}\n")
        if desc.urls:
            pending.append(f"{_PFX}URLs:\t{', '.join(desc.urls)}\n")
        if desc.annotations:
            pending.append(f"{_PFX}Annotations:\t\n")
            out.append(tabwrite("".join(pending)))
            pending = []
            notes = "".join(f"{_PFX}{_PFX}{k}:\t{v}\n" for k, v in sorted(desc.annotations.items()))
            out.append(tabwrite(notes))
    out.append(tabwrite("".join(pending)))
    return "".join(out)


_WHOLE_MANIFEST = re.compile(r"\A\s*\{\{\s*\.Manifest\s*\}\}\s*\Z")
_ACTION = re.compile(r"\{\{-?\s*(.*?)\s*-?\}\}", re.DOTALL)
_JSON_ACTION = re.compile(r"\Ajson\s+(\.[A-Za-z0-9_.]*)\Z")
_CONTROL = re.compile(r"\A(range|if|else|end|with|define|template|block)\b")


def manifest_value(item: Inspected) -> dict[str, Any]:
    """The template's ``.Manifest``: the descriptor of a manifest, or the index with its digest and size."""
    if isinstance(item.parsed, Manifest):
        return {
            "mediaType": item.descriptor.media_type,
            "digest": str(item.descriptor.digest),
            "size": item.descriptor.size,
        }
    declared = json.loads(item.raw).get("mediaType")
    out: dict[str, Any] = {"schemaVersion": 2}
    if isinstance(declared, str) and declared:
        out["mediaType"] = declared
    out["digest"] = str(item.descriptor.digest)
    out["size"] = item.descriptor.size
    out["manifests"] = [go_descriptor(d) for d in item.parsed.manifests]
    if item.parsed.annotations:
        out["annotations"] = dict(sorted(item.parsed.annotations.items()))
    return out


def _go_image_config(cfg: Any) -> dict[str, Any]:
    """An ``ocispec.ImageConfig`` in Go's field order, empty fields left out."""
    if not isinstance(cfg, dict):
        return {}
    out: dict[str, Any] = {}
    for key in ("User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels", "StopSignal"):
        value = cfg.get(key)
        if not value:
            continue
        if key in ("ExposedPorts", "Volumes") and isinstance(value, dict):
            value = {k: {} for k in sorted(value)}
        elif key == "Labels" and isinstance(value, dict):
            value = dict(sorted(value.items()))
        out[key] = value
    if cfg.get("ArgsEscaped"):
        out["ArgsEscaped"] = True
    return out


def go_image(config: dict[str, Any]) -> dict[str, Any]:
    """An image config as buildx prints ``.Image``: read into ``ocispec.Image`` and written back (unknown
    fields dropped, Go's field order, timestamps as Go writes them)."""
    out: dict[str, Any] = {}
    if isinstance(config.get("created"), str):
        out["created"] = go_time(config["created"])
    if config.get("author"):
        out["author"] = config["author"]
    out["architecture"] = config.get("architecture") or ""
    out["os"] = config.get("os") or ""
    for key in ("os.version", "os.features", "variant"):
        if config.get(key):
            out[key] = config[key]
    out["config"] = _go_image_config(config.get("config"))
    found = config.get("rootfs")
    rootfs: dict[str, Any] = found if isinstance(found, dict) else {}
    out["rootfs"] = {"type": rootfs.get("type") or "", "diff_ids": rootfs.get("diff_ids")}
    history = config.get("history")
    if isinstance(history, list) and history:
        entries = []
        for h in history:
            entry: dict[str, Any] = {}
            if not isinstance(h, dict):
                entries.append(entry)
                continue
            if isinstance(h.get("created"), str):
                entry["created"] = go_time(h["created"])
            for key in ("created_by", "author", "comment", "empty_layer"):
                if h.get(key):
                    entry[key] = h[key]
            entries.append(entry)
        out["history"] = entries
    return out


def _read_config(client: RegistryClient, repo: str, manifest: Manifest) -> dict[str, Any]:
    from dockyard.transport.remote import config_object

    return config_object(client, repo, manifest)


def _platform_key(obj: dict[str, Any]) -> str:
    try:
        return str(
            Platform(str(obj.get("os") or ""), str(obj.get("architecture") or ""), obj.get("variant")).normalized()
        )
    except DockyardError:
        return "unknown"


def image_value(client: RegistryClient, item: Inspected) -> Any:
    """The template's ``.Image``: the config of a single-platform image, or a map platform -> config."""
    images: dict[str, dict[str, Any]] = {}

    def visit(repo: str, parsed: Index | Manifest, desc: Descriptor | None, depth: int) -> None:
        if isinstance(parsed, Index):
            if depth > MAX_INDEX_DEPTH:
                raise InvalidManifest(f"{item.ref.familiar()}: indexes nested too deeply")
            for child in parsed.manifests:
                if child.media_type not in mediatype.MANIFEST_TYPES | mediatype.INDEX_TYPES:
                    continue
                got = client.get_manifest(repo, child.digest)
                visit(repo, parse_any(got.data, got.media_type), child, depth + 1)
            return
        if desc is not None and any(k in desc.annotations for k in _REFERENCE_ANNOTATIONS):
            return  # an attestation manifest, not an image
        if parsed.config.media_type not in mediatype.CONFIG_TYPES:
            return
        config = _read_config(client, repo, parsed)
        if desc is not None and desc.platform is not None:
            key = str(desc.platform.normalized())
        else:
            key = _platform_key(config)
        images[key] = go_image(config)

    visit(item.ref.path, item.parsed, None, 0)
    if len(images) > 1:
        return dict(sorted(images.items()))
    return next(iter(images.values()), None)


def _lookup(data: dict[str, Any], path: str) -> Any:
    value: Any = data
    for part in [p for p in path.split(".") if p]:
        if not isinstance(value, dict) or part not in value:
            raise InvalidInput(f"template: can't evaluate field {part}")
        value = value[part]
    return value


def render_format(client: RegistryClient, item: Inspected, fmt: str) -> str:
    """``--format TEMPLATE``: ``{{.Manifest}}`` alone is the text layout; otherwise the template runs on
    ``.Name``, ``.Manifest`` and ``.Image``, ``json`` writing indented JSON as buildx's does."""
    from dockyard.compat.dockerformat import Format as Template

    if _WHOLE_MANIFEST.match(fmt):
        return render_text(item)
    data: dict[str, Any] = {"Name": item.name, "Manifest": manifest_value(item)}
    actions = [m.group(1) for m in _ACTION.finditer(fmt)]
    if any(re.search(r"\.Image\b", a) for a in actions):
        data["Image"] = image_value(client, item)
    else:
        data["Image"] = None
    if any(_CONTROL.match(a) for a in actions):
        return Template(fmt).render(data)
    parts: list[str] = []
    pos = 0
    for match in _ACTION.finditer(fmt):
        if match.start() > pos:
            parts.append(fmt[pos : match.start()])
        json_action = _JSON_ACTION.match(match.group(1))
        if json_action:
            parts.append(go_marshal(_lookup(data, json_action.group(1)), "  "))
        else:
            parts.append(Template(match.group(0)).render(data))
        pos = match.end()
    parts.append(fmt[pos:])
    return "".join(parts)


# --- create ------------------------------------------------------------------------------------------------------


@dataclass
class Source:
    """One source of ``imagetools create``: where to read it, and what the user said of its descriptor."""

    text: str
    ref: Reference | None
    digest: Digest | None = None
    media_type: str = ""
    size: int = 0
    platform: Platform | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    raw: bytes = b""

    def descriptor(self) -> Descriptor:
        assert self.digest is not None
        return Descriptor(self.media_type, self.digest, self.size, self.platform, dict(self.annotations))


def parse_source(text: str) -> Source:
    """A digest (``sha256:...``), a reference, or a descriptor as JSON (buildx's ``parseSource``)."""
    stripped = text.strip()
    if is_digest(stripped):
        return Source(text, None, Digest.parse(stripped))
    if stripped.startswith("sha256"):
        raise InvalidReference(f"failed to parse source {text!r}: invalid digest")
    if stripped.startswith("{"):
        try:
            desc = Descriptor.from_json(json.loads(stripped), "source descriptor")
        except ValueError as exc:
            raise InvalidInput(f"failed to parse source {text!r}: {exc}") from None
        return Source(text, None, desc.digest, desc.media_type, desc.size, desc.platform, dict(desc.annotations))
    try:
        return Source(text, Reference.parse(stripped))
    except InvalidReference as exc:
        raise InvalidReference(
            f"failed to parse source {text!r}, valid sources are digests, references and descriptors: {exc}"
        ) from None


def _same_repo(a: Reference, b: Reference) -> bool:
    return a.domain == b.domain and a.path == b.path


def _resolve_source(clients: Context, src: Source) -> None:
    """Fetch the source's manifest; fill in its media type, digest, size and (for images) platform."""
    assert src.ref is not None
    client = clients.client(src.ref.domain)
    ref = src.ref.with_default_tag()
    ident: str | Digest
    if src.digest is not None:
        ident = src.digest
    elif ref.digest is not None:
        ident = ref.digest
    else:
        assert ref.tag is not None
        ident = ref.tag
    got = client.get_manifest(ref.path, ident)
    if src.size and src.size != len(got.data):
        raise SizeMismatch(src.size, len(got.data), f"source {src.text}")
    src.raw = got.data
    src.digest = got.digest
    src.size = len(got.data)
    src.media_type = src.media_type or got.media_type
    if src.media_type in mediatype.SCHEMA1_TYPES:
        raise InvalidManifest("schema1 manifests are not allowed in manifest lists")
    if src.media_type in mediatype.MANIFEST_TYPES and (src.platform is None or not src.platform.os):
        parsed = parse_any(got.data, src.media_type)
        assert isinstance(parsed, Manifest)
        config = _read_config(client, ref.path, parsed)
        src.platform = Platform(
            str(config.get("os") or ""), str(config.get("architecture") or ""), config.get("variant") or None
        ).normalized()


def combine(sources: Sequence[Source], *, prefer_index: bool = True) -> tuple[bytes, Descriptor]:
    """buildx's ``Combine``: the new index (or, for one source, the source itself) and its descriptor."""
    if len(sources) == 1:
        only = sources[0]
        if only.media_type in mediatype.INDEX_TYPES or not prefer_index:
            return only.raw, Descriptor(only.media_type, Digest.of(only.raw), len(only.raw))
    descs: list[Descriptor] = []
    seen: dict[Digest, int] = {}

    def add(desc: Descriptor) -> None:
        at = seen.get(desc.digest)
        if at is None:
            seen[desc.digest] = len(descs)
            descs.append(desc)
            return
        old = descs[at]
        descs[at] = Descriptor(
            old.media_type or desc.media_type,
            old.digest,
            old.size,
            desc.platform if desc.platform is not None else old.platform,
            {**old.annotations, **desc.annotations},
            old.urls,
            old.artifact_type,
        )

    for src in sources:
        if src.media_type in mediatype.INDEX_TYPES:
            for child in Index.parse(src.raw, src.media_type).manifests:
                add(child)
        else:
            add(src.descriptor())
    docker = all(d.media_type.startswith("application/vnd.docker.") for d in descs)
    kind = mediatype.DOCKER_MANIFEST_LIST if docker else mediatype.OCI_INDEX
    obj = {"schemaVersion": 2, "mediaType": kind, "manifests": [go_descriptor(d) for d in descs]}
    raw = go_marshal(obj, "  ").encode("utf-8")
    return raw, Descriptor(kind, Digest.of(raw), len(raw))


@dataclass(frozen=True, slots=True)
class CreateResult:
    raw: bytes
    descriptor: Descriptor
    pushed: tuple[Reference, ...]


def create(
    sources: Sequence[str],
    tags: Sequence[str],
    *,
    append: bool = False,
    dry_run: bool = False,
    prefer_index: bool = True,
    insecure: Iterable[str] = (),
    on_progress: Progress | None = None,
) -> CreateResult:
    """``imagetools create -t TAG... SOURCE...``: combine the sources and push the result to every tag,
    copying (mounting within a registry) what the tag's repository does not have yet."""
    if not sources:
        raise InvalidInput("no sources specified")
    if not dry_run and not tags:
        raise InvalidInput("can't push with no tags specified, please set --tag or --dry-run")
    targets = [Reference.parse(t) for t in tags]
    texts = list(sources)
    if append and tags:
        texts.insert(0, tags[0])
    srcs = [parse_source(t) for t in texts]
    repos = {t.repository: t for t in targets}
    for s in srcs:
        if s.ref is not None:
            repos.setdefault(s.ref.repository, s.ref)
    if not repos:
        raise InvalidInput("no repositories specified, please set a reference in tag or source")
    for s in srcs:
        if s.ref is None:
            if len(repos) != 1:
                raise InvalidInput(f"multiple repositories specified, cannot infer repository for {s.text!r}")
            only = next(iter(repos.values())).untagged()
            s.ref = only.with_digest(s.digest) if s.digest is not None else only.with_default_tag()
    progress = on_progress or (lambda _line: None)
    with Context(insecure=tuple(insecure)) as clients:
        for s in srcs:
            _resolve_source(clients, s)
        raw, desc = combine(srcs, prefer_index=prefer_index)
        if dry_run:
            return CreateResult(raw, desc, ())
        for target in targets:
            dst = clients.client(target.domain)
            for s in srcs:
                assert s.ref is not None
                if _same_repo(s.ref, target):
                    continue
                progress(f"copying {s.digest} from {s.ref} to {target}")
                _copy_source(clients.client(s.ref.domain), s, dst, target)
            progress(f"pushing {desc.digest} to {target}")
            tagged = target if target.digest is not None and target.tag is None else target.with_default_tag()
            where: str | Digest = tagged.tag if tagged.tag is not None else desc.digest
            dst.put_manifest(target.path, where, raw, desc.media_type)
    return CreateResult(raw, desc, tuple(targets))


def _copy_source(src: RegistryClient, source: Source, dst: RegistryClient, target: Reference) -> None:
    """One source of ``create``, with everything it refers to, into the target's repository by digest (the copy
    engine: blobs already there skipped, mounted within one registry, else streamed registry to registry)."""
    from dockyard.copy import transfer
    from dockyard.transport.remote import RegistryDestination, RegistrySource

    assert source.ref is not None and source.digest is not None
    if dst.head_manifest(target.path, source.digest) is not None:
        return
    dest = RegistryDestination(dst, target.path)
    if src.host == dst.host:
        dest.mount_from_anywhere(source.ref.path)
    transfer(
        RegistrySource(src, source.ref.untagged().with_digest(source.digest)),
        dest,
        where=source.text,
        all_platforms=True,
        reference=str(source.digest),
    )


__all__ = [
    "CreateResult",
    "Inspected",
    "Source",
    "combine",
    "create",
    "fetch",
    "go_image",
    "image_value",
    "manifest_value",
    "parse_name",
    "parse_source",
    "render_format",
    "render_text",
]
