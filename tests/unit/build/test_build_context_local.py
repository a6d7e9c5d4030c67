"""Local build contexts: COPY source resolution scoped to the context, ignore rules, excludes, the digest,
and contexts from stdin, git and HTTP."""

from __future__ import annotations

import gzip
import http.server
import io
import os
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from dockyard.build.context import LocalContext, SourceFile, _git_context, is_git_url, open_context
from dockyard.build.ignore import IgnoreRules
from dockyard.build.securepath import scoped_path
from dockyard.errors import BuildError


@pytest.fixture
def ctx(tmp_path: Path) -> Path:
    root = tmp_path / "ctx"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "a.py").write_text("a")
    (root / "src" / "b.py").write_text("b")
    (root / "src" / "notes.md").write_text("n")
    (root / "src" / "pkg" / "c.py").write_text("c")
    (root / "x").write_text("x")
    (root / "docs").mkdir()
    (root / "docs" / "keep.md").write_text("k")
    (root / "docs" / "drop.md").write_text("d")
    (tmp_path / "outside").write_text("secret")
    return root


def names(files: list[SourceFile]) -> list[tuple[str, str]]:
    return [(f.rel, f.dest_name) for f in files]


def test_plain_file_and_directory(ctx: Path) -> None:
    c = LocalContext(ctx)
    (f,) = c.resolve(["x"])
    assert (f.rel, f.path, f.dest_name, f.members) == ("x", ctx / "x", "x", None)
    (d,) = c.resolve(["src/"])
    assert d.dest_name == "" and d.is_dir
    assert d.members == ("a.py", "b.py", "notes.md", "pkg", "pkg/c.py")
    (root,) = c.resolve(["."])
    assert root.rel == "" and root.path == ctx and "src/pkg/c.py" in (root.members or ())


def test_wildcards(ctx: Path) -> None:
    c = LocalContext(ctx)
    assert names(c.resolve(["src/*.py"])) == [("src/a.py", "a.py"), ("src/b.py", "b.py")]
    assert names(c.resolve(["src/[ab].py", "x"])) == [("src/a.py", "a.py"), ("src/b.py", "b.py"), ("x", "x")]
    assert names(c.resolve(["*/pkg"])) == [("src/pkg", "")]
    assert names(c.resolve(["s?c/*/c.py"])) == [("src/pkg/c.py", "c.py")]
    with pytest.raises(BuildError, match=r'"/src/\*.txt": not found'):
        c.resolve(["src/*.txt"])


def test_missing_and_escaping_paths_fail_as_not_found(ctx: Path) -> None:
    c = LocalContext(ctx)
    with pytest.raises(BuildError, match=r'failed to compute cache key: .*"/nope": not found'):
        c.resolve(["nope"])
    with pytest.raises(BuildError, match='"/outside": not found'):
        c.resolve(["../outside"])
    (f,) = c.resolve(["../../x"])  # climbs to the context root, not above it
    assert f.path == ctx / "x"
    (g,) = c.resolve(["/x"])
    assert g.path == ctx / "x"


def test_symlinks_resolve_inside_the_root(ctx: Path, tmp_path: Path) -> None:
    os.symlink("/outside", ctx / "abs-out")
    os.symlink("../outside", ctx / "rel-out")
    os.symlink("../../../../outside", ctx / "src" / "deep-out")
    os.symlink("/x", ctx / "abs-in")
    os.symlink("src", ctx / "dirlink")
    c = LocalContext(ctx)
    for name in ("abs-out", "rel-out", "src/deep-out"):
        with pytest.raises(BuildError, match="not found"):
            c.resolve([name])
    (f,) = c.resolve(["abs-in"])
    assert (f.path, f.dest_name) == (ctx / "x", "abs-in")
    (d,) = c.resolve(["dirlink"])
    assert d.path == ctx / "src" and d.is_dir
    (n,) = c.resolve(["dirlink/pkg/c.py"])
    assert n.path == ctx / "src" / "pkg" / "c.py"
    (raw,) = c.resolve(["abs-out"], follow_links=False)
    assert raw.path == ctx / "abs-out" and raw.dest_name == "abs-out"
    assert scoped_path(ctx, "abs-out/../../etc/passwd") == ctx / "etc" / "passwd"
    (tmp_path / "loop").mkdir()
    os.symlink("b", tmp_path / "loop" / "a")
    os.symlink("a", tmp_path / "loop" / "b")
    with pytest.raises(BuildError, match="too many levels"):
        scoped_path(tmp_path / "loop", "a")


def test_ignored_files_are_invisible(ctx: Path) -> None:
    c = LocalContext(ctx, IgnoreRules(["docs", "!docs/keep.md", "**/*.md", "x"]))
    with pytest.raises(BuildError, match="not found"):
        c.resolve(["x"])
    with pytest.raises(BuildError, match="not found"):
        c.resolve(["docs/drop.md"])
    with pytest.raises(BuildError, match='"/docs": not found'):
        c.resolve(["docs"])  # keep.md is excluded again by **/*.md: nothing of docs/ is in the context
    c2 = LocalContext(ctx, IgnoreRules(["docs", "!docs/keep.md"]))
    (d2,) = c2.resolve(["docs"])
    assert d2.members == ("keep.md",)
    (root,) = c2.resolve(["."])
    assert "docs" in (root.members or ()) and "docs/drop.md" not in (root.members or ())
    assert names(c2.resolve(["docs/*"])) == [("docs/keep.md", "keep.md")]


def test_excludes(ctx: Path) -> None:
    c = LocalContext(ctx)
    (d,) = c.resolve(["src"], excludes=["*.md", "pkg"])
    assert d.members == ("a.py", "b.py")
    assert names(c.resolve(["src/*"], excludes=["src/b.py"])) == [
        ("src/a.py", "a.py"), ("src/notes.md", "notes.md"), ("src/pkg", "")]


def test_digest_tracks_content_mode_and_names_not_times(ctx: Path) -> None:
    c = LocalContext(ctx, IgnoreRules(["src/notes.md"]))
    first = c.digest(c.resolve(["src"]))
    assert first.startswith("sha256:") and len(first) == 71
    os.utime(ctx / "src" / "a.py", (1, 1))
    assert c.digest(c.resolve(["src"])) == first
    (ctx / "src" / "notes.md").write_text("ignored change")
    assert c.digest(c.resolve(["src"])) == first
    (ctx / "src" / "a.py").write_text("changed")
    changed = c.digest(c.resolve(["src"]))
    assert changed != first
    os.chmod(ctx / "src" / "a.py", 0o600)
    assert c.digest(c.resolve(["src"])) != changed
    os.rename(ctx / "src" / "b.py", ctx / "src" / "b2.py")
    assert c.digest(c.resolve(["src"])) != changed


def _tar_bytes(files: dict[str, bytes], *, gz: bool = False) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o640
            tf.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    return gzip.compress(raw) if gz else raw


@pytest.mark.parametrize("gz", [False, True])
def test_stdin_tar_context(tmp_path: Path, gz: bool) -> None:
    data = _tar_bytes({"Dockerfile": b"FROM scratch\n", "dir/f": b"hello"}, gz=gz)
    c, dockerfile = open_context("-", tmp_path / "work", stdin=io.BytesIO(data))
    assert dockerfile is None
    assert (c.root / "dir" / "f").read_bytes() == b"hello"
    assert (c.root / "dir" / "f").stat().st_mode & 0o777 == 0o640


def test_stdin_dockerfile(tmp_path: Path) -> None:
    c, dockerfile = open_context("-", tmp_path / "work", stdin=io.BytesIO(b"FROM scratch\nCOPY x /\n"))
    assert dockerfile is not None and dockerfile.read_text() == "FROM scratch\nCOPY x /\n"
    assert list(c.root.iterdir()) == []


def test_hostile_tar_stays_inside(tmp_path: Path) -> None:
    data = _tar_bytes({"../escape": b"x"})
    with pytest.raises(BuildError):
        open_context("-", tmp_path / "work", stdin=io.BytesIO(data))
    assert not (tmp_path / "escape").exists()


def test_directory_context(ctx: Path) -> None:
    c, dockerfile = open_context(str(ctx), ctx.parent / "work")
    assert c.root == ctx and dockerfile is None
    with pytest.raises(BuildError, match="not found"):
        open_context(str(ctx / "nope"), ctx.parent / "work")


def test_git_url_forms() -> None:
    assert is_git_url("https://github.com/docker/x.git")
    assert is_git_url("https://host/x.git#main:sub")
    assert is_git_url("git@github.com:docker/x.git")
    assert is_git_url("git://127.0.0.1/repo")
    assert is_git_url("github.com/docker/x")
    assert not is_git_url("https://host/x.tar.gz")
    assert not is_git_url("./dir")


def _git(*args: str, cwd: Path) -> None:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@x", GIT_COMMITTER_NAME="t",
               GIT_COMMITTER_EMAIL="t@x", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd))
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def test_git_context_ref_and_subdir(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "sub").mkdir(parents=True)
    (repo / "sub" / "f").write_text("v1")
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", ".", cwd=repo)
    _git("commit", "-qm", "one", cwd=repo)
    _git("tag", "v1", cwd=repo)
    (repo / "sub" / "f").write_text("v2")
    _git("commit", "-qam", "two", cwd=repo)
    url = f"file://{repo}"
    head = _git_context(url, tmp_path / "w1")
    assert (head.root / "sub" / "f").read_text() == "v2"
    assert not (head.root / ".git").exists()
    tagged = _git_context(f"{url}#v1:sub", tmp_path / "w2")
    assert (tagged.root / "f").read_text() == "v1"
    with pytest.raises(BuildError, match="no-such-ref"):
        _git_context(f"{url}#no-such-ref", tmp_path / "w3")


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    served = tmp_path / "served"
    served.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **kw: object) -> None:
            super().__init__(*a, directory=str(served), **kw)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", served
    finally:
        server.shutdown()
        server.server_close()


def test_http_tarball_and_dockerfile(http_root: tuple[str, Path], tmp_path: Path) -> None:
    base, served = http_root
    (served / "ctx.tar.gz").write_bytes(_tar_bytes({"a/b": b"data"}, gz=True))
    (served / "Dockerfile").write_text("FROM scratch\n")
    c, dockerfile = open_context(f"{base}/ctx.tar.gz", tmp_path / "w1")
    assert dockerfile is None and (c.root / "a" / "b").read_bytes() == b"data"
    _, dockerfile2 = open_context(f"{base}/Dockerfile", tmp_path / "w2")
    assert dockerfile2 is not None and dockerfile2.read_text() == "FROM scratch\n"
    with pytest.raises(BuildError, match="404"):
        open_context(f"{base}/missing.tar", tmp_path / "w3")


def test_fetch_url_for_add(http_root: tuple[str, Path], tmp_path: Path) -> None:
    import hashlib

    from dockyard.build.context import fetch_url

    base, served = http_root
    (served / "tool.bin").write_bytes(b"binary")
    good = "sha256:" + hashlib.sha256(b"binary").hexdigest()
    f = fetch_url(f"{base}/tool.bin?x=1", tmp_path / "dl", checksum=good)
    assert (f.dest_name, f.path.read_bytes()) == ("tool.bin", b"binary")
    assert f.path.stat().st_mode & 0o777 == 0o600
    assert int(f.path.stat().st_mtime) == int((served / "tool.bin").stat().st_mtime)
    with pytest.raises(BuildError, match="digest mismatch"):
        fetch_url(f"{base}/tool.bin", tmp_path / "dl2", checksum="sha256:" + "0" * 64)
    with pytest.raises(BuildError, match="invalid response status 404"):
        fetch_url(f"{base}/nope", tmp_path / "dl3")
    assert fetch_url(f"{base}/", tmp_path / "dl4").dest_name == "__unnamed__"
