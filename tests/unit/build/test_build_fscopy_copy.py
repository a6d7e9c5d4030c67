"""COPY semantics applied to a root directory: destinations, directories' contents, owners and modes,
symlinks in the destination path, replacement, hard links, heredoc files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from dockyard.build.context import LocalContext
from dockyard.build.fscopy import copy_into, write_heredoc
from dockyard.errors import BuildError

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")


@pytest.fixture
def ctx(tmp_path: Path) -> LocalContext:
    root = tmp_path / "ctx"
    (root / "dir" / "sub").mkdir(parents=True)
    (root / "dir" / "f").write_text("f")
    (root / "dir" / "sub" / "g").write_text("g")
    os.chmod(root / "dir" / "sub", 0o750)
    os.symlink("f", root / "dir" / "link")
    os.link(root / "dir" / "f", root / "dir" / "hard")
    (root / "one").write_text("1")
    os.chmod(root / "one", 0o640)
    (root / "two").write_text("2")
    return LocalContext(root)


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    r.mkdir()
    return r


def mode(p: Path) -> int:
    return stat.S_IMODE(os.lstat(p).st_mode)


def test_file_to_new_name_and_into_directory(ctx: LocalContext, rootfs: Path) -> None:
    copy_into(rootfs, ctx.resolve(["one"]), "/opt/renamed", workdir="/", chown=None, chmod=None)
    assert (rootfs / "opt" / "renamed").read_text() == "1"
    assert mode(rootfs / "opt" / "renamed") == 0o640
    assert mode(rootfs / "opt") == 0o755
    copy_into(rootfs, ctx.resolve(["one"]), "/opt/d/", workdir="/", chown=None, chmod=None)
    assert (rootfs / "opt" / "d" / "one").read_text() == "1"
    copy_into(rootfs, ctx.resolve(["two"]), "/opt/d", workdir="/", chown=None, chmod=None)
    assert (rootfs / "opt" / "d" / "two").read_text() == "2"  # an existing directory takes the file


def test_destination_relative_to_workdir_and_several_sources(ctx: LocalContext, rootfs: Path) -> None:
    copy_into(rootfs, ctx.resolve(["one", "two"]), "app", workdir="/srv", chown=None, chmod=None)
    assert sorted(os.listdir(rootfs / "srv" / "app")) == ["one", "two"]
    copy_into(rootfs, ctx.resolve(["one"]), ".", workdir="/w", chown=None, chmod=None)
    assert (rootfs / "w" / "one").is_file()


def test_directory_contents_are_copied(ctx: LocalContext, rootfs: Path) -> None:
    copy_into(rootfs, ctx.resolve(["dir"]), "/dst", workdir="/", chown=None, chmod=None)
    assert sorted(os.listdir(rootfs / "dst")) == ["f", "hard", "link", "sub"]
    assert os.readlink(rootfs / "dst" / "link") == "f"
    assert mode(rootfs / "dst" / "sub") == 0o750
    assert (rootfs / "dst" / "sub" / "g").read_text() == "g"
    assert os.stat(rootfs / "dst" / "f").st_ino == os.stat(rootfs / "dst" / "hard").st_ino
    src_mtime = os.stat(ctx.root / "dir" / "sub" / "g").st_mtime_ns
    assert os.stat(rootfs / "dst" / "sub" / "g").st_mtime_ns == src_mtime


@needs_root
def test_chown_and_chmod(ctx: LocalContext, rootfs: Path) -> None:
    copy_into(rootfs, ctx.resolve(["dir"]), "/a/b/", workdir="/", chown=(1000, 1001), chmod=0o700)
    for p in ("a", "a/b", "a/b/f", "a/b/sub", "a/b/sub/g", "a/b/link"):
        st = os.lstat(rootfs / p)
        assert (st.st_uid, st.st_gid) == (1000, 1001), p
    assert mode(rootfs / "a" / "b" / "f") == 0o700
    assert mode(rootfs / "a" / "b" / "sub") == 0o700
    assert mode(rootfs / "a") == 0o755
    copy_into(rootfs, ctx.resolve(["one"]), "/c/", workdir="/", chown=None, chmod=None)
    assert os.stat(rootfs / "c").st_uid == 0


def test_symlinks_in_destination_stay_inside_root(ctx: LocalContext, rootfs: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(str(outside), rootfs / "evil")
    os.symlink("../../..", rootfs / "up")
    copy_into(rootfs, ctx.resolve(["one"]), "/evil/x", workdir="/", chown=None, chmod=None)
    copy_into(rootfs, ctx.resolve(["two"]), "/up/y/", workdir="/", chown=None, chmod=None)
    assert list(outside.iterdir()) == []
    assert (rootfs / outside.relative_to("/") / "x").read_text() == "1"
    assert (rootfs / "y" / "two").read_text() == "2"
    os.symlink("usr/lib", rootfs / "lib")
    copy_into(rootfs, ctx.resolve(["one"]), "/lib/z", workdir="/", chown=None, chmod=None)
    assert (rootfs / "usr" / "lib" / "z").read_text() == "1"


def test_replacing_files_and_directories(ctx: LocalContext, rootfs: Path) -> None:
    (rootfs / "f").write_text("old")
    os.symlink("/etc/passwd", rootfs / "l")
    copy_into(rootfs, ctx.resolve(["one"]), "/f", workdir="/", chown=None, chmod=None)
    copy_into(rootfs, ctx.resolve(["two"]), "/l", workdir="/", chown=None, chmod=None)
    assert (rootfs / "f").read_text() == "1"
    assert os.readlink(rootfs / "l") == "/etc/passwd"  # as fsutil: the link is followed inside the root
    assert (rootfs / "etc" / "passwd").read_text() == "2"
    (rootfs / "d" / "f").mkdir(parents=True)
    (rootfs / "d" / "f" / "x").write_text("x")
    with pytest.raises(BuildError, match="cannot replace to directory"):
        copy_into(rootfs, ctx.resolve(["dir"]), "/d", workdir="/", chown=None, chmod=None)
    (rootfs / "file").write_text("x")
    with pytest.raises(BuildError, match="not a directory"):
        copy_into(rootfs, ctx.resolve(["one"]), "/file/sub/", workdir="/", chown=None, chmod=None)


def test_epoch_clamps_times(ctx: LocalContext, rootfs: Path) -> None:
    copy_into(rootfs, ctx.resolve(["dir"]), "/new/dst", workdir="/", chown=None, chmod=None, epoch=1000)
    assert os.lstat(rootfs / "new" / "dst" / "f").st_mtime == 1000
    assert os.lstat(rootfs / "new").st_mtime == 1000


def test_write_heredoc(rootfs: Path) -> None:
    write_heredoc(rootfs, "run.sh", "#!/bin/sh\necho hi\n", "/usr/local/bin/", workdir="/", chown=None, chmod=0o755)
    p = rootfs / "usr" / "local" / "bin" / "run.sh"
    assert p.read_text() == "#!/bin/sh\necho hi\n"
    assert mode(p) == 0o755
    write_heredoc(rootfs, "EOF", "data\n", "/etc/conf", workdir="/", chown=None, chmod=None)
    assert (rootfs / "etc" / "conf").read_text() == "data\n"
    assert mode(rootfs / "etc" / "conf") == 0o644


def test_symlinks_inside_the_destination_tree_are_not_followed(ctx: LocalContext, rootfs: Path,
                                                               tmp_path: Path) -> None:
    outside = tmp_path / "outside2"
    outside.mkdir()
    (rootfs / "dst").mkdir()
    os.symlink(str(outside), rootfs / "dst" / "sub")
    os.symlink(str(outside / "f"), rootfs / "dst" / "f")
    with pytest.raises(BuildError, match="cannot copy to non-directory"):
        copy_into(rootfs, ctx.resolve(["dir"]), "/dst", workdir="/", chown=None, chmod=None)
    assert list(outside.iterdir()) == []
    assert (rootfs / "dst" / "f").read_text() == "f" and not (rootfs / "dst" / "f").is_symlink()


def test_copy_parents(tmp_path: Path, rootfs: Path) -> None:
    root = tmp_path / "pctx"
    (root / "x" / "y").mkdir(parents=True)
    (root / "x" / "y" / "a.txt").write_text("a")
    (root / "x" / "b.txt").write_text("b")
    os.chmod(root / "x", 0o750)
    c = LocalContext(root)
    files = c.resolve(["x/y/a.txt", "x/*.txt"], parents=True)
    assert [f.dest_name for f in files] == ["x/y/a.txt", "x/b.txt"]
    copy_into(rootfs, files, "/p", workdir="/", chown=None, chmod=None)
    assert (rootfs / "p" / "x" / "y" / "a.txt").read_text() == "a"
    assert (rootfs / "p" / "x" / "b.txt").read_text() == "b"
    assert mode(rootfs / "p" / "x") == 0o750
    pivot = c.resolve(["./x/./y/a.txt"], parents=True)
    assert [f.dest_name for f in pivot] == ["y/a.txt"]
    copy_into(rootfs, pivot, "/q/", workdir="/", chown=None, chmod=None)
    assert (rootfs / "q" / "y" / "a.txt").read_text() == "a"
    d = c.resolve(["x/y"], parents=True)
    assert d[0].dest_name == "x/y" and d[0].members == ("a.txt",)
    copy_into(rootfs, d, "/r", workdir="/", chown=None, chmod=None)
    assert (rootfs / "r" / "x" / "y" / "a.txt").read_text() == "a"


def _tar(path: Path, files: dict[str, bytes], mode: str = "w") -> Path:
    import io
    import tarfile

    with tarfile.open(path, mode) as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o751
            info.uid, info.gid = 7, 8
            info.mtime = 12345
            tf.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_add_unpacks_local_archives(tmp_path: Path, rootfs: Path, mode: str) -> None:
    from dockyard.build.fscopy import is_archive, unpack_into

    archive = _tar(tmp_path / "a.tar", {"d/f": b"data", "top": b"t"}, mode)
    assert is_archive(archive)
    unpack_into(rootfs, archive, "out", workdir="/srv")
    f = rootfs / "srv" / "out" / "d" / "f"
    assert f.read_bytes() == b"data"
    assert mode_of(f) == 0o751 and os.stat(f).st_mtime == 12345
    if os.geteuid() == 0:
        assert (os.stat(f).st_uid, os.stat(f).st_gid) == (7, 8)


def mode_of(p: Path) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


def test_not_archives(tmp_path: Path) -> None:
    from dockyard.build.fscopy import is_archive

    (tmp_path / "text").write_text("hello " * 200)
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "zeros").write_bytes(b"\0" * 1024)
    (tmp_path / "dir").mkdir()
    for name in ("text", "empty", "zeros", "dir", "missing"):
        assert not is_archive(tmp_path / name), name


def test_hostile_archive_is_refused(tmp_path: Path, rootfs: Path) -> None:
    from dockyard.build.fscopy import unpack_into

    archive = _tar(tmp_path / "evil.tar", {"../../escape": b"x"})
    with pytest.raises(BuildError):
        unpack_into(rootfs, archive, "/out", workdir="/")
    assert not (tmp_path / "escape").exists()
