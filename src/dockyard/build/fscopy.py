"""COPY/ADD applied to a root directory with BuildKit's (fsutil's) semantics: where each source lands, parents
created 0755, ``--chown``/``--chmod``, symlinks in the destination path resolved inside the root, replaced
files, hard links kept within one copy."""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Sequence
from pathlib import Path

from dockyard.build.context import SourceFile, extract_archive, is_tar_archive
from dockyard.build.securepath import scoped_path
from dockyard.errors import BuildError


def _dest_rel(dest: str, workdir: str) -> tuple[str, bool]:
    """The destination relative to the root and whether it names a directory (trailing ``/``, ``.``)."""
    joined = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    is_dir = joined.endswith("/") or joined.endswith("/.") or dest in (".", "")
    clean = posixpath.normpath("/" + joined).lstrip("/")
    return ("" if clean == "." else clean), is_dir


def _set_time(path: Path, st: os.stat_result | None, epoch: int | None) -> None:
    if st is None:
        if epoch is None:
            return
        ns = epoch * 10**9
        os.utime(path, ns=(ns, ns), follow_symlinks=False)
        return
    mtime = st.st_mtime_ns
    atime = st.st_atime_ns
    if epoch is not None:
        mtime = min(mtime, epoch * 10**9)
        atime = mtime
    os.utime(path, ns=(atime, mtime), follow_symlinks=False)


def _mkdir_all(root: Path, rel: str, chown: tuple[int, int] | None, created: list[Path]) -> Path:
    """Create ``rel`` and its missing parents (0755, owned by ``chown`` or root) inside ``root``, following
    symlinks as if ``root`` were ``/``; returns the real directory."""
    path = scoped_path(root, rel)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        st = None
    except NotADirectoryError:
        raise BuildError(f"mkdir /{rel}: not a directory") from None
    if st is not None:
        if not stat.S_ISDIR(st.st_mode):
            raise BuildError(f"mkdir /{rel}: not a directory")
        return path
    real = os.path.relpath(path, root).replace(os.sep, "/")
    parent = posixpath.dirname(real)
    if parent:
        _mkdir_all(root, parent, chown, created)
    os.mkdir(path, 0o755)
    os.chmod(path, 0o755)
    uid, gid = chown if chown is not None else (0, 0)
    _lchown(path, uid, gid)
    created.append(path)
    return path


def _lchown(path: Path, uid: int, gid: int) -> None:
    try:
        os.lchown(path, uid, gid)
    except PermissionError:
        if os.geteuid() == 0:
            raise


def _copy_xattrs(src: Path, dst: Path) -> None:
    try:
        names = os.listxattr(src, follow_symlinks=False)
    except OSError:
        return
    for name in names:
        try:
            os.setxattr(dst, name, os.getxattr(src, name, follow_symlinks=False), follow_symlinks=False)
        except OSError:
            continue


def _remove_for_file(dst: Path) -> None:
    try:
        st = os.lstat(dst)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        raise BuildError(f"cannot replace to directory {dst} with file")
    os.unlink(dst)


class _Copier:
    def __init__(self, chown: tuple[int, int] | None, chmod: int | None, epoch: int | None) -> None:
        self.chown = chown
        self.chmod = chmod
        self.epoch = epoch
        self.inodes: dict[tuple[int, int], Path] = {}

    def _meta(self, src_st: os.stat_result, src: Path, dst: Path) -> None:
        uid, gid = self.chown if self.chown is not None else (src_st.st_uid, src_st.st_gid)
        _lchown(dst, uid, gid)
        if not stat.S_ISLNK(src_st.st_mode):
            mode = self.chmod if self.chmod is not None else stat.S_IMODE(src_st.st_mode)
            os.chmod(dst, mode)
        _copy_xattrs(src, dst)
        _set_time(dst, src_st, self.epoch)

    def entry(self, src: Path, dst: Path) -> bool:
        """Copy one entry (a directory: only create it); whether ``dst`` was created."""
        st = os.lstat(src)
        mode = st.st_mode
        if stat.S_ISDIR(mode):
            try:
                dst_st = os.lstat(dst)
            except FileNotFoundError:
                os.mkdir(dst, 0o700)
                return True
            if not stat.S_ISDIR(dst_st.st_mode):
                raise BuildError(f"cannot copy to non-directory: {dst}")
            return False
        if st.st_nlink > 1:
            key = (st.st_dev, st.st_ino)
            first = self.inodes.get(key)
            if first is not None:
                _remove_for_file(dst)
                os.link(first, dst)
                return True
            self.inodes[key] = dst
        _remove_for_file(dst)
        if stat.S_ISREG(mode):
            with open(src, "rb") as fin, open(dst, "xb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)
        elif stat.S_ISLNK(mode):
            os.symlink(os.readlink(src), dst)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode) or stat.S_ISFIFO(mode):
            os.mknod(dst, mode, st.st_rdev)
        elif stat.S_ISSOCK(mode):
            return False
        self._meta(st, src, dst)
        return True

    def dir_meta(self, src: Path, dst: Path) -> None:
        self._meta(os.lstat(src), src, dst)


def copy_into(
    root: Path,
    files: Sequence[SourceFile],
    dest: str,
    *,
    workdir: str,
    chown: tuple[int, int] | None,
    chmod: int | None,
    epoch: int | None = None,
) -> None:
    """Copy ``files`` to ``dest`` (relative to ``workdir``) inside ``root`` as BuildKit's COPY does.

    A destination ending in ``/`` (or several sources) is a directory; a source directory's contents are copied
    into it; created parents are 0755 and owned by ``chown`` (root without it); copied entries keep their
    owner unless ``chown`` is given (pass ``(0, 0)`` for a local context, as Docker does) and their mode unless
    ``chmod`` is; modification times are kept, clamped to ``epoch`` when given.
    """
    root = Path(root)
    rel, dest_is_dir = _dest_rel(dest, workdir)
    if len(files) > 1 or any(_with_parents(f) for f in files):
        dest_is_dir = True
    created: list[Path] = []
    if dest_is_dir:
        target = _mkdir_all(root, rel, chown, created)
    else:
        _mkdir_all(root, posixpath.dirname(rel), chown, created)
        target = scoped_path(root, rel)
        _mkdir_all(root, posixpath.dirname(os.path.relpath(target, root).replace(os.sep, "/")), chown, created)
    copier = _Copier(chown, chmod, epoch)
    try:
        _copy_all(root, files, target, dest_is_dir, copier, chown, created)
    finally:
        for path in reversed(created):
            _set_time(path, None, epoch)


def _copy_all(
    root: Path,
    files: Sequence[SourceFile],
    target: Path,
    dest_is_dir: bool,
    copier: _Copier,
    chown: tuple[int, int] | None,
    created: list[Path],
) -> None:
    for f in files:
        if _with_parents(f):
            _copy_with_parents(f, target, copier)
            continue
        if f.is_dir:
            try:
                existing = os.lstat(target)
            except FileNotFoundError:
                existing = None
            if existing is None:
                target = _mkdir_all(root, os.path.relpath(target, root).replace(os.sep, "/"), chown, created)
            elif not stat.S_ISDIR(existing.st_mode):
                raise BuildError(f"cannot copy to non-directory: {target}")
            dirs: list[str] = []
            for member in f.members or ():
                src = f.path / member
                dst = target / member
                copier.entry(src, dst)
                if stat.S_ISDIR(os.lstat(src).st_mode):
                    dirs.append(member)
            for member in reversed(dirs):  # deepest last-listed first: times survive their children's writes
                copier.dir_meta(f.path / member, target / member)
            continue
        dst = target
        if dest_is_dir or (target.is_dir() and not target.is_symlink()):
            dst = target / f.dest_name
        copier.entry(f.path, dst)


def _with_parents(f: SourceFile) -> bool:
    return bool(f.dest_name) and (f.is_dir or "/" in f.dest_name)


def _copy_with_parents(f: SourceFile, target: Path, copier: _Copier) -> None:
    """``COPY --parents``: ``f.dest_name`` is a path below ``target``; its missing directories take the metadata
    of the source's own parents, as fsutil's delayed parent creation does."""
    parts = f.dest_name.split("/")
    dirs = parts if f.is_dir else parts[:-1]
    src_dirs = [f.path, *f.path.parents] if f.is_dir else list(f.path.parents)
    pairs = list(zip(reversed(src_dirs[: len(dirs)]), dirs, strict=True))
    made: list[tuple[Path, Path]] = []
    dst = target
    for src_dir, part in pairs:
        dst = dst / part
        if copier.entry(src_dir, dst) or src_dir == f.path:
            made.append((src_dir, dst))
    if f.is_dir:
        inner: list[tuple[Path, Path]] = []
        for member in f.members or ():
            src = f.path / member
            copier.entry(src, dst / member)
            if stat.S_ISDIR(os.lstat(src).st_mode):
                inner.append((src, dst / member))
        made += inner
    else:
        copier.entry(f.path, target / f.dest_name)
    for src_dir, dst_dir in reversed(made):
        copier.dir_meta(src_dir, dst_dir)


def is_archive(path: Path) -> bool:
    """Whether ADD unpacks ``path``: a regular file that is a tar, plain or gzip/bzip2/xz/zstd compressed."""
    return is_tar_archive(path)


def unpack_into(
    root: Path,
    archive: Path,
    dest: str,
    *,
    workdir: str,
    chown: tuple[int, int] | None = None,
    epoch: int | None = None,
) -> None:
    """``ADD local.tar dest``: ``dest`` (relative to ``workdir``) is a directory, created 0755 (owned by
    ``chown``) when missing; the archive's entries keep their own owners, modes and times."""
    rel, _ = _dest_rel(dest, workdir)
    created: list[Path] = []
    target = _mkdir_all(Path(root), rel, chown, created)
    try:
        extract_archive(archive, target)
    finally:
        for path in reversed(created):
            _set_time(path, None, epoch)


def write_heredoc(
    root: Path,
    name: str,
    content: str,
    dest: str,
    *,
    workdir: str,
    chown: tuple[int, int] | None,
    chmod: int | None,
    epoch: int | None = None,
) -> None:
    """``COPY <<name dest``: a file ``name`` (mode 0644 unless ``chmod``, root-owned unless ``chown``)."""
    with tempfile.TemporaryDirectory(prefix="heredoc-") as tmp:
        src = Path(tmp) / "content"
        src.write_bytes(content.encode("utf-8", "surrogateescape"))
        os.chmod(src, 0o644)
        copy_into(
            root,
            [SourceFile(name, src, posixpath.basename(name) or name)],
            dest,
            workdir=workdir,
            chown=chown if chown is not None else (0, 0),
            chmod=chmod,
            epoch=epoch,
        )
