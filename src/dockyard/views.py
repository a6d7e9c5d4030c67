"""Docker-shaped views of store images: the rows of ``images``, ``history`` and the ``inspect`` document.

Pure functions over the store; the CLI renders what they return.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from dockyard.compat.gotime import rfc3339, rfc3339_nano
from dockyard.compat.gotime import time_string as go_time
from dockyard.errors import DockyardError, InvalidInput
from dockyard.oci import reference as refs
from dockyard.oci.timefmt import parse_time
from dockyard.store.store import ImageSummary, Store
from dockyard.units import ellipsis, human_size, since

if TYPE_CHECKING:
    from dockyard.store.check import DiskUsage
    from dockyard.store.metadata import ContainerRow

# Docker's container.Config keys, in Docker's order, with their zero values.
_CONTAINER_CONFIG_KEYS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""),
    ("Domainname", ""),
    ("User", ""),
    ("AttachStdin", False),
    ("AttachStdout", False),
    ("AttachStderr", False),
    ("ExposedPorts", None),
    ("Tty", False),
    ("OpenStdin", False),
    ("StdinOnce", False),
    ("Env", None),
    ("Cmd", None),
    ("Healthcheck", None),
    ("ArgsEscaped", None),
    ("Image", ""),
    ("Volumes", None),
    ("WorkingDir", ""),
    ("Entrypoint", None),
    ("OnBuild", None),
    ("Labels", None),
    ("StopSignal", None),
    ("StopTimeout", None),
    ("Shell", None),
)
_OMIT_WHEN_NULL = {"ExposedPorts", "Healthcheck", "ArgsEscaped", "StopSignal", "StopTimeout", "Shell"}


def clock() -> datetime:
    """The time relative times (``2 years ago``) are counted from: the clock. The one seam for tests that need
    those columns to stay the same from one year to the next (the golden files)."""
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class ImageRow:
    """One row of ``dockyard images``: an image under one repository:tag (or <none>)."""

    repository: str
    tag: str
    digest: str
    summary: ImageSummary

    def as_json(self, *, trunc: bool = True, now: datetime | None = None) -> dict[str, str]:
        s = self.summary
        return {
            "Containers": "N/A" if not s.containers else str(s.containers),
            "CreatedAt": go_time(s.created),
            "CreatedSince": since(s.created, now or clock()),
            "Digest": self.digest,
            "ID": s.id.short if trunc else str(s.id),
            "Repository": self.repository,
            "SharedSize": "N/A",
            "Size": human_size(s.size),
            "Tag": self.tag,
            "UniqueSize": "N/A",
            "VirtualSize": human_size(s.size, 4),
        }


_DIGEST_FIELD = re.compile(r"\{\{(?:(?!\}\}).)*?\.Digest\b", re.S)  # .Digest inside an action


def format_shows_digest(fmt: str | None) -> bool:
    """Whether an ``images --format`` template refers to ``.Digest`` (then the digest rows are shown, as with
    ``--digests``): a superset of docker/cli's test, the literal text ``{{.Digest}}``, which misses
    ``{{ .Digest }}``, ``{{.Digest | json}}`` and the like."""
    return bool(fmt) and fmt != "json" and _DIGEST_FIELD.search(fmt or "") is not None


def image_rows(
    store: Store,
    *,
    reference: str | None = None,
    filters: Iterable[str] = (),
    digests: bool = False,
    all_images: bool = False,
) -> list[ImageRow]:
    """The rows ``docker images`` prints, newest first, with Docker's filters applied. The other platforms of an
    index a tag names are shown (as ``<none>``) only with ``all_images`` (``-a``)."""
    summaries = store.summaries()
    dangling: bool | None = None
    patterns: list[str] = []
    before: datetime | None = None
    since_: datetime | None = None
    labels: list[str] = []
    if reference:
        patterns.append(reference)
    for f in filters:
        key, sep, value = f.partition("=")
        if not sep:
            raise InvalidInput(f"bad format of filter (expected name=value): {f!r}")
        if key == "dangling":
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidInput(f"invalid filter 'dangling={value}'")
            dangling = value.lower() in ("true", "1")
        elif key == "reference":
            patterns.append(value)
        elif key in ("before", "since"):
            anchor = store.image(value)
            when = parse_time(anchor.row.created)
            if key == "before":
                before = when
            else:
                since_ = when
        elif key == "label":
            labels.append(value)
        else:
            raise InvalidInput(f"invalid filter '{key}'")
    rows: list[ImageRow] = []
    for s in summaries:
        if before is not None and (s.created is None or s.created >= before):
            continue
        if since_ is not None and (s.created is None or s.created <= since_):
            continue
        if labels and not _labels_match(store, str(s.id), labels):
            continue
        tags = [t for t in s.tags if not patterns or any(refs.familiar_match(p, t) for p in patterns)]
        digs = [d for d in s.digests if not patterns or any(refs.familiar_match(p, d) for p in patterns)]
        if not tags and not digs:
            # Docker's daemon: an image without references is dangling; with a reference filter it is skipped
            if patterns or dangling is False or (s.held and (dangling is True or not all_images)):
                continue
            rows.append(ImageRow("<none>", "<none>", "<none>", s))
            continue
        if dangling is True and tags:
            continue  # dangling means "no tag": an image known only by digest still counts
        rows.extend(_tagged_and_digest_rows(s, tags, digs, show_digests=digests))
    return rows


def _tagged_and_digest_rows(
    s: ImageSummary, tags: list[refs.Reference], digs: list[refs.Reference], *, show_digests: bool
) -> list[ImageRow]:
    """docker/cli's imageFormatTaggedAndDigest: one row per repository tag (per digest with --digests), then one
    row for each repository known only by digest."""
    repo_tags: dict[str, list[str]] = {}
    for t in tags:
        repo_tags.setdefault(t.familiar_name(), []).append(t.tag or "latest")
    repo_digests: dict[str, list[str]] = {}
    for d in digs:
        repo_digests.setdefault(d.familiar_name(), []).append(str(d.digest))
    rows: list[ImageRow] = []
    for repo, names in repo_tags.items():
        shown = repo_digests.pop(repo, []) if show_digests else []
        repo_digests.pop(repo, None)
        for tag in names:
            if not shown:
                rows.append(ImageRow(repo, tag, "<none>", s))
            for dgst in shown:
                rows.append(ImageRow(repo, tag, dgst, s))
    for repo, dgsts in repo_digests.items():
        if show_digests:
            rows.extend(ImageRow(repo, "<none>", dgst, s) for dgst in dgsts)
        else:
            rows.append(ImageRow(repo, "<none>", "<none>", s))
    return rows


def _labels_match(store: Store, image_id: str, wanted: list[str]) -> bool:
    config = store.image_by_id(image_id).config().container_config
    labels = config.get("Labels") or {}
    for w in wanted:
        key, sep, value = w.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def inspect(store: Store, text: str) -> dict[str, Any]:
    """``docker image inspect`` for one image, as Docker's API returns it."""
    image = store.image(text)
    config = image.config()
    tags, digests = store.names_of(image.row.id)
    data = config.data
    cfg = config.container_config
    docker_config: dict[str, Any] = {}
    for key, zero in _CONTAINER_CONFIG_KEYS:
        value = cfg.get(key, zero)
        if value is None and key in _OMIT_WHEN_NULL:
            continue
        docker_config[key] = value
    for key, value in cfg.items():
        docker_config.setdefault(key, value)
    created = parse_time(config.created)
    doc: dict[str, Any] = {
        "Id": image.row.id,
        "RepoTags": [t.familiar() for t in tags],
        "RepoDigests": [d.familiar() for d in digests],
        "Parent": data.get("parent", "") or "",
        "Comment": data.get("comment", "") or "",
        "Created": rfc3339_nano(config.created) if config.created else rfc3339(created),
        "DockerVersion": data.get("docker_version", "") or "",
        "Author": config.author,
        "Config": docker_config,
        "Architecture": config.architecture,
    }
    if config.variant:
        doc["Variant"] = config.variant
    doc["Os"] = config.os
    if data.get("os.version"):
        doc["OsVersion"] = data["os.version"]
    doc["Size"] = image.row.size
    doc["GraphDriver"] = {"Data": {"Blobs": str(store.blobs_dir)}, "Name": "dockyard"}
    doc["RootFS"] = {"Type": "layers", "Layers": [str(d) for d in config.diff_ids]}
    doc["Metadata"] = {"LastTagTime": "0001-01-01T00:00:00Z"}
    doc["Descriptor"] = image.manifest().descriptor().to_json()
    return doc


@dataclass(frozen=True, slots=True)
class HistoryRow:
    id: str  # image ID or "<missing>"
    created: datetime | None
    created_by: str
    size: int
    comment: str
    tags: tuple[str, ...]


def history(store: Store, text: str) -> list[HistoryRow]:
    """``docker history``: newest first, one row per history entry; empty layers are 0 B."""
    image = store.image(text)
    config = image.config()
    layers = image.layers()
    sizes = []
    for layer in layers:
        row = store.layer(str(layer.diff_id()))
        sizes.append(row.content_size if row else 0)
    out: list[HistoryRow] = []
    counter = 0
    for h in config.history:
        size = 0
        if not h.empty_layer:
            if counter >= len(sizes):
                raise InvalidInput("too many non-empty layers in History section")
            size = sizes[counter]
            counter += 1
        out.append(HistoryRow("<missing>", parse_time(h.created), h.created_by, size, h.comment, ()))
    out.reverse()
    if out:
        tags, _ = store.names_of(image.row.id)
        top = out[0]
        out[0] = HistoryRow(
            image.row.id, top.created, top.created_by, top.size, top.comment, tuple(t.familiar() for t in tags)
        )
    return out


# --- containers ----------------------------------------------------------------------------------------------


def _truncate_id(text: str) -> str:
    """Docker's ``stringid.TruncateID``: what follows the algorithm, cut to 12 characters."""
    return text.partition(":")[2][:12] if ":" in text else text[:12]


def container_image(store: Store, row: ContainerRow, *, trunc: bool = True) -> str:
    """The IMAGE column of ``docker ps``: the name the container was created with while it still names that
    image (the daemon's rule), else the image ID; truncated as docker/cli does (a short ID, a tag kept, a
    digest dropped)."""
    image = row.image_ref
    if image != row.image_id:
        try:
            resolved: str | None = store.resolve(image)
        except DockyardError:
            resolved = None
        if resolved != row.image_id:
            image = row.image_id
    if not trunc:
        return image
    if _truncate_id(row.image_id) == _truncate_id(image):
        return _truncate_id(image)
    try:
        ref = refs.parse(image)
    except InvalidInput:
        return image
    return ref.untagged().familiar() if ref.tag is None else ref.untagged().with_tag(ref.tag).familiar()


def _command(command: str, trunc: bool) -> str:
    """docker/cli's COMMAND: ``strconv.Quote`` of the command, cut to 20 columns unless ``--no-trunc``."""
    import json

    quoted = json.dumps(command, ensure_ascii=False)
    return ellipsis(quoted, 20) if trunc else quoted


def container_docs(store: Store, *, trunc: bool = True, now: datetime | None = None) -> list[dict[str, str]]:
    """``docker ps -a`` rows, newest first, with docker/cli's field names (``--format json``)."""
    docs = []
    for row in reversed(store.containers()):
        created = parse_time(row.created)
        docs.append(
            {
                "Command": _command(row.command, trunc),
                "CreatedAt": go_time(created),
                "ID": row.id[:12] if trunc else row.id,
                "Image": container_image(store, row, trunc=trunc),
                "Labels": "",
                "LocalVolumes": "0",
                "Mounts": "",
                "Names": row.name,
                "Networks": "",
                "Ports": "",
                "RunningFor": since(created, now or clock()),
                "Size": "0B",
                "State": "created",
                "Status": "Created",
            }
        )
    return docs


# --- system df -----------------------------------------------------------------------------------------------


def _with_percent(part: int, total: int) -> str:
    return f"{human_size(part)} ({part * 100 // total}%)" if total > 0 else human_size(part)


def disk_usage_docs(du: DiskUsage) -> list[dict[str, str]]:
    """``docker system df``'s rows (Images, Containers, Local Volumes, Build Cache) as its formatter names their
    fields."""
    return [
        {
            "Active": str(du.active),
            "Reclaimable": _with_percent(du.reclaimable, du.size),
            "Size": human_size(du.size),
            "TotalCount": str(du.images),
            "Type": "Images",
        },
        {"Active": "0", "Reclaimable": "0B", "Size": "0B", "TotalCount": str(du.containers), "Type": "Containers"},
        {"Active": "0", "Reclaimable": "0B", "Size": "0B", "TotalCount": "0", "Type": "Local Volumes"},
        {
            "Active": "0",
            "Reclaimable": human_size(du.cache_reclaimable),
            "Size": human_size(du.cache_size),
            "TotalCount": str(du.cache_steps),
            "Type": "Build Cache",
        },
    ]


def disk_usage_cache_docs(du: DiskUsage, *, trunc: bool = True, now: datetime | None = None) -> list[dict[str, str]]:
    """``docker system df -v``'s build cache: one row a step, least recently used first (docker/cli's order), as
    its build-cache formatter names the fields. Every step is a ``regular`` record, none in use by a running build
    when this reads them."""
    now = now or clock()
    docs = []
    for e in sorted(du.cache_entries, key=lambda e: (e.last_used, e.key)):
        created, used = parse_time(e.created), parse_time(e.last_used)
        key = e.key.partition(":")[2] or e.key
        docs.append(
            {
                "CacheType": "regular",
                "CreatedAt": go_time(created),
                "CreatedSince": since(created, now),
                "Description": e.description,
                "ID": key[:12] if trunc else key,
                "InUse": "false",
                "LastUsedAt": go_time(used),
                "LastUsedSince": since(used, now),
                "Parent": "",
                "Shared": "true" if e.shared else "false",
                "Size": human_size(e.size),
                "UsageCount": str(e.usage_count),
            }
        )
    return docs


def disk_usage_image_docs(du: DiskUsage, *, trunc: bool = True, now: datetime | None = None) -> list[dict[str, str]]:
    """``docker system df -v``'s images: one row an image, under its first tag (docker/cli shows only that)."""
    docs = []
    for usage in du.per_image:
        s = usage.summary
        first = s.tags[0] if s.tags else None
        repo = first.familiar_name() if first is not None else "<none>"
        tag = (first.tag or "latest") if first is not None else "<none>"
        doc = ImageRow(repo, tag, "<none>", s).as_json(trunc=trunc, now=now)
        doc["SharedSize"] = human_size(usage.shared_size)
        doc["UniqueSize"] = human_size(usage.unique_size)
        doc["Containers"] = str(usage.containers)
        docs.append(doc)
    return docs
