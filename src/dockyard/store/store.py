"""The local image store: content-addressed blobs plus SQLite metadata, with Docker's image rules."""

from __future__ import annotations

import re
import secrets
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from dockyard.errors import ContainerNotFound, DockyardError, ImageNotFound, InvalidReference, StoreError
from dockyard.oci import reference as refs
from dockyard.oci.digest import Digest
from dockyard.oci.timefmt import parse_time
from dockyard.store.blobs import BlobStore
from dockyard.store.core import ImageSummary
from dockyard.store.metadata import CacheRow, ContainerRow, LayerRow, Metadata
from dockyard.store.paths import StorePaths, default_root

if TYPE_CHECKING:
    from dockyard.image.base import Image
    from dockyard.image.transfer import RawManifest
    from dockyard.layers.limits import Limits
    from dockyard.oci.index import Index
    from dockyard.store.check import CheckReport, DiskUsage
    from dockyard.store.delete import DeleteRecord
    from dockyard.store.image import StoreImage
    from dockyard.store.ingest import IngestResult, LayerProgress

_HEX64 = frozenset("0123456789abcdef")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class Store:
    def __init__(self, root: Path | None = None) -> None:
        self.paths = StorePaths((root or default_root()).resolve())
        try:
            self.paths.root.mkdir(parents=True, exist_ok=True)
            self.paths.tmp.mkdir(exist_ok=True)
            (self.paths.blobs / "sha256").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create store at {self.paths.root}: {exc.strerror}") from None
        self.blobs = BlobStore(self.paths)
        self.meta = Metadata(self.paths.db)
        self._register_old_indexes()

    def _register_old_indexes(self) -> None:
        """Stores written before schema 3 kept index bytes as ``extra_blobs``: register them as indexes."""
        pending = self.meta.unregistered_extra_blobs()
        if not pending:
            return  # the usual case: nothing to import (``images`` must start fast)
        from dockyard.oci.index import Index
        from dockyard.store.ingest import index_record

        for digest in pending:
            try:
                index = Index.parse(self.blobs.read(Digest.parse(digest)))
            except DockyardError:
                continue  # not an index, or gone: left as it is (still kept with its image)
            self.meta.register_index(index_record(index))

    def close(self) -> None:
        self.meta.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- ingest ------------------------------------------------------------------------------------------

    def ingest(
        self,
        image: Image,
        names: Iterable[refs.Reference] = (),
        *,
        repo_digests: Iterable[refs.Reference] = (),
        index: Index | None = None,
        limits: Limits | None = None,
        on_layer: Callable[[LayerProgress], None] | None = None,
        max_concurrent: int = 1,
    ) -> IngestResult:
        """Copy an image in (verifying every digest and diff_id), then record it and its names atomically."""
        from dockyard.store.ingest import ingest

        return ingest(
            self,
            image,
            names,
            repo_digests=repo_digests,
            index=index,
            limits=limits,
            on_layer=on_layer,
            max_concurrent=max_concurrent,
        )

    # --- lookup ------------------------------------------------------------------------------------------

    def resolve(self, text: str) -> str:
        """Docker's GetImage: a 64-hex ID or ``sha256:`` digest, a name[:tag][@digest], else an ID prefix."""
        value = text.strip()
        if (value.startswith("sha256:") and len(value) == 71) or (len(value) == 64 and set(value) <= _HEX64):
            image_id = value if value.startswith("sha256:") else "sha256:" + value
            if self.meta.image(image_id):
                return image_id
            raise ImageNotFound(f"No such image: {text}")
        try:
            ref = refs.parse(value)
        except InvalidReference:
            ref = None
        if ref is not None:
            if ref.digest is not None:
                found = self.meta.digest_target(ref.repository, str(ref.digest))
                if found:
                    return found
            else:
                tagged = ref.with_default_tag()
                found = self.meta.tag_target(tagged.repository, tagged.tag or "latest")
                if found:
                    return found
        prefix = value[7:] if value.startswith("sha256:") else value
        if prefix and set(prefix) <= _HEX64:
            matches = self.meta.image_ids_with_prefix(prefix)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise ImageNotFound(f"image ID prefix {text!r} is ambiguous ({len(matches)} images)")
        if ref is None:
            raise InvalidReference(f"invalid reference format: {text!r}")
        shown = ref.familiar() if ref.digest else ref.with_default_tag().familiar()
        raise ImageNotFound(f"No such image: {shown}")

    def image(self, text_or_id: str) -> StoreImage:
        from dockyard.store.image import StoreImage

        image_id = self.resolve(text_or_id)
        row = self.meta.image(image_id)
        if row is None:
            raise ImageNotFound(f"No such image: {text_or_id}")
        return StoreImage(self, row)

    def image_by_id(self, image_id: str) -> StoreImage:
        from dockyard.store.image import StoreImage

        row = self.meta.image(image_id)
        if row is None:
            raise ImageNotFound(f"No such image: {image_id}")
        return StoreImage(self, row)

    def names_of(self, image_id: str) -> tuple[list[refs.Reference], list[refs.Reference]]:
        tags = [refs.parse(f"{repo}:{tag}") for repo, tag in self.meta.tags_of(image_id)]
        digests = [refs.parse(f"{repo}@{dig}") for repo, dig in self.meta.repo_digests_of(image_id)]
        return tags, digests

    def summaries(self) -> list[ImageSummary]:
        tags: dict[str, list[refs.Reference]] = {}
        for repo, tag, image_id in self.meta.tags():
            tags.setdefault(image_id, []).append(refs.parse(f"{repo}:{tag}"))
        digests: dict[str, list[refs.Reference]] = {}
        for repo, dig, image_id in self.meta.repo_digests():
            digests.setdefault(image_id, []).append(refs.parse(f"{repo}@{dig}"))
        used: dict[str, int] = {}
        for c in self.meta.containers():
            used[c.image_id] = used.get(c.image_id, 0) + 1
        held = self.meta.held_by_indexes()
        out = []
        for row in self.meta.images():
            out.append(
                ImageSummary(
                    id=Digest.parse(row.id),
                    created=_parse_created(row.created),
                    size=row.size,
                    tags=tuple(tags.get(row.id, [])),
                    digests=tuple(digests.get(row.id, [])),
                    containers=used.get(row.id, 0),
                    row=row,
                    held=row.id in held,
                )
            )
        out.sort(key=lambda s: (s.created or datetime.min.replace(tzinfo=UTC), s.row.added), reverse=True)
        return out

    # --- tag / rmi / prune --------------------------------------------------------------------------------

    def tag(self, source: str, target: str) -> refs.Reference:
        """``docker tag``: the new tag names what ``source`` names (the same manifest or index when it is a tag)."""
        image_id = self.resolve(source)
        manifest = self.manifest_digest_of(source, image_id)
        ref = refs.parse(target)
        if ref.digest is not None:
            raise InvalidReference(f"refusing to create a tag with a digest reference: {target}")
        refs.check_taggable(ref)
        ref = ref.with_default_tag()
        if not self.meta.set_tag(ref.repository, ref.tag or "latest", image_id, manifest):
            raise ImageNotFound(f"No such image: {source}")
        return ref

    def manifest_digest_of(self, text: str, image_id: str) -> str:
        """The manifest or index that ``text`` (resolved to ``image_id``) names: a tag's own, a ``repo@digest``'s
        digest when it is kept, else the image's first manifest."""
        try:
            ref: refs.Reference | None = refs.parse(text.strip())
        except InvalidReference:
            ref = None
        if ref is not None and ref.digest is not None and self.meta.manifest(str(ref.digest)) is not None:
            return str(ref.digest)
        if ref is not None and ref.digest is None:
            tagged = ref.with_default_tag()
            if self.meta.tag_target(tagged.repository, tagged.tag or "latest") == image_id:
                found = self.meta.tag_manifest(tagged.repository, tagged.tag or "latest")
                if found is not None:
                    return found
        row = self.meta.image(image_id)
        if row is None:
            raise ImageNotFound(f"No such image: {text}")
        return row.manifest_digest

    def tag_state(self, ref: refs.Reference) -> tuple[str, str | None] | None:
        """(image ID, manifest or index digest) a tag points at, or None."""
        tagged = ref.with_default_tag()
        image_id = self.meta.tag_target(tagged.repository, tagged.tag or "latest")
        if image_id is None:
            return None
        return image_id, self.meta.tag_manifest(tagged.repository, tagged.tag or "latest")

    def layer_form(self, diff_id: str, compression: str) -> tuple[Digest, int, str]:
        """The layer ``diff_id`` compressed with ``compression`` (``gzip`` or ``zstd``): (blob digest, size, media
        type of an OCI layer). Made once, deterministically (gzip without time or name, fixed levels), kept beside
        the plain form until ``image prune``, so a second push uploads nothing and gives the same digests."""
        from dockyard.layers.compression import Compression, compress
        from dockyard.oci import mediatype
        from dockyard.oci.digest import DigestHasher
        from dockyard.store.lock import file_lock

        wanted = mediatype.layer_type(mediatype.OCI_MANIFEST, compression)
        for blob, media_type, size in self.meta.layer_forms(diff_id):
            if media_type == wanted and self.blobs.exists(Digest.parse(blob)):
                return Digest.parse(blob), size, media_type
        row = self.meta.layer(diff_id)
        if row is None:
            raise ImageNotFound(f"layer {diff_id} is not stored")
        with file_lock(self.paths.gc_lock, exclusive=False):
            self.paths.tmp.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.paths.tmp, prefix="compress-") as tmp:
                hasher = DigestHasher()

                class _Hashing:
                    def write(self, data: bytes) -> int:
                        hasher.update(data)
                        return tmp.write(data)

                with self.blobs.open(Digest.parse(row.blob_digest)) as plain:
                    compress(plain, _Hashing(), Compression(compression))  # type: ignore[arg-type]
                digest = hasher.digest()
                size = tmp.tell()
                tmp.seek(0)
                self.blobs.put_stream(tmp, digest, size, f"layer {diff_id} ({compression})")
            self.meta.add_layer_form(diff_id, str(digest), wanted, size)
        return digest, size, wanted

    def tags(self) -> list[tuple[str, str, str]]:
        """(repository, tag, image ID) of every tag."""
        return self.meta.tags()

    def repo_digests(self) -> list[tuple[str, str, str]]:
        """(repository, digest, image ID) of every repository digest."""
        return self.meta.repo_digests()

    def layer_stacks(self) -> dict[str, list[str]]:
        """Every image's diff_ids, in order (image ID -> layer chain)."""
        return self.meta.layer_stacks()

    def containers(self) -> list[ContainerRow]:
        return self.meta.containers()

    def layer(self, diff_id: str) -> LayerRow | None:
        """How the layer ``diff_id`` is kept (its blob, media type, sizes), or None."""
        return self.meta.layer(diff_id)

    @property
    def blobs_dir(self) -> Path:
        return self.paths.blobs

    @property
    def cache_dir(self) -> Path:
        """Derived data kept with the store (SBOMs per layer and image): safe to delete, made again."""
        return self.paths.cache

    @property
    def vuln_db_path(self) -> Path:
        """The OSV database (``dockyard db``) kept with the store."""
        return self.paths.vuln_db

    @property
    def build_dir(self) -> Path:
        """Where builds keep unpacked layers and their running state (see :mod:`dockyard.store.paths`)."""
        return self.paths.build

    # --- build cache --------------------------------------------------------------------------------------

    def build_step(self, key: str) -> CacheRow | None:
        """The build step cached under ``key`` whose layer (if it made one) the store still holds, or None."""
        row = self.meta.cache_step(key, _now())
        if row is None or row.diff_id is None:
            return row
        layer = self.meta.layer(row.diff_id)
        if layer is None or not self.blobs.exists(Digest.parse(layer.blob_digest)):
            return None
        return row

    def record_build_step(
        self,
        key: str,
        created_by: str,
        *,
        description: str = "",
        layer: tuple[Path, Digest, Digest, str] | None = None,
        diff_id: str | None = None,
        created: str | None = None,
    ) -> CacheRow:
        """Cache a build step. ``layer`` is a layer blob it made: (file, digest, diff_id, media type), put in the
        store (verified) unless the store holds that diff_id already; ``diff_id`` names a layer already held.
        Hold the gc lock shared around a build (a prune between put and record would take the blob). ``created``:
        when the step was first made (an imported cache keeps its times), else now."""
        row_layer: LayerRow | None = None
        if layer is not None:
            path, digest, layer_diff, media_type = layer
            diff_id = str(layer_diff)
            known = self.meta.layer(diff_id)
            if known is None or not self.blobs.exists(Digest.parse(known.blob_digest)):
                with open(path, "rb") as f:
                    got = self.blobs.put_layer(f, digest, layer_diff, path.stat().st_size)
                row_layer = LayerRow(
                    diff_id, str(digest), media_type, got.size, got.uncompressed_size, got.content_size
                )
        now = _now()
        row = CacheRow(key, diff_id, created_by, description, created or now, now)
        self.meta.record_step(row, row_layer)
        return row

    def keep_manifest(self, raw: RawManifest, image_id: str) -> None:
        """Keep another manifest of an image (the one a push wrote after compressing its layers)."""
        from dockyard.store.lock import file_lock

        with file_lock(self.paths.gc_lock, exclusive=False):
            self.blobs.put_bytes(raw.data)
            self.meta.keep_manifest(str(raw.digest), raw.media_type, image_id)

    def is_index(self, digest: str) -> bool:
        """Whether ``digest`` is an index (or manifest list) the store keeps."""
        row = self.meta.manifest(digest)
        return row is not None and row[1] is None

    def has_repo_digest(self, ref: refs.Reference) -> bool:
        return ref.digest is not None and self.meta.digest_target(ref.repository, str(ref.digest)) is not None

    def mount_sources(self, domain: str) -> dict[str, list[str]]:
        """Blob digest -> repositories of registry ``domain`` known to hold it (from the store's repository
        digests: the repositories images were pulled from or pushed to)."""
        repos_of_image: dict[str, list[str]] = {}
        for repository, _digest, image_id in self.meta.repo_digests():
            ref = refs.parse(repository)
            if ref.domain == domain:
                repos_of_image.setdefault(image_id, []).append(ref.path)
        out: dict[str, list[str]] = {}
        for blob, users in self.meta.referenced_blobs().items():
            for image_id in users:
                for repo in repos_of_image.get(image_id, []):
                    if repo not in out.setdefault(blob, []):
                        out[blob].append(repo)
        return out

    def add_repo_digest(self, ref: refs.Reference, image_id: str) -> bool:
        """Record ``repo@digest`` as a name of ``image_id`` (after a push); False if the image is gone meanwhile."""
        if ref.digest is None:
            raise InvalidReference(f"not a digest reference: {ref}")
        return self.meta.add_repo_digest(ref.repository, str(ref.digest), image_id)

    def remove(self, text: str, *, force: bool = False) -> list[DeleteRecord]:
        """``docker rmi`` for one argument, with Docker's rules (see :mod:`dockyard.store.delete`)."""
        from dockyard.store.delete import remove

        return remove(self, text, force=force)

    def prune(self, *, all_unused: bool = False) -> tuple[list[DeleteRecord], int]:
        """``docker image prune``: dangling images (or, with ``all_unused``, every image no container uses)."""
        from dockyard.store.delete import prune

        return prune(self, all_unused=all_unused)

    # --- containers ---------------------------------------------------------------------------------------

    def container_create(self, image: str, name: str | None = None) -> ContainerRow:
        """A container record of an image (what keeps it in use), with the image's command for ``container ls``."""
        image_id = self.resolve(image)
        cname = name or _random_name()
        if name is not None and not _valid_container_name(name):
            raise InvalidReference(f"invalid container name {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")
        config = self.image_by_id(image_id).config().container_config
        words = [*(config.get("Entrypoint") or []), *(config.get("Cmd") or [])]
        command = " ".join(str(w) for w in words)
        row = ContainerRow(secrets.token_hex(32), cname, image_id, image, _now(), command)
        self.meta.add_container(row)
        return row

    def container_remove(self, text: str) -> ContainerRow:
        if not text.lstrip("/"):
            raise ContainerNotFound("No such container: (empty name)")
        return self.meta.remove_container(text)

    # --- system -------------------------------------------------------------------------------------------

    def disk_usage(self) -> DiskUsage:
        from dockyard.store.check import disk_usage

        return disk_usage(self)

    def check(self, *, rehash: bool = True) -> CheckReport:
        from dockyard.store.check import check

        return check(self, rehash=rehash)

    def gc(self) -> int:
        from dockyard.store.gc import gc

        return gc(self)


def _parse_created(text: str | None) -> datetime | None:
    return parse_time(text)


def _valid_container_name(name: str) -> bool:
    return re.fullmatch(r"/?[a-zA-Z0-9][a-zA-Z0-9_.-]+", name) is not None


_ADJECTIVES = ("admiring", "brave", "clever", "eager", "gentle", "happy", "jolly", "keen", "lucid", "quirky")
_NAMES = ("babbage", "curie", "darwin", "euler", "hopper", "lovelace", "noether", "turing", "wozniak", "yalow")


def _random_name() -> str:
    return f"{secrets.choice(_ADJECTIVES)}_{secrets.choice(_NAMES)}_{secrets.randbelow(1000)}"


def open_store(root: Path | str | None = None) -> Store:
    return Store(Path(root) if root is not None else None)


__all__ = ["ImageSummary", "Store", "open_store"]
