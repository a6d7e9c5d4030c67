"""One ``dockyard build``: the context opened (a directory, ``-``, a git or tarball URL), the Dockerfile read (from the
context, ``-f FILE`` or ``-f -``) with its ``.dockerignore``, the images built and sent to their outputs, the ID and
metadata files written. :func:`prune` is ``builder prune``."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from dockyard.build.builder import Builder, BuildOptions, BuiltImage
from dockyard.build.export import BuildSource, Output, to_local, to_place, to_store, to_tar
from dockyard.build.progress import Progress
from dockyard.errors import BuildError, InvalidInput

if TYPE_CHECKING:
    from dockyard.store.store import Store


@dataclass(frozen=True)
class BuildRequest:
    """The command line of ``dockyard build``, read (secrets' values and the Dockerfile are read by :func:`build`)."""

    context: str
    options: BuildOptions
    dockerfile: str | None = None  # -f: a path, "-" for stdin, None for <context>/Dockerfile
    tags: tuple[str, ...] = ()
    outputs: tuple[Output, ...] = ()
    load: bool = False
    push: bool = False
    iidfile: Path | None = None
    metadata_file: Path | None = None
    annotations: dict[str, str] = field(default_factory=dict)
    provenance: str | None = "min"  # buildx's default for outputs that hold an index (push, oci); None: off
    sbom: bool = False
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()


@dataclass(frozen=True)
class BuildResult:
    images: tuple[BuiltImage, ...]
    digest: str  # the manifest (or index) digest
    image_id: str  # the config digest of the first image (``docker build``'s "writing image sha256:...")
    exported: tuple[str, ...]
    warnings: tuple[str, ...]


def _read_dockerfile(
    request: BuildRequest, context_root: Path, stdin: BinaryIO | None, stdin_file: Path | None
) -> tuple[str, Path]:
    if stdin_file is not None:
        return stdin_file.read_text(encoding="utf-8"), stdin_file
    if request.dockerfile == "-":
        if stdin is None:
            raise InvalidInput("-f - needs the Dockerfile on standard input")
        return stdin.read().decode("utf-8"), Path("Dockerfile")
    path = Path(request.dockerfile) if request.dockerfile else context_root / "Dockerfile"
    if request.dockerfile and not path.is_absolute() and not path.exists():
        path = context_root / request.dockerfile
    try:
        return path.read_text(encoding="utf-8"), path
    except FileNotFoundError:
        raise BuildError(f"failed to read dockerfile: open {path}: no such file or directory") from None
    except OSError as exc:
        raise BuildError(f"failed to read dockerfile {path}: {exc.strerror}") from None


def build(store: Store, request: BuildRequest, progress: Progress, *, stdin: BinaryIO | None = None) -> BuildResult:
    """Run the build ``request`` describes and send its images where it says."""
    from dockyard.build.context import LocalContext, open_context
    from dockyard.build.ignore import ignore_file_for, load
    from dockyard.build.remotecache import export_cache, import_cache, parse_spec
    from dockyard.build.runtime.runc import STEP_PREFIX

    with Builder(store, request.options, None, progress) as builder:
        # under the builder's work dir: what a killed build leaves there is cleaned by the next one
        work = Path(tempfile.mkdtemp(prefix=f"{STEP_PREFIX}context-", dir=builder.work))
        try:
            ctx_stdin = stdin if request.context == "-" else None
            context, stdin_dockerfile = open_context(request.context, work, stdin=ctx_stdin)
            step = progress.step("[internal] load build definition from " + (request.dockerfile or "Dockerfile"))
            text, df_path = _read_dockerfile(request, context.root, stdin if request.dockerfile == "-" else None,
                                             stdin_dockerfile)  # fmt: skip
            step.status(f"transferring dockerfile: {len(text.encode())}B done")
            step.finish()
            step = progress.step("[internal] load .dockerignore")
            ignore_path = ignore_file_for(context.root, df_path)
            rules = load(ignore_path)
            step.status(f"transferring context: {ignore_path.stat().st_size if ignore_path else 0}B done")
            step.finish()
            builder.context = LocalContext(context.root, rules)
            builder.options = replace(
                request.options, dockerfile=text, dockerfile_path=str(request.dockerfile or "Dockerfile")
            )
            for text in request.cache_from:
                spec = parse_spec(text, export=False)
                step = progress.step(f"importing cache manifest from {spec.ref}")
                step.status(f"{import_cache(store, spec, insecure=request.options.insecure)} steps imported")
                step.finish()
            try:
                images = builder.build()
                result = _export(store, request, images, progress, builder.progress.warnings)
            except BaseException:
                progress.summary(failed=True)
                raise
            for text in request.cache_to:
                spec = parse_spec(text, export=True)
                rows = builder.steps
                if spec.mode == "min":
                    held = {str(layer.diff_id) for image in images for layer in image.layers}
                    rows = [r for r in rows if r.diff_id is None or r.diff_id in held]
                step = progress.step(f"exporting cache to {spec.ref}")
                count, digest = export_cache(store, rows, spec, insecure=request.options.insecure)
                step.status(f"{count} steps written, {digest}")
                step.finish()
            progress.summary()
            return result
        finally:
            progress.close()  # the live block off the terminal, whatever ended the build
            shutil.rmtree(work, ignore_errors=True)


def _export(
    store: Store, request: BuildRequest, images: Sequence[BuiltImage], progress: Progress, warnings: list[str]
) -> BuildResult:
    outputs = list(request.outputs)
    if request.push:
        outputs.append(Output("image", None, {"push": "true"}))
    if request.load or not outputs:
        outputs.append(Output("docker-store", None, {}))
    from dockyard.build.attest import Request as AttestRequest

    several = len(images) > 1
    att = AttestRequest(
        request.provenance,
        request.sbom,
        tuple(request.tags),
        request.dockerfile or "Dockerfile",
        dict(request.options.build_args),
        request.options.target,
    )
    exported: list[str] = []
    digest = ""
    step = progress.step("exporting to image" if any(o.type in ("image", "docker-store") for o in outputs) else
                         "exporting to client")  # fmt: skip
    for out in outputs:
        oci = out.type == "oci" or out.attrs.get("oci-mediatypes", "").lower() == "true"
        attests = out.type == "oci" or (out.type in ("image", "registry") and out.push)  # as buildx: not --load
        source = BuildSource(images, oci=oci, attestations=att if attests else None, annotations=request.annotations)
        if out.type == "docker" and several:
            raise InvalidInput(
                "docker exporter does not currently support exporting manifest lists: build one platform for "
                "--output type=docker"
            )
        names = out.names or list(request.tags)
        if out.type == "docker-store":
            if several:
                source = BuildSource(images, oci=True, annotations=request.annotations)
            done = to_store(store, source, names)
            step.status(f"writing image {source.image_ids[0]} done")
            for n in names:
                step.status(f"naming to {n} done")
            digest = str(done.digest)
            exported.append("store")
        elif out.type in ("image", "registry"):
            if out.push:
                if not names:
                    raise InvalidInput("--push needs a name: -t REGISTRY/REPOSITORY[:TAG]")
                for n in names:
                    step.status(f"pushing {n}")
                    digest = str(to_place(source, f"docker://{n}", store=store, insecure=request.options.insecure))
                    exported.append(f"docker://{n}")
            else:
                digest = str(to_store(store, source, names).digest)
                exported.append("store")
        elif out.type in ("oci", "docker"):
            assert out.dest is not None
            kind = "oci" if out.type == "oci" else "docker-archive"
            if out.type == "oci":
                kind = "oci-archive" if out.as_tar else "oci"
            name = names[0] if names else ""
            if kind == "docker-archive" and name:
                from dockyard.oci import reference as refs

                name = refs.parse(name).with_default_tag().familiar()
            target = f"{kind}:{out.dest}" + (f":{name}" if name else "")
            if out.dest == "-":
                raise InvalidInput(f"--output type={out.type} to standard output is not supported: give dest=FILE")
            digest = str(to_place(source, target, store=store))
            step.status(f"sending tarball {out.dest} done")
            exported.append(target)
        elif out.type == "local":
            assert out.dest is not None
            to_local(source, Path(out.dest))
            digest = str(source.digest)
            exported.append(f"local:{out.dest}")
        elif out.type == "tar":
            assert out.dest is not None
            with open(out.dest, "wb") as f:
                to_tar(source, f)
            digest = str(source.digest)
            exported.append(f"tar:{out.dest}")
    step.finish()
    first = BuildSource(images, oci=True)
    image_id = str(first.image_ids[0]) if len(images) == 1 else str(first.digest)
    if request.iidfile is not None:
        request.iidfile.write_text(image_id)
    if request.metadata_file is not None:
        meta: dict[str, Any] = {"containerimage.config.digest": str(first.image_ids[0])}
        if digest:
            meta["containerimage.digest"] = digest
        if request.tags:
            meta["image.name"] = ",".join(request.tags)
        request.metadata_file.write_text(json.dumps(meta, indent=2) + "\n")
    return BuildResult(tuple(images), digest, image_id, tuple(exported), tuple(warnings))


@dataclass(frozen=True)
class PruneResult:
    steps: int
    reclaimed: int


def prune(store: Store, *, all_steps: bool = False) -> PruneResult:
    """``builder prune``: the build steps whose layers no image uses (``-a``: every step), the unpacked layers no
    longer needed and the cache mounts (``-a``), then the blobs nothing holds."""
    from dockyard.store.gc import collect_garbage
    from dockyard.store.lock import file_lock

    build = store.build_dir
    with file_lock(store.paths.gc_lock, exclusive=True):
        with store.meta.write() as db:
            steps = store.meta.forget_unused_steps(db, all_steps=all_steps)
        reclaimed = collect_garbage(store)
        reclaimed += _prune_snapshots(store, keep_layers=not all_steps)
        if all_steps:
            reclaimed += _remove_tree(build / "cache-mounts")
    return PruneResult(steps, reclaimed)


def _prune_snapshots(store: Store, *, keep_layers: bool) -> int:
    """Remove the unpacked layers (``build/snapshots/``) of layers the store no longer holds (or all of them)."""
    snapshots = store.build_dir / "snapshots"
    if not snapshots.is_dir():
        return 0
    from dockyard.build.runtime import Snapshots

    keep = {row.diff_id for row in store.meta.layers()} if keep_layers else set()
    return Snapshots(snapshots).prune(keep)


def prune_snapshots(store: Store) -> int:
    """After ``image prune``: the unpacked layers of layers gone from the store (no build runs meanwhile: the
    exclusive gc lock waits for them)."""
    from dockyard.store.lock import file_lock

    with file_lock(store.paths.gc_lock, exclusive=True):
        return _prune_snapshots(store, keep_layers=True)


def _remove_tree(path: Path) -> int:
    if not path.exists():
        return 0
    size = sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())
    shutil.rmtree(path, ignore_errors=True)
    return size


__all__ = ["BuildRequest", "BuildResult", "PruneResult", "build", "prune", "prune_snapshots"]
