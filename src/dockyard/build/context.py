"""Build contexts: a local directory seen through ``.dockerignore``, COPY/ADD source resolution as BuildKit does
it (paths and symlinks scoped to the context root, wildcards per ``filepath.Match``), the content digest that
keys the cache, and contexts that come from stdin, git or an HTTP tarball."""

from __future__ import annotations

import bz2
import email.utils
import hashlib
import lzma
import os
import posixpath
import re
import shutil
import stat
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from dockyard.build.ignore import IgnoreRules, go_clean, go_match, has_wildcards
from dockyard.build.securepath import scoped_path
from dockyard.errors import BuildError, DockyardError
from dockyard.layers.unpack import unpack


@dataclass(frozen=True)
class SourceFile:
    """One COPY/ADD source after wildcard expansion.

    ``rel`` is the entry's path in the context as named (``''`` for the root), ``path`` where it is on disk
    after following symlinks inside the root, ``dest_name`` the name it takes under a directory destination
    (``''`` when it is a directory whose contents are copied). For a directory, ``members`` lists the
    '/'-separated paths below it that are copied (what ``.dockerignore`` and ``--exclude`` leave), parents first.
    """

    rel: str
    path: Path
    dest_name: str
    members: tuple[str, ...] | None = None

    @property
    def is_dir(self) -> bool:
        return self.members is not None


def not_found(rel: str) -> BuildError:
    """BuildKit's error for a source that is not in the context."""
    return BuildError(f'failed to compute cache key: failed to calculate checksum of ref: "/{rel}": not found')


def _rel_to(root: Path, path: Path) -> str:
    rel = os.path.relpath(path, root)
    return "" if rel == "." else rel.replace(os.sep, "/")


class LocalContext:
    """A directory build context; ``ignore`` (settable: it depends on the Dockerfile) hides files.

    Files of a build context reach the builder as owned by 0:0 (BuildKit's file sync resets owners), so the
    digest leaves owners out unless ``keep_owners`` (a stage's root file system used as a COPY source).
    """

    def __init__(self, root: Path, ignore: IgnoreRules | None = None, *, keep_owners: bool = False) -> None:
        self.root = Path(root)
        self.ignore = ignore if ignore is not None else IgnoreRules()
        self.keep_owners = keep_owners

    # -- visibility -------------------------------------------------------------------------------------------
    def _visible(self, rel: str, is_dir: bool) -> bool:
        if not rel or not self.ignore.ignored(rel):
            return True
        if not is_dir or not self.ignore.exclusions:
            return False
        return any(True for _ in self._walk(rel, ()))

    def _walk(self, rel: str, excludes: Sequence[str]) -> Iterator[str]:
        """Visible entries below the directory ``rel`` (paths relative to it), parents before children, sorted;
        ``excludes`` are matched against those relative paths."""
        ex = IgnoreRules(excludes) if excludes else None
        yield from self._walk_dir(self.root / rel if rel else self.root, rel, "", ex)

    def _walk_dir(self, directory: Path, rel: str, sub: str, ex: IgnoreRules | None) -> Iterator[str]:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            return
        for name in names:
            child_sub = f"{sub}/{name}" if sub else name
            child_rel = f"{rel}/{name}" if rel else name
            full = directory / name
            is_dir = stat.S_ISDIR(os.lstat(full).st_mode)
            hidden = (self.ignore and self.ignore.ignored(child_rel)) or (ex is not None and ex.ignored(child_sub))
            if not hidden:
                yield child_sub
                if is_dir:
                    yield from self._walk_dir(full, child_rel, child_sub, ex)
            elif is_dir and ((self.ignore and self.ignore.exclusions) or (ex is not None and ex.exclusions)):
                inner = list(self._walk_dir(full, child_rel, child_sub, ex))
                if inner:
                    yield child_sub
                    yield from inner

    # -- resolution -------------------------------------------------------------------------------------------
    def resolve(
        self,
        patterns: Sequence[str],
        *,
        excludes: Sequence[str] = (),
        follow_links: bool = True,
        parents: bool = False,
    ) -> list[SourceFile]:
        """The entries COPY/ADD ``patterns`` select, in order; BuildError "not found" for a missing source or a
        wildcard that matches nothing (ignored files count as missing). ``excludes`` (``--exclude``) drop
        matches by their context path and directory members by their path below the directory. With
        ``parents`` (``COPY --parents``) ``dest_name`` is the path below the context root, or below a ``/./``
        pivot in the pattern, for directories as well."""
        out: list[SourceFile] = []
        ex = IgnoreRules(excludes) if excludes else None
        for pattern in patterns:
            clean = go_clean("/" + pattern).lstrip("/")
            pivot = ""
            trimmed = pattern.lstrip("/")
            while trimmed.startswith("./"):
                trimmed = trimmed[2:]
            if parents and "/./" in trimmed:
                pivot = go_clean("/" + trimmed.split("/./", 1)[0]).lstrip("/")
            matches = self._expand(clean, follow_links)
            if not matches:
                raise not_found(clean)
            for rel in matches:
                if ex is not None and rel and ex.ignored(rel):
                    continue
                src = self._source(rel, follow_links, excludes)
                if parents:
                    below = rel[len(pivot) :].lstrip("/") if pivot and (rel + "/").startswith(pivot + "/") else rel
                    src = SourceFile(src.rel, src.path, below, src.members)
                out.append(src)
        return out

    def _expand(self, clean: str, follow_links: bool) -> list[str]:
        parts = clean.split("/") if clean else []
        idx = next((i for i, p in enumerate(parts) if has_wildcards(p)), None)
        if idx is None:
            path = scoped_path(self.root, clean, follow_final=follow_links)
            try:
                st = os.stat(path) if follow_links else os.lstat(path)
            except OSError:
                return []
            real_rel = _rel_to(self.root, path)
            if not self._visible(real_rel, stat.S_ISDIR(st.st_mode)):
                return []
            return [clean]
        fixed = "/".join(parts[:idx])
        wild = "/".join(parts[idx:])
        base = scoped_path(self.root, fixed)
        if not base.is_dir():
            return []
        base_rel = _rel_to(self.root, base)
        found: list[str] = []

        def walk(directory: Path, sub: str) -> None:
            try:
                names = sorted(os.listdir(directory))
            except OSError:
                return
            for name in names:
                child_sub = f"{sub}/{name}" if sub else name
                full = directory / name
                is_dir = stat.S_ISDIR(os.lstat(full).st_mode)
                real_rel = f"{base_rel}/{child_sub}" if base_rel else child_sub
                if go_match(wild, child_sub):
                    if self._visible(real_rel, is_dir):
                        found.append(f"{fixed}/{child_sub}" if fixed else child_sub)
                    continue
                if is_dir:
                    walk(full, child_sub)

        walk(base, "")
        return found

    def _source(self, rel: str, follow_links: bool, excludes: Sequence[str]) -> SourceFile:
        path = scoped_path(self.root, rel, follow_final=follow_links)
        name = rel.rsplit("/", 1)[-1]
        st = os.stat(path) if follow_links else os.lstat(path)
        if stat.S_ISDIR(st.st_mode):
            real_rel = _rel_to(self.root, path)
            return SourceFile(rel, path, "", tuple(self._walk(real_rel, excludes)))
        return SourceFile(rel, path, name)

    # -- digest -----------------------------------------------------------------------------------------------
    def digest(self, files: Sequence[SourceFile]) -> str:
        """``sha256:`` over names, types, modes, owners, link targets and contents (not times) of ``files``."""
        h = hashlib.sha256()
        for f in files:
            h.update(f"source\0{f.rel}\0{f.dest_name}\0".encode("utf-8", "surrogateescape"))
            _hash_entry(h, f.path, "", self.keep_owners)
            for member in f.members or ():
                _hash_entry(h, f.path / member, member, self.keep_owners)
        return "sha256:" + h.hexdigest()


def _hash_entry(h: hashlib._Hash, path: Path, name: str, owners: bool) -> None:
    st = os.lstat(path)
    owner = f"{st.st_uid}\0{st.st_gid}" if owners else "\0".join(("0", "0"))
    head = f"{name}\0{st.st_mode:o}\0{owner}\0"
    h.update(head.encode("utf-8", "surrogateescape"))
    if stat.S_ISLNK(st.st_mode):
        h.update(os.fsencode(os.readlink(path)) + b"\0")
    elif stat.S_ISREG(st.st_mode):
        fh = hashlib.sha256()
        with open(path, "rb") as src:
            while chunk := src.read(1 << 20):
                fh.update(chunk)
        h.update(fh.digest())
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        h.update(f"{os.major(st.st_rdev)},{os.minor(st.st_rdev)}\0".encode())


# -- remote contexts ---------------------------------------------------------------------------------------------

_GIT_URL_SUFFIX = re.compile(r"\.git(?:#.+)?$")


def is_git_url(spec: str) -> bool:
    """Docker's ``IsGitURL``: ``git://``, ``git@``, ``github.com/``, ``ssh://`` or an http(s) URL ending in ``.git``."""
    if is_url(spec) and _GIT_URL_SUFFIX.search(spec):
        return True
    return spec.startswith(("git://", "github.com/", "git@", "ssh://"))


def is_url(spec: str) -> bool:
    return spec.startswith(("http://", "https://"))


def open_archive(path: Path) -> BinaryIO:
    """``path`` opened with bzip2 or xz undone (gzip and zstd are undone by the layer reader)."""
    with open(path, "rb") as f:
        head = f.read(6)
    if head.startswith(b"BZh"):
        return bz2.open(path, "rb")  # type: ignore[return-value]
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # gzip and zstd are undone by the layer reader


def is_tar_archive(path: Path) -> bool:
    """Whether ``path`` is a tar, plain or gzip/bzip2/xz/zstd compressed (BuildKit's ``isArchivePath``)."""
    from dockyard.layers.compression import open_decompressed

    try:
        if not stat.S_ISREG(os.lstat(path).st_mode):
            return False
    except OSError:
        return False
    try:
        with open_archive(path) as raw:
            stream = open_decompressed(raw)
            block = stream.read(512)
    except (OSError, EOFError, lzma.LZMAError, DockyardError, ValueError):
        return False
    if len(block) < 512:
        return False
    try:
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def extract_archive(archive: Path, dest: Path) -> None:
    """Unpack the tar ``archive`` into the existing directory ``dest`` safely (nothing lands outside it)."""
    dest.mkdir(parents=True, exist_ok=True)
    try:
        unpack([lambda: open_archive(archive)], dest)
    except DockyardError as e:
        raise BuildError(f"unpacking the build context: {e}") from None


def _spool(src: BinaryIO, dest: Path) -> None:
    with open(dest, "wb") as out:
        shutil.copyfileobj(src, out, 1 << 20)


def _fresh(work: Path, name: str) -> Path:
    path = work / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


def _archive_or_dockerfile(download: Path, work: Path) -> tuple[LocalContext, Path | None]:
    if is_tar_archive(download):
        root = _fresh(work, "context")
        extract_archive(download, root)
        download.unlink()
        return LocalContext(root), None
    root = _fresh(work, "context")
    dockerfile = work / "Dockerfile"
    download.replace(dockerfile)
    return LocalContext(root), dockerfile


def _url_name(url: str) -> str:
    base = posixpath.basename(urlsplit(url).path)
    return base if base not in ("", ".", "/") else "__unnamed__"


def fetch_url(url: str, work: Path, *, checksum: str | None = None) -> SourceFile:
    """``ADD <url>``: the file downloaded under ``work``, named after the URL's last path segment, mode 0600,
    its mtime from ``Last-Modified``; ``checksum`` (``sha256:...``) is verified ("digest mismatch")."""
    import httpx

    algo, want = None, None
    if checksum:
        algo, _, want = checksum.partition(":")
        if algo not in ("sha256", "sha384", "sha512") or not want:
            raise BuildError(f"invalid checksum digest format: {checksum}")
    name = _url_name(url)
    folder = work / ("url-" + hashlib.sha256(url.encode()).hexdigest()[:16])
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    h = hashlib.new(algo or "sha256")
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as resp:
            if resp.status_code != 200:
                raise BuildError(f"failed to load {url}: invalid response status {resp.status_code}")
            modified = resp.headers.get("Last-Modified")
            with open(target, "wb") as out:
                for chunk in resp.iter_bytes(1 << 20):
                    h.update(chunk)
                    out.write(chunk)
    except httpx.HTTPError as e:
        raise BuildError(f"failed to load {url}: {e}") from None
    actual = f"{algo or 'sha256'}:{h.hexdigest()}"
    if checksum and actual != checksum:
        target.unlink()
        raise BuildError(f"digest mismatch {actual}: {checksum}")
    os.chmod(target, 0o600)
    if modified:
        try:
            when = email.utils.parsedate_to_datetime(modified).timestamp()
            os.utime(target, (when, when))
        except (TypeError, ValueError):
            pass
    return SourceFile(name, target, name)


def _git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true", GIT_CONFIG_NOSYSTEM="1")
    return subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, check=False)


def split_git_fragment(spec: str) -> tuple[str, str, str]:
    """``url#ref:subdir`` -> (url, ref, subdir); ``github.com/x/y`` gains ``https://``."""
    url, _, fragment = spec.partition("#")
    ref, _, subdir = fragment.partition(":")
    if url.startswith("github.com/"):
        url = "https://" + url
    return url, ref, subdir


def _git_context(spec: str, work: Path) -> LocalContext:
    if shutil.which("git") is None:
        raise BuildError("a git build context needs git: install the Debian package git")
    url, ref, subdir = split_git_fragment(spec)
    repo = _fresh(work, "git")
    steps: list[list[str]] = [["init", "-q"], ["remote", "add", "origin", url]]
    for step in steps:
        r = _git(step, repo)
        if r.returncode:
            raise BuildError(f"git {' '.join(step)}: {r.stderr.strip()}")
    wanted = ref or "HEAD"
    fetched = _git(["fetch", "-q", "--depth", "1", "--no-tags", "origin", wanted], repo)
    if fetched.returncode:
        full = _git(["fetch", "-q", "--tags", "origin"], repo)
        if full.returncode:
            raise BuildError(f"failed to fetch {url}: {(fetched.stderr or full.stderr).strip()}")
        target = ref or "origin/HEAD"
        checkout = _git(["checkout", "-q", "--detach", target], repo)
    else:
        checkout = _git(["checkout", "-q", "--detach", "FETCH_HEAD"], repo)
    if checkout.returncode:
        raise BuildError(f"failed to check out {wanted} of {url}: {checkout.stderr.strip()}")
    sub = _git(["submodule", "update", "--init", "--recursive", "--depth", "1"], repo)
    if sub.returncode:
        raise BuildError(f"failed to update submodules of {url}: {sub.stderr.strip()}")
    shutil.rmtree(repo / ".git", ignore_errors=True)
    root = repo
    if subdir:
        root = scoped_path(repo, subdir)
        if not root.is_dir():
            raise BuildError(f"subdirectory {subdir!r} of {url} is not a directory")
    return LocalContext(root)


def _http_context(url: str, work: Path) -> tuple[LocalContext, Path | None]:
    import httpx

    work.mkdir(parents=True, exist_ok=True)
    download = work / "download"
    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as resp:
            if resp.status_code != 200:
                raise BuildError(f"failed to fetch {url}: {resp.status_code} {resp.reason_phrase}")
            with open(download, "wb") as out:
                for chunk in resp.iter_bytes(1 << 20):
                    out.write(chunk)
    except httpx.HTTPError as e:
        raise BuildError(f"failed to fetch {url}: {e}") from None
    return _archive_or_dockerfile(download, work)


def open_context(spec: str, work: Path, *, stdin: BinaryIO | None = None) -> tuple[LocalContext, Path | None]:
    """The context named by ``spec`` (a directory, ``-``, a git URL, an http(s) tarball) and, when ``spec``
    gave a Dockerfile instead of a context (stdin or a URL of a text file), where that Dockerfile was written.
    Remote contexts are unpacked or cloned under ``work``; set ``.ignore`` on the result once the Dockerfile
    is known."""
    work = Path(work)
    if spec == "-":
        if stdin is None:
            raise BuildError("context '-' needs standard input")
        work.mkdir(parents=True, exist_ok=True)
        download = work / "stdin"
        _spool(stdin, download)
        return _archive_or_dockerfile(download, work)
    if is_git_url(spec):
        return _git_context(spec, work), None
    if is_url(spec):
        return _http_context(spec, work)
    root = Path(spec)
    if not root.is_dir():
        raise BuildError(f"unable to prepare context: path {spec!r} not found")
    return LocalContext(root.resolve()), None
