"""The builder: a Dockerfile and a context turned into one image per platform, step by step as BuildKit's
dockerfile2llb dispatches them, each step looked up in the store's build cache by its key first.

RUN runs in an OCI runtime over an overlay of the layers below (:mod:`dockyard.build.runtime`); COPY, ADD and
WORKDIR write into the same overlay (COPY ``--link`` into an empty one); the overlay's upper directory becomes the
step's layer. Metadata instructions change the config only. The images are returned, not stored: the caller
exports them (:mod:`dockyard.build.export`).
"""

from __future__ import annotations

import contextlib
import os
import posixpath
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dockyard.build import cachekey
from dockyard.build.imagestate import ImageState, LayerRef, go_list, go_plain_list
from dockyard.build.progress import Progress, Step
from dockyard.build.runtime.runc import STEP_PREFIX
from dockyard.build.securepath import make_dirs, scoped_path
from dockyard.errors import BuildError, DockerfileError, DockyardError, ImageNotFound
from dockyard.oci import mediatype
from dockyard.oci import reference as refs
from dockyard.oci.descriptor import Descriptor
from dockyard.oci.digest import Digest
from dockyard.oci.platform import Platform

if TYPE_CHECKING:
    from dockyard.build.context import LocalContext, SourceFile
    from dockyard.build.dockerfile import Dockerfile, Stage
    from dockyard.build.runtime import Mount, Rootfs, Snapshots
    from dockyard.image.base import Image
    from dockyard.store.metadata import CacheRow
    from dockyard.store.store import Store

#: The ARGs every build defines, BuildKit's proxy arguments (usable without an ARG line, kept out of history).
PROXY_ARGS = frozenset(
    {"HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
     "ALL_PROXY", "all_proxy"}
)  # fmt: skip

_LAYER_MEDIA_TYPE = mediatype.OCI_LAYER_GZIP


@dataclass(frozen=True)
class BuildOptions:
    """What ``dockyard build`` was asked (the CLI reads secrets' values and the Dockerfile)."""

    dockerfile: str
    dockerfile_path: str = "Dockerfile"
    platforms: tuple[Platform, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    no_cache_filter: frozenset[str] = frozenset()
    pull: bool = False
    secrets: Mapping[str, bytes] = field(default_factory=dict)
    ssh: Mapping[str, str] = field(default_factory=dict)
    add_hosts: tuple[tuple[str, str], ...] = ()
    network: str = "default"
    epoch: int | None = None
    build_contexts: Mapping[str, str] = field(default_factory=dict)
    insecure: tuple[str, ...] = ()
    runtime: str | None = None  # the OCI runtime of RUN steps: runc or crun (None: $DOCKYARD_RUNTIME, runc, crun)


@dataclass(frozen=True)
class BuiltImage:
    """One platform's result: the config blob and the layers (blobs in the store)."""

    platform: Platform
    config: bytes
    layers: tuple[LayerRef, ...]
    key: str
    ran: int  # steps that ran (not from the cache)
    materials: tuple[tuple[str, str, str], ...] = ()  # the base images used: (name, manifest digest, platform)


@dataclass
class _Stage:
    index: int
    name: str | None
    image: ImageState
    key: str
    platform: Platform
    args: list[tuple[str, str | None]] = field(default_factory=list)
    no_cache: bool = False
    total: int = 0
    count: int = 0
    single: bool = False  # the only stage of its Dockerfile: BuildKit names no stage in the progress
    shown_platform: str = ""  # the platform, in the progress of a build for several

    def label(self) -> str:
        """BuildKit's step prefix: ``[linux/arm64 build 2/5]`` (platform when building several, stage name)."""
        self.count += 1
        width = len(str(self.total))
        head = f"{self.shown_platform} " if self.shown_platform else ""
        head += "" if self.single else f"{self.name or f'stage-{self.index}'} "
        return f"[{head}{self.count:>{width}}/{self.total}]"


def platform_args(build: Platform, target: Platform) -> dict[str, str]:
    """BuildKit's predefined platform ARGs (``TARGETVARIANT`` empty for amd64 and arm64)."""
    out = {}
    for prefix, p in (("BUILD", build), ("TARGET", target)):
        out[f"{prefix}PLATFORM"] = str(p)
        out[f"{prefix}OS"] = p.os
        out[f"{prefix}ARCH"] = p.architecture
        out[f"{prefix}VARIANT"] = p.variant or ""
    return out


def run_command_string(
    args: Sequence[str], build_args: Sequence[tuple[str, str | None]], env: Mapping[str, str]
) -> str:
    """BuildKit's ``runCommandString``: ``|N K=V ... cmd`` naming the stage's ARGs (values from the env)."""
    order: list[str] = []
    values: dict[str, str] = {}
    for k, v in build_args:
        if k not in values:
            order.append(k)
        values[k] = env.get(k, v or "")
    head = [f"|{len(order)}", *(f"{k}={values[k]}" for k in order)] if order else []
    return " ".join([*head, *args])


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String`` for the values a HEALTHCHECK takes."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                text = f"{ns / size:.9f}".rstrip("0").rstrip(".")
                return text + unit
    out = ""
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    if hours:
        out += f"{hours}h"
    if hours or minutes:
        out += f"{minutes}m"
    seconds = f"{rest / 1e9:.9f}".rstrip("0").rstrip(".")
    return out + seconds + "s"


def parse_ports(words: Sequence[str]) -> list[str]:
    """EXPOSE's port specs as ``port/proto`` (ranges expanded), as BuildKit's ``parsePortSpecs``."""
    out: list[str] = []
    for raw in words:
        parts = raw.split(":")
        container = parts[-1]
        port, _, proto = container.partition("/")
        proto = proto.lower() or "tcp"
        if not port:
            raise BuildError(f"no port specified: {raw}<empty>")
        if proto not in ("tcp", "udp", "sctp"):
            raise BuildError(f"invalid proto: {proto}")
        start_text, _, end_text = port.partition("-")
        try:
            start = int(start_text)
            end = int(end_text) if end_text else start
        except ValueError:
            raise BuildError(f"invalid containerPort: {port}") from None
        if not (0 <= start <= 65535 and 0 <= end <= 65535) or end < start:
            raise BuildError(f"invalid containerPort: {port}")
        out.extend(f"{p}/{proto}" for p in range(start, end + 1))
    return out


def parse_mount(text: str) -> dict[str, str]:
    """A ``RUN --mount`` value (CSV ``key=value`` fields; a lone ``rw``/``ro``/``readonly`` is a flag)."""
    import csv

    fields = next(csv.reader([text]), [])
    out: dict[str, str] = {}
    for f in fields:
        key, eq, value = f.partition("=")
        key = key.strip().lower()
        if not eq:
            value = "true"
        aliases = {"dst": "target", "destination": "target", "src": "source", "readonly": "ro", "ro": "ro"}
        out[aliases.get(key, key)] = value
    out.setdefault("type", "bind")
    if out["type"] not in ("bind", "cache", "tmpfs", "secret", "ssh"):
        raise BuildError(f"unsupported mount type {out['type']!r}")
    return out


class Builder:
    """Builds :class:`BuildOptions` for each platform; use as a context manager (it holds the store's gc lock
    shared while it works, so that no prune takes a layer between its step and its image)."""

    def __init__(self, store: Store, options: BuildOptions, context: LocalContext | None, progress: Progress) -> None:
        """``context``: the build context (set later when the builder opens it under its work directory)."""
        self.store = store
        self.options = options
        self._context = context
        self.progress = progress
        self.work = store.build_dir / "work"
        self._snapshots: Snapshots | None = None
        self._stack = contextlib.ExitStack()
        self._consumed: set[str] = set()
        self._emulated: set[str] = set()
        self._seccomp_checked = False
        self._materials: list[tuple[str, str, str]] = []
        self.ran = 0
        self.steps: list[CacheRow] = []  # the cached or made steps of this build, in order (for --cache-to)

    @property
    def context(self) -> LocalContext:
        if self._context is None:
            raise BuildError("the build context is not open yet")
        return self._context

    @context.setter
    def context(self, value: LocalContext) -> None:
        self._context = value

    def __enter__(self) -> Builder:
        import fcntl

        from dockyard.store.lock import file_lock, try_exclusive

        self._stack.enter_context(file_lock(self.store.paths.gc_lock, exclusive=False))
        self.work.mkdir(parents=True, exist_ok=True)
        lock = self.store.build_dir / "work.lock"
        fd = try_exclusive(lock)
        if fd is not None:  # no other build is running: clean what a killed one left (mounts, runc state)
            from dockyard.build.runtime import cleanup_stale

            try:
                cleanup_stale(self.work)
            finally:
                fcntl.flock(fd, fcntl.LOCK_SH)
        else:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
            fcntl.flock(fd, fcntl.LOCK_SH)
        self._stack.callback(os.close, fd)
        return self

    def __exit__(self, *exc: object) -> None:
        self._stack.close()

    # --- the whole build ------------------------------------------------------------------------------------

    def build(self) -> list[BuiltImage]:
        from dockyard.build.dockerfile import parse

        df = parse(self.options.dockerfile, self.options.dockerfile_path)
        platforms = self.options.platforms or (Platform.host(),)
        images = [self._build_platform(df, p, len(platforms) > 1) for p in platforms]
        unused = sorted(set(self.options.build_args) - self._consumed - PROXY_ARGS - {"SOURCE_DATE_EPOCH"})
        if unused:
            self.progress.warn(f"One or more build-args {go_plain_list(unused)} were not consumed")
        return images

    def _meta_args(self, df: Dockerfile, platform: Platform) -> dict[str, str]:
        from dockyard.build.dockerfile import meta_env
        from dockyard.build.emulation import host_platform

        self._consumed.update(k for a in df.meta_args for k, _ in a.pairs if k in self.options.build_args)
        return meta_env(df, self.options.build_args, platform_args(host_platform(), platform))

    def _stage_index(self, df: Dockerfile, name: str, *, numeric: bool = True) -> int | None:
        from dockyard.build.dockerfile import resolve_stage

        return resolve_stage(df, name, numeric=numeric)

    def _build_platform(self, df: Dockerfile, platform: Platform, several: bool) -> BuiltImage:
        from dockyard.build.dockerfile import needed_stages

        meta = self._meta_args(df, platform)
        index = df.stage(self.options.target).index if self.options.target is not None else len(df.stages) - 1
        ran_before = self.ran
        self._materials = []
        stages: dict[int, _Stage] = {}
        for i in needed_stages(df, self.options.target, meta):
            stages[i] = self._build_stage(df, df.stages[i], meta, stages, platform, several)
        final = stages[index]
        labels = dict(self.options.labels)
        config = final.image.config_blob(epoch=self.options.epoch, labels=labels)
        materials = tuple(dict.fromkeys(self._materials))
        return BuiltImage(
            final.platform, config, tuple(final.image.layers), final.key, self.ran - ran_before, materials
        )

    # --- stages ---------------------------------------------------------------------------------------------

    def _build_stage(
        self,
        df: Dockerfile,
        stage: Stage,
        meta: Mapping[str, str],
        done: Mapping[int, _Stage],
        target: Platform,
        several: bool,
    ) -> _Stage:
        from dockyard.build.dockerfile import expand, parse_instruction

        base = expand(stage.base, meta)
        platform = Platform.parse(expand(stage.platform, meta)) if stage.platform else target
        no_cache = self.options.no_cache or (stage.name or "") in self.options.no_cache_filter
        triggers: list[str] = []
        j = self._stage_index(df, base, numeric=False)
        if j is not None and j < stage.index and j in done:
            parent = done[j]
            st = _Stage(stage.index, stage.name, parent.image.clone(), parent.key, parent.platform)
            st.args = list(parent.args)
        elif base == "scratch":
            st = _Stage(stage.index, stage.name, ImageState.scratch(platform), cachekey.key("scratch", str(platform)),
                        platform)  # fmt: skip
        else:
            image, name = self._base_image(base, platform)
            data = image.config().data
            layers = [LayerRef(layer.descriptor(), layer.diff_id(), layer.open) for layer in image.layers()]
            state = ImageState.from_image(platform, data, layers)
            state.base_name, state.base_digest = name, str(image.manifest().digest)
            self._materials.append((name, state.base_digest, str(platform)))
            key = cachekey.key("image", str(image.config().digest), str(platform))
            st = _Stage(stage.index, stage.name, state, key, platform)
            onbuild = data.get("config", {}).get("OnBuild") if isinstance(data.get("config"), dict) else None
            triggers = [str(t) for t in onbuild or []]
            st.image.config.pop("OnBuild", None)
        st.no_cache = no_cache
        st.single = len(df.stages) == 1
        commands = [parse_instruction(t) for t in triggers] + list(stage.commands)
        st.total = len(commands) + 1
        st.shown_platform = str(platform) if several else ""
        step = self.progress.step(f"{st.label()} FROM {base}")
        step.cached() if base != "scratch" else step.finish()
        for cmd in commands:
            self._dispatch(df, st, cmd, meta, done)
        return st

    def _base_image(self, text: str, platform: Platform) -> tuple[Image, str]:
        """The image ``text`` names, for ``platform``: from the store, pulled when missing (or with --pull)."""
        named = self.options.build_contexts.get(text)
        if named is not None and named.startswith("docker-image://"):
            text = named[len("docker-image://") :]
        try:
            ref = refs.parse(text)
        except DockyardError as exc:
            raise BuildError(f"invalid base image reference {text!r}: {exc}") from None
        step = self.progress.step(f"[internal] load metadata for {ref.with_default_tag()}")
        image = None if self.options.pull else self._stored_image(ref, platform)
        if image is None:
            from dockyard.pull import pull

            try:
                pull(self.store, ref, platform=platform, insecure=self.options.insecure)
            except DockyardError as exc:
                step.finish(error=str(exc))
                raise BuildError(f"failed to resolve source metadata for {ref.with_default_tag()}: {exc}") from None
            image = self._stored_image(ref, platform)
        if image is None:
            step.finish(error="not found")
            raise ImageNotFound(f"{ref.familiar()}: no image for {platform}")
        step.finish()
        return image, ref.with_default_tag().familiar()

    def _stored_image(self, ref: refs.Reference, platform: Platform) -> Image | None:
        from dockyard.image.base import select_platform
        from dockyard.oci.index import Index
        from dockyard.store.source import StoreSource
        from dockyard.transport.base import SourceIndex, parse_raw, source_image

        try:
            source = StoreSource(self.store, ref.with_default_tag().familiar() if ref.digest is None else str(ref))
        except ImageNotFound:
            return None
        top = source.top()
        where = ref.familiar()
        try:
            if isinstance(parse_raw(top, where), Index):
                image, _ = select_platform(SourceIndex(source, top, where), platform)
            else:
                image = source_image(source, top, where)
        except DockyardError:
            return None
        got = image.config().platform
        if (got.os, got.architecture) != (platform.os, platform.architecture):
            return None
        return image

    # --- instructions ---------------------------------------------------------------------------------------

    def _env(self, st: _Stage) -> dict[str, str]:
        """The variables an instruction is expanded with, and a RUN runs with: ARGs in scope, then ENV (ENV wins)."""
        env = {k: v for k, v in st.args if v is not None}
        env.update(st.image.env_map())
        return env

    def _dispatch(
        self, df: Dockerfile, st: _Stage, cmd: Any, meta: Mapping[str, str], done: Mapping[int, _Stage]
    ) -> None:
        from dockyard.build.dockerfile import expand, expand_words

        kind = type(cmd).__name__
        img = st.image
        epoch = self.options.epoch
        env = self._env(st)

        def x(word: str) -> str:
            try:
                return expand(word, env, escape=df.escape)
            except DockyardError as exc:
                raise DockerfileError(df.path, cmd.line, str(exc)) from None

        if kind == "Arg":
            texts = []
            for k, v in cmd.pairs:
                value: str | None
                if k in self.options.build_args:
                    value = self.options.build_args[k]
                    self._consumed.add(k)
                elif v is not None:
                    value = x(v)
                elif k in meta:
                    value = meta[k]
                else:
                    value = None
                st.args = [(a, b) for a, b in st.args if a != k] + [(k, value)]
                texts.append(k if value is None else f"{k}={value}")
            img.commit("ARG " + " ".join(texts), epoch=epoch)
        elif kind == "Env":
            texts = []
            for k, v in cmd.pairs:
                key, value = x(k), x(v)
                img.add_env(key, value)
                env[key] = value
                texts.append(f"{key}={value}")
            img.commit("ENV " + " ".join(texts), epoch=epoch)
        elif kind == "Label":
            labels = dict(img.config.get("Labels") or {})
            texts = []
            for k, v in cmd.pairs:
                key, value = x(k), x(v)
                labels[key] = value
                texts.append(f"{key}={value}")
            img.config["Labels"] = labels
            img.commit("LABEL " + " ".join(texts), epoch=epoch)
        elif kind == "Maintainer":
            img.author = cmd.name
            img.commit(f"MAINTAINER {cmd.name}", epoch=epoch)
        elif kind == "User":
            user = x(cmd.user)
            img.config["User"] = user
            img.commit(f"USER {user}", epoch=epoch)
        elif kind == "Expose":
            words = [w for p in cmd.ports for w in expand_words(p, env, escape=df.escape)]
            ports = parse_ports(words)
            exposed = dict(img.config.get("ExposedPorts") or {})
            for p in ports:
                exposed[p] = {}
            img.config["ExposedPorts"] = exposed
            img.commit(f"EXPOSE {go_plain_list(ports)}", epoch=epoch)
        elif kind == "Volume":
            paths = [x(p) for p in cmd.paths]
            if any(p == "" for p in paths):
                raise DockerfileError(df.path, cmd.line, "VOLUME specified can not be an empty string")
            volumes = dict(img.config.get("Volumes") or {})
            for p in paths:
                volumes[p] = {}
            img.config["Volumes"] = volumes
            img.commit(f"VOLUME {go_plain_list(paths)}", epoch=epoch)
        elif kind == "StopSignal":
            signal = x(cmd.signal)
            img.config["StopSignal"] = signal
            img.commit(f"STOPSIGNAL {signal}", epoch=epoch)
        elif kind == "Shell":
            img.config["Shell"] = list(cmd.command)
            img.commit(f"SHELL {go_plain_list(cmd.command)}", epoch=epoch)
        elif kind == "Healthcheck":
            self._healthcheck(img, cmd)
        elif kind in ("Cmd", "Entrypoint"):
            args = list(cmd.command)
            if cmd.shell_form:
                args = [*img.shell, " ".join(args)]
            if kind == "Cmd":
                img.config["Cmd"] = args
                img.config["ArgsEscaped"] = True
                st_cmd_set = True
            else:
                img.config["Entrypoint"] = args
                st_cmd_set = getattr(st, "_cmd_set", False)
                if not st_cmd_set:
                    img.config.pop("Cmd", None)
            if kind == "Cmd":
                st._cmd_set = True  # type: ignore[attr-defined]
            img.commit(f"{kind.upper()} {go_list(args)}", epoch=epoch)
        elif kind == "Onbuild":
            img.config["OnBuild"] = [*(img.config.get("OnBuild") or []), cmd.expression]
        elif kind == "Workdir":
            self._workdir(st, x(cmd.path), cmd)
        elif kind == "Run":
            self._run(df, st, cmd, env, done)
        elif kind in ("Copy", "Add"):
            self._copy(df, st, cmd, env, done, x)
        else:
            raise DockerfileError(df.path, cmd.line, f"unsupported instruction {kind.upper()}")

    def _healthcheck(self, img: ImageState, cmd: Any) -> None:
        if cmd.test is None:
            check: dict[str, Any] = {"Test": ["NONE"]}
        else:
            check = {"Test": list(cmd.test)}
        for name, attr in (("Interval", "interval"), ("Timeout", "timeout"), ("StartPeriod", "start_period"),
                           ("StartInterval", "start_interval")):  # fmt: skip
            value = getattr(cmd, attr)
            if value:
                check[name] = value
        if cmd.retries:
            check["Retries"] = cmd.retries
        img.config["Healthcheck"] = check
        text = (
            f"{{Test:{go_plain_list(check['Test'])} Interval:{go_duration(check.get('Interval', 0))} "
            f"Timeout:{go_duration(check.get('Timeout', 0))} StartPeriod:{go_duration(check.get('StartPeriod', 0))} "
            f"StartInterval:{go_duration(check.get('StartInterval', 0))} Retries:{check.get('Retries', 0)}}}"
        )
        img.commit(f"HEALTHCHECK {text}", epoch=self.options.epoch)

    # --- steps that make layers -----------------------------------------------------------------------------

    def _cached(self, st: _Stage, key: str, step: Step) -> tuple[bool, LayerRef | None]:
        if st.no_cache:
            return False, None
        row = self.store.build_step(key)
        if row is None:
            return False, None
        step.cached()
        st.image.clock = row.created
        self.steps.append(row)
        if row.diff_id is None:
            return True, None
        return True, self._layer_ref(row.diff_id)

    def _layer_ref(self, diff_id: str) -> LayerRef:
        layer = self.store.layer(diff_id)
        if layer is None:
            raise BuildError(f"the build cache names layer {diff_id} that the store does not hold")
        blob = Digest.parse(layer.blob_digest)
        blobs = self.store.blobs
        return LayerRef(
            Descriptor(layer.media_type, blob, layer.compressed_size), Digest.parse(diff_id), lambda: blobs.open(blob)
        )

    def _snapshots_of(self) -> Snapshots:
        if self._snapshots is None:
            from dockyard.build.runtime import Snapshots

            self._snapshots = Snapshots(self.store.build_dir / "snapshots")
        return self._snapshots

    def _lowers(self, layers: Sequence[LayerRef]) -> list[Path]:
        snaps = self._snapshots_of()
        return [snaps.layer(str(layer.diff_id), layer.open) for layer in layers]

    @contextlib.contextmanager
    def _rootfs(self, layers: Sequence[LayerRef]) -> Iterator[Rootfs]:
        from dockyard.build.runtime import overlay

        with overlay(self._lowers(layers), self.work) as rootfs:
            yield rootfs

    def _layer_from(self, rootfs: Rootfs, exclude: Sequence[str] = ()) -> tuple[Path, Digest, Digest] | None:
        """The upper directory as a gzip layer blob in the store's temp dir: (file, digest, diff_id), or None when
        the step changed nothing."""
        from dockyard.build.runtime import diff
        from dockyard.layers.compression import Compression, compress

        tmp = self.store.paths.tmp
        tmp.mkdir(parents=True, exist_ok=True)
        plain = tmp / f"build-{uuid.uuid4().hex}.tar"
        try:
            with open(plain, "w+b") as f:
                result = diff(rootfs.upper, f, exclude=exclude, epoch=self.options.epoch, lowers=rootfs.lowers)
                if result.entries == 0:
                    return None
                f.seek(0)
                blob = tmp / f"build-{uuid.uuid4().hex}.tar.gz"
                with open(blob, "wb") as out:
                    compress(f, out, Compression.GZIP)
        finally:
            plain.unlink(missing_ok=True)
        import hashlib

        h = hashlib.sha256()
        with open(blob, "rb") as g:
            while chunk := g.read(1 << 20):
                h.update(chunk)
        return blob, Digest.parse("sha256:" + h.hexdigest()), Digest.parse(result.diff_id)

    def _record(
        self, st: _Stage, key: str, created_by: str, made: tuple[Path, Digest, Digest] | None
    ) -> LayerRef | None:
        if made is None:
            row = self.store.record_build_step(key, created_by)
            st.image.clock = row.created
            self.steps.append(row)
            return None
        path, digest, diff_id = made
        try:
            row = self.store.record_build_step(key, created_by, layer=(path, digest, diff_id, _LAYER_MEDIA_TYPE))
        finally:
            path.unlink(missing_ok=True)
        st.image.clock = row.created
        self.steps.append(row)
        return self._layer_ref(str(diff_id))

    def _workdir(self, st: _Stage, path: str, cmd: Any) -> None:
        img = st.image
        wd = posixpath.normpath(posixpath.join(img.workdir, path)) if path else img.workdir
        if not wd.startswith("/"):
            wd = "/" + wd
        img.config["WorkingDir"] = wd
        if wd == "/":
            img.commit(f"WORKDIR {wd}", epoch=self.options.epoch)
            return
        user = img.user
        key = cachekey.key("workdir", st.key, wd, user)
        step = self.progress.step(f"{st.label()} WORKDIR {wd}")
        hit, layer = self._cached(st, key, step)
        if not hit:
            with self._rootfs(img.layers) as rootfs:
                uid = gid = 0
                if user:
                    from dockyard.build.runtime import resolve_user

                    uid, gid, _ = resolve_user(rootfs.merged, user)
                make_dirs(rootfs.merged, wd, uid=uid, gid=gid)
                layer = self._record(st, key, f"WORKDIR {wd}", self._layer_from(rootfs))
            self.ran += 1
            step.finish()
        st.key = key
        img.commit(f"WORKDIR {wd}", epoch=self.options.epoch, layer=layer)

    def _run(self, df: Dockerfile, st: _Stage, cmd: Any, env: dict[str, str], done: Mapping[int, _Stage]) -> None:
        from dockyard.build.dockerfile import expand

        img = st.image
        args = list(cmd.command)
        pipes: list[tuple[str, str]] = []  # (name, content) files mounted at /dev/pipes
        if cmd.heredocs:
            doc = cmd.heredocs[0]
            data = doc.content
            if doc.chomp:
                data = re.sub(r"(?m)^\t+", "", data)
            only = len(cmd.heredocs) == 1 and re.fullmatch(r"\s*<<-?\s*['\"]?" + re.escape(doc.name) + r"['\"]?\s*",
                                                           args[0] if args else "")  # fmt: skip
            if only and data.startswith("#!"):
                pipes.append((doc.name, data))
                args = [f"/dev/pipes/{doc.name}"]
            elif only:
                args = [data]
            else:
                text = args[0] if args else ""
                for d in cmd.heredocs:
                    text += "\n" + d.content + d.name
                args = [text]
        if cmd.shell_form and not pipes:
            args = [*img.shell, " ".join(args)]
        elif cmd.shell_form and pipes:
            args = list(args)
        user, cwd = img.user, img.workdir
        run_env = dict(env)
        mounts_spec = [parse_mount(expand(m, env, escape=df.escape)) for m in cmd.mounts]
        network = cmd.network or ("none" if self.options.network == "none" else "host")
        secret_ids = sorted(m.get("id") or posixpath.basename(m.get("target", "")) for m in mounts_spec
                            if m["type"] == "secret")  # fmt: skip
        mount_keys = []
        for m in mounts_spec:
            if m["type"] == "bind":
                mount_keys.append(
                    ["bind", m.get("target"), m.get("source", ""), self._bind_key(m, done, df), m.get("rw", "")]
                )
            elif m["type"] in ("cache", "tmpfs", "ssh"):
                mount_keys.append([m["type"], m.get("target"), m.get("id", ""), m.get("sharing", "")])
        env_list = sorted(f"{k}={v}" for k, v in run_env.items())
        created_by = "RUN " + run_command_string(args, [(k, v) for k, v in st.args if k not in PROXY_ARGS], run_env)
        key = cachekey.key("run", st.key, args, env_list, user, cwd, network, mount_keys, secret_ids,
                           [(n, c) for n, c in pipes], list(self.options.add_hosts))  # fmt: skip
        step = self.progress.step(f"{st.label()} {cmd.original}")
        hit, layer = self._cached(st, key, step)
        if not hit:
            self._ensure_platform(st.platform, step)
            self._check_seccomp()
            layer = self._execute_run(
                df, st, cmd, args, run_env, mounts_spec, network, pipes, key, created_by, step, done
            )
        st.key = key
        img.commit(created_by, epoch=self.options.epoch, layer=layer, ran=True)

    def _check_seccomp(self) -> None:
        """Say once, before the first RUN, when steps will run without a seccomp filter (no profile found)."""
        if self._seccomp_checked:
            return
        self._seccomp_checked = True
        from dockyard.build.runtime.seccomp import missing_reason

        reason = missing_reason()
        if reason is not None:
            self.progress.warn(reason)

    def _ensure_platform(self, platform: Platform, step: Step) -> None:
        key = str(platform)
        if key in self._emulated:
            return
        from dockyard.build.emulation import ensure, needs_emulation

        if needs_emulation(platform):
            ensure(platform, announce=step.status)
        self._emulated.add(key)

    def _bind_key(self, m: Mapping[str, str], done: Mapping[int, _Stage], df: Dockerfile) -> str:
        src = m.get("from")
        if not src:
            files = self.context.resolve([m.get("source", "/") or "/"])
            return self.context.digest(files)
        j = self._stage_index(df, src)
        if j is not None and j in done:
            return done[j].key + ":" + m.get("source", "/")
        return "image:" + src + ":" + m.get("source", "/")

    def _execute_run(
        self,
        df: Dockerfile,
        st: _Stage,
        cmd: Any,
        args: list[str],
        env: dict[str, str],
        mounts_spec: list[dict[str, str]],
        network: str,
        pipes: list[tuple[str, str]],
        key: str,
        created_by: str,
        step: Step,
        done: Mapping[int, _Stage],
    ) -> LayerRef | None:
        from dockyard.build.runtime import Mount, RunSpec, run

        with contextlib.ExitStack() as stack, self._rootfs(st.image.layers) as rootfs:
            side = Path(tempfile.mkdtemp(prefix=STEP_PREFIX, dir=self.work))
            stack.callback(shutil.rmtree, side, True)
            mounts: list[Mount] = []
            targets: list[str] = []
            if pipes:
                pipe_dir = side / "pipes"
                pipe_dir.mkdir()
                for name, content in pipes:
                    (pipe_dir / name).write_text(content)
                    os.chmod(pipe_dir / name, 0o755)
                mounts.append(Mount("/dev/pipes", "bind", str(pipe_dir), ("rbind", "ro")))
            for i, m in enumerate(mounts_spec):
                target = m.get("target", "")
                kind = m["type"]
                if kind == "secret":
                    sid = m.get("id") or posixpath.basename(target)
                    value = self.options.secrets.get(sid)
                    if value is None:
                        if m.get("required", "false").lower() == "true":
                            raise BuildError(f"secret {sid} not found")
                        continue
                    if m.get("env"):
                        env[m["env"]] = value.decode("utf-8", "replace")
                        if not target:
                            continue
                    target = target or f"/run/secrets/{sid}"
                    sfile = side / f"secret-{i}"
                    sfile.write_bytes(value)
                    os.chmod(sfile, int(m.get("mode", "0400"), 8))
                    os.chown(sfile, int(m.get("uid", "0")), int(m.get("gid", "0")))
                    mounts.append(Mount(target, "bind", str(sfile), ("rbind", "ro")))
                elif kind == "ssh":
                    sid = m.get("id") or "default"
                    sock = self.options.ssh.get(sid)
                    if sock is None:
                        if m.get("required", "false").lower() == "true":
                            raise BuildError(f"no SSH key {sid} forwarded from the client")
                        continue
                    target = target or f"/run/buildkit/ssh_agent.{i}"
                    mounts.append(Mount(target, "bind", sock, ("rbind",)))
                    env.setdefault("SSH_AUTH_SOCK", target)
                elif kind == "tmpfs":
                    opts = ("nosuid", "nodev") + ((f"size={m['size']}",) if m.get("size") else ())
                    mounts.append(Mount(target, "tmpfs", "tmpfs", opts))
                elif kind == "cache":
                    cid = m.get("id") or target
                    cdir = self.store.build_dir / "cache-mounts" / cachekey.key("cache-mount", cid)[7:23]
                    if not cdir.exists():
                        cdir.mkdir(parents=True, exist_ok=True)
                        os.chmod(cdir, int(m.get("mode", "0755"), 8))
                        os.chown(cdir, int(m.get("uid", "0")), int(m.get("gid", "0")))
                    mounts.append(Mount(target, "bind", str(cdir), ("rbind", "rw")))
                elif kind == "bind":
                    source = self._bind_source(m, stack, done, df, side, i, st.platform)
                    ro = m.get("rw", "false").lower() != "true"
                    mounts.append(Mount(target, "bind", str(source), ("rbind", "ro" if ro else "rw")))
                if target:
                    targets.append(target)
            exclude = self._new_paths(rootfs.merged, targets)
            spec = RunSpec(
                args=tuple(args),
                env=tuple(f"{k}={v}" for k, v in env.items()),
                cwd=st.image.workdir,
                user=st.image.user,
                network=network,
                extra_hosts=self.options.add_hosts,
                mounts=tuple(mounts),
            )
            state = side / "state"
            state.mkdir()
            tail = _Tail()

            def output(data: bytes) -> None:
                tail.add(data)
                step.log(data)

            code = run(spec, rootfs, output=output, state_dir=state, runtime=self.options.runtime)
            if code != 0:
                failed = f"process {_quote_args(args)} did not complete successfully: exit code: {code}"
                step.finish(error=failed)
                shown = "".join(f"\n  > {line}" for line in tail.lines())
                raise BuildError(f"{df.path}:{cmd.line}: {cmd.original}: {failed}" + (
                    f"\nits last output:{shown}" if shown else ""))  # fmt: skip
            layer = self._record(st, key, created_by, self._layer_from(rootfs, exclude))
        self.ran += 1
        step.finish()
        return layer

    @staticmethod
    def _new_paths(root: Path, targets: Sequence[str]) -> list[str]:
        """Mount points (and their parents) that the runtime would create in the upper dir: not for the layer."""
        out: set[str] = set()
        for t in targets:
            current = "/"
            for part in [p for p in posixpath.normpath("/" + t).split("/") if p]:
                current = posixpath.join(current, part)
                if not os.path.lexists(scoped_path(root, current)):
                    out.add(current)
        return sorted(out)

    def _bind_source(
        self, m: Mapping[str, str], stack: contextlib.ExitStack, done: Mapping[int, _Stage], df: Dockerfile, side: Path,
        i: int, platform: Platform,
    ) -> Path:  # fmt: skip
        src = m.get("from")
        source = m.get("source", "/") or "/"
        if not src:
            root = self.context.root
        else:
            j = self._stage_index(df, src)
            layers = done[j].image.layers if j is not None and j in done else self._image_layers(src, platform)
            root = stack.enter_context(self._rootfs(layers)).merged
        path = scoped_path(root, source)
        if not path.exists():
            raise BuildError(f'failed to compute cache key: "/{source.lstrip("/")}": not found')
        if m.get("rw", "false").lower() == "true":  # writes are discarded: bind a copy
            copy = side / f"bind-{i}"
            if path.is_dir():
                shutil.copytree(path, copy, symlinks=True)
            else:
                shutil.copy2(path, copy)
            return copy
        return path

    def _image_layers(self, text: str, platform: Platform) -> list[LayerRef]:
        image, _ = self._base_image(text, platform)
        return [LayerRef(layer.descriptor(), layer.diff_id(), layer.open) for layer in image.layers()]

    def _copy(
        self,
        df: Dockerfile,
        st: _Stage,
        cmd: Any,
        env: dict[str, str],
        done: Mapping[int, _Stage],
        x: Callable[[str], str],
    ) -> None:
        from dockyard.build.context import LocalContext, fetch_url, is_git_url, open_context
        from dockyard.build.fscopy import copy_into, is_archive, unpack_into, write_heredoc

        img = st.image
        is_add = type(cmd).__name__ == "Add"
        word = "ADD" if is_add else "COPY"
        sources = [x(s) for s in cmd.sources]
        dest = x(cmd.dest)
        chown = x(cmd.chown) if cmd.chown else None
        chmod = x(cmd.chmod) if cmd.chmod else None
        mode: int | None = None
        if chmod is not None:
            try:
                mode = int(chmod, 8)
            except ValueError:
                mode = -1
            if not 0 <= mode <= 0o7777:
                raise DockerfileError(
                    df.path,
                    cmd.line,
                    f"invalid chmod parameter: '{chmod}'. it should be octal string and between 0 and 07777",
                )
        excludes = [x(e) for e in cmd.excludes]
        link = bool(cmd.link)
        from_ = x(cmd.from_) if getattr(cmd, "from_", None) else None
        checksum = getattr(cmd, "checksum", None)
        with contextlib.ExitStack() as stack:
            gits = [s for s in sources if is_add and is_git_url(s)]
            urls = [s for s in sources if is_add and re.match(r"https?://", s) and s not in gits]
            local = [s for s in sources if s not in urls and s not in gits]
            files: list[SourceFile] = []
            digests: list[str] = []
            archives: list[SourceFile] = []
            if local:
                ctx = self._copy_context(from_, stack, done, df, st.platform)
                try:
                    found = ctx.resolve(local, excludes=excludes)
                except BuildError as exc:
                    raise BuildError(f"{df.path}:{cmd.line}: {exc}") from None
                if is_add and getattr(cmd, "unpack", None) is not False:
                    for f in found:
                        if f.path.is_file() and is_archive(f.path):
                            archives.append(f)
                        else:
                            files.append(f)
                else:
                    files = list(found)
                digests.append(ctx.digest(found))
            for url in gits:
                tmp = Path(tempfile.mkdtemp(prefix=f"{STEP_PREFIX}add-git-", dir=self.work))
                stack.callback(shutil.rmtree, tmp, True)
                repo, _ = open_context(url, tmp)
                found_git = repo.resolve(["."])
                files.extend(found_git)
                digests.append(repo.digest(found_git))
            for url in urls:
                tmp = Path(tempfile.mkdtemp(prefix=f"{STEP_PREFIX}add-", dir=self.work))
                stack.callback(shutil.rmtree, tmp, True)
                fetched = fetch_url(url, tmp, checksum=checksum)
                files.append(fetched)
                digests.append(LocalContext(fetched.path.parent).digest([fetched]))
            heredocs = [(d.name, _expand_heredoc(d.content, env, df.escape) if d.expand else d.content, d.chomp)
                        for d in cmd.heredocs]  # fmt: skip
            created = f"{word}"
            if getattr(cmd, "parents", False):
                created += " --parents"
            if chown:
                created += f" --chown={chown}"
            if chmod:
                created += f" --chmod={chmod}"
            created += "".join(f" {s}" for s in cmd.sources) + "".join(f" <<{n}" for n, _, _ in heredocs)
            created += f" {cmd.dest}"
            parent = None if link else st.key
            key = cachekey.key(word.lower(), parent, digests, dest, img.workdir, chown, chmod, excludes, heredocs,
                               [a.rel for a in archives], str(st.platform) if link else "")  # fmt: skip
            step = self.progress.step(f"{st.label()} {cmd.original}")
            hit, layer = self._cached(st, key, step)
            if not hit:
                # the context's files are root's (BuildKit's file sync resets owners); a stage's keep theirs
                owner: tuple[int, int] | None = (0, 0) if from_ is None else None
                if chown:
                    owner = self._owner(chown, img.layers)
                with self._rootfs([] if link else img.layers) as rootfs:
                    if files:
                        copy_into(rootfs.merged, files, dest, workdir=img.workdir, chown=owner, chmod=mode,
                                  epoch=self.options.epoch)  # fmt: skip
                    for name, content, chomp in heredocs:
                        text = re.sub(r"(?m)^\t+", "", content) if chomp else content
                        write_heredoc(rootfs.merged, name, text, dest, workdir=img.workdir, chown=owner, chmod=mode)
                    for arc in archives:
                        unpack_into(rootfs.merged, arc.path, dest, workdir=img.workdir, chown=owner,
                                    epoch=self.options.epoch)  # fmt: skip
                    layer = self._record(st, key, created + " # buildkit", self._layer_from(rootfs))
                self.ran += 1
                step.finish()
        st.key = cachekey.chain(st.key, key) if link else key
        img.commit(created, epoch=self.options.epoch, layer=layer, ran=True)

    def _owner(self, chown: str, layers: Sequence[LayerRef]) -> tuple[int, int]:
        user, _, group = chown.partition(":")
        if user.isdigit() and (not group or group.isdigit()):
            return int(user), int(group or user)
        from dockyard.build.runtime import resolve_user

        with self._rootfs(layers) as rootfs:
            uid, gid, _ = resolve_user(rootfs.merged, chown)
        return uid, gid

    def _copy_context(
        self,
        from_: str | None,
        stack: contextlib.ExitStack,
        done: Mapping[int, _Stage],
        df: Dockerfile,
        platform: Platform,
    ) -> LocalContext:
        from dockyard.build.context import LocalContext

        if from_ is None:
            return self.context
        j = self._stage_index(df, from_)
        if j is not None and j in done:
            return LocalContext(stack.enter_context(self._rootfs(done[j].image.layers)).merged)
        named = self.options.build_contexts.get(from_)
        if named is not None and not named.startswith("docker-image://"):
            return LocalContext(Path(named))
        return LocalContext(stack.enter_context(self._rootfs(self._image_layers(from_, platform))).merged)


class _Tail:
    """The last lines a step printed (for the error of a failing RUN)."""

    def __init__(self, keep: int = 10) -> None:
        self.keep = keep
        self.buf = b""

    def add(self, data: bytes) -> None:
        self.buf = (self.buf + data)[-16384:]

    def lines(self) -> list[str]:
        text = self.buf.decode("utf-8", "replace").rstrip("\n")
        return text.splitlines()[-self.keep :] if text else []


def _expand_heredoc(content: str, env: Mapping[str, str], escape: str) -> str:
    """An unquoted heredoc's body with its variables substituted, its quotes kept (BuildKit's SkipProcessQuotes)."""
    from dockyard.build.dockerfile.shell import Lexer

    return Lexer(env, escape=escape, raw_quotes=True).process(content)[0]


def _quote_args(args: Sequence[str]) -> str:
    from dockyard.compat.gostrconv import go_quote

    return go_quote(" ".join(args))


__all__ = [
    "PROXY_ARGS",
    "BuildOptions",
    "Builder",
    "BuiltImage",
    "go_duration",
    "parse_mount",
    "parse_ports",
    "platform_args",
    "run_command_string",
]
