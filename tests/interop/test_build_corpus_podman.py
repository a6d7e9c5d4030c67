"""The build corpus (``tests/testdata/build/<feature>/``) built by ``dockyard build`` and by ``podman build --layers
--format docker --runtime runc``: after all layers the union file systems are equal (names, types, modes, uid/gid,
content hashes, link targets, xattrs; no mtimes, no runtime mount points, no files that record time) and so are the
config fields in Docker's format. Needs root, runc and podman.

podman 4.3 (buildah 1.28) knows no heredocs, no ``COPY --link`` and no ``ADD --checksum``: an entry that uses them
has a ``Dockerfile.podman`` saying the same thing without them, which podman builds instead. podman runs offline
(``unshare -n``), so ``addurl`` (a URL on 127.0.0.1) and the git daemon are checked against dockyard's own build of
the same files, not against podman."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import podman_build_peer as peer
import pytest
from build_util import CORPUS, clone_store, dockyard, git_daemon, http_server, store_image
from fixtures_util import ensure_debian_docker_archive

from dockyard.image.base import Image

pytestmark = [
    pytest.mark.interop,
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="RUN steps need root (runc, overlayfs mounts)"),
    pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (Debian package runc)"),
]

SECRET_FILE = CORPUS / "secrets" / "token.secret"


@dataclass(frozen=True)
class Entry:
    """How one corpus entry is built: build arguments and extra ``build`` flags (the same for both builders)."""

    build_args: Mapping[str, str] = field(default_factory=dict)
    flags: tuple[str, ...] = ()
    #: Paths BuildKit makes and buildah does not (checked in dockyard's image, left out of the comparison).
    buildkit_only: tuple[str, ...] = ()
    #: Files where buildah is wrong: their content in dockyard's image, checked and left out of the comparison.
    buildkit_content: Mapping[str, bytes] = field(default_factory=dict)
    #: Config fields where buildah is wrong: their value in dockyard's image, checked and left out.
    buildkit_config: Mapping[str, Any] = field(default_factory=dict)


ENTRIES: dict[str, Entry] = {
    "multistage": Entry(),
    "argfrom": Entry(build_args={"GREETING": "hola"}),
    "heredoc": Entry(),
    "addtar": Entry(),
    "chmodchown": Entry(),
    "link": Entry(),
    "dockerignore": Entry(),
    # buildah makes a WORKDIR's directory only when a later step needs it; BuildKit makes it at WORKDIR.
    "metadata": Entry(buildkit_only=("srv/app", "srv/app/sub")),
    # buildah 1.28 takes a backslash in ENV/LABEL values as an escape even under `# escape=``.
    "escape": Entry(
        buildkit_content={"winpath": b"C:\\Tools\\bin\njoined\n"},
        buildkit_config={
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "WINPATH=C:\\Tools\\bin"],
            "Labels": {"org.opencontainers.image.title": "debian-bookworm-minbase", "path": "C:\\Program Files"},
        },
    ),
    "secrets": Entry(flags=("--secret", f"id=token,src={SECRET_FILE}")),
    "gitcontext": Entry(),
    "runfs": Entry(),
}

#: Config fields compared, in Docker's format.
CONFIG_FIELDS = (
    "Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels", "StopSignal",
    "Healthcheck", "Shell", "OnBuild",
)  # fmt: skip
#: Labels buildah adds to every image it builds.
PODMAN_LABELS = ("io.buildah.version",)


# --------------------------------------------------------------------------- dockyard helpers


def docker_config(image: Image, *, drop_labels: Sequence[str] = ()) -> dict[str, Any]:
    """The compared config fields, normalised: absent, null and empty are the same; zero durations dropped."""
    cfg = image.config().container_config
    out: dict[str, Any] = {}
    for name in CONFIG_FIELDS:
        value = cfg.get(name)
        if name == "Labels" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if k not in drop_labels}
        if name == "Healthcheck" and isinstance(value, dict):
            value = {k: v for k, v in value.items() if v not in (0, None)}
        if value in (None, "", [], {}):
            continue
        out[name] = value
    return out


def entry_args(entry: Entry) -> list[str]:
    args: list[str] = []
    for k, v in entry.build_args.items():
        args += ["--build-arg", f"{k}={v}"]
    return [*args, *entry.flags]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def corpus_store(prepared: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One store for the corpus builds of this module."""
    return clone_store(prepared, tmp_path_factory.mktemp("corpus") / "root")


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private podman state with ``debian:bookworm`` loaded."""
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed")
    with peer.podman_state() as state:
        peer.load_image(state, f"docker-archive:{ensure_debian_docker_archive()}", "docker.io/library/debian:bookworm")
        yield state


# --------------------------------------------------------------------------- tests


XFAIL: dict[str, str] = {}


def _params() -> list[Any]:
    return [
        pytest.param(n, marks=pytest.mark.xfail(reason=XFAIL[n], strict=True)) if n in XFAIL else n
        for n in sorted(ENTRIES)
    ]


@pytest.mark.parametrize("name", _params())
def test_corpus_matches_podman(name: str, corpus_store: Path, podman: Path, tmp_path: Path) -> None:
    entry = ENTRIES[name]
    context = CORPUS / name
    tag = f"corpus-{name}:1"
    started = time.monotonic()
    dockyard(corpus_store, "build", "-t", tag, "--progress", "plain", *entry_args(entry), context)
    ours_seconds = time.monotonic() - started
    podman_file = context / "Dockerfile.podman"
    theirs = peer.build(
        podman, context, tmp_path / "podman.tar", dockerfile=podman_file if podman_file.exists() else None,
        build_args=entry.build_args, extra=entry.flags,
    )  # fmt: skip
    ours_image = store_image(corpus_store, tag)
    theirs_image = peer.read_image(theirs.archive)
    ours, their_listing = peer.image_listing(ours_image), peer.image_listing(theirs_image)
    for path in entry.buildkit_only:
        assert ours[path].kind == "dir" and (ours[path].mode, ours[path].uid) == (0o755, 0), path
        del ours[path]
    for path, content in entry.buildkit_content.items():
        assert ours.pop(path).sha256 == hashlib.sha256(content).hexdigest(), path
        their_listing.pop(path)
    diff = peer.differences(ours, their_listing)
    assert not diff, f"{name}: union file systems differ (ours vs podman's):\n" + "\n".join(diff)
    ours_config = docker_config(ours_image)
    theirs_config = docker_config(theirs_image, drop_labels=PODMAN_LABELS)
    for key, value in entry.buildkit_config.items():
        assert ours_config.pop(key) == value, key
        theirs_config.pop(key, None)
    # buildah appends a redefined variable (PATH) at the end; BuildKit keeps it in place (checked elsewhere).
    ours_config["Env"], theirs_config["Env"] = sorted(ours_config.get("Env", [])), sorted(theirs_config.get("Env", []))
    assert ours_config == theirs_config
    print(f"{name}: dockyard {ours_seconds:.1f}s, podman {theirs.seconds:.1f}s")


def _content(image: Image, path: str) -> str:
    """The sha256 of ``path`` in ``image``'s union file system."""
    return peer.image_listing(image)[path].sha256


def test_corpus_add_url_with_checksum(corpus_store: Path, tmp_path: Path) -> None:
    """ADD of a URL on 127.0.0.1 with --checksum: the file arrives (0600, root, as BuildKit downloads) and RUN sees it;
    a wrong checksum fails the build naming both digests."""
    payload = (CORPUS / "addurl" / "served" / "payload.txt").read_bytes()
    digest = hashlib.sha256(payload).hexdigest()
    with http_server(CORPUS / "addurl" / "served") as url:
        dockyard(corpus_store, "build", "-t", "corpus-addurl:1", "--progress", "plain", "--build-arg", f"URL={url}",
                 CORPUS / "addurl")  # fmt: skip
        listing = peer.image_listing(store_image(corpus_store, "corpus-addurl:1"))
        for path in ("downloads/payload.txt", "downloads/unchecked.txt", "downloads/read-by-run"):
            assert listing[path].sha256 == digest, path
        assert (listing["downloads/payload.txt"].mode, listing["downloads/payload.txt"].uid) == (0o600, 0)
        bad = tmp_path / "bad"
        bad.mkdir()
        wrong = "0" * 64
        (bad / "Dockerfile").write_text(f"FROM debian:bookworm\nADD --checksum=sha256:{wrong} {url}/payload.txt /p\n")
        proc = dockyard(corpus_store, "build", "-t", "corpus-addurl:bad", "--progress", "plain", bad, check=False)
    assert proc.returncode != 0
    assert digest in proc.stderr and "0" * 64 in proc.stderr, proc.stderr[-2000:]


def test_corpus_git_context_from_git_daemon(corpus_store: Path, tmp_path: Path) -> None:
    """A git URL served by ``git daemon`` on 127.0.0.1 builds the same file system as the directory it came from
    (no ``.git`` in the context)."""
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    repo = tmp_path / "repos" / "ctx.git"
    shutil.copytree(CORPUS / "gitcontext", repo)
    git = ["git", "-C", os.fspath(repo), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "corpus"], check=True)
    with git_daemon(tmp_path / "repos") as base:
        dockyard(corpus_store, "build", "-t", "corpus-git:1", "--progress", "plain", f"{base}/ctx.git")
    dockyard(corpus_store, "build", "-t", "corpus-gitdir:1", "--progress", "plain", CORPUS / "gitcontext")
    from_git = peer.image_listing(store_image(corpus_store, "corpus-git:1"))
    from_dir = peer.image_listing(store_image(corpus_store, "corpus-gitdir:1"))
    assert not any(p.startswith("src/.git") for p in from_git)
    diff = peer.differences(from_git, from_dir)
    assert not diff, "git context vs directory:\n" + "\n".join(diff)


def test_corpus_secret_never_stored(corpus_store: Path) -> None:
    """The secret's value is in no blob of the store, no history entry and no cache record (grep the whole store);
    the RUN saw it (its hash is in the image)."""
    secret = SECRET_FILE.read_bytes()
    dockyard(corpus_store, "build", "-t", "corpus-secrets:2", "--progress", "plain", "--secret",
             f"id=token,src={SECRET_FILE}", CORPUS / "secrets")  # fmt: skip
    image = store_image(corpus_store, "corpus-secrets:2")
    listing = peer.image_listing(image)
    assert "token.secret" not in json.dumps(sorted(listing))
    hist = json.dumps(image.config().data)
    assert secret.strip().decode() not in hist
    needle = secret.strip()
    for path in corpus_store.rglob("*"):
        if path.is_file() and not path.is_symlink():
            with path.open("rb") as f:
                data = f.read()
            assert needle not in data, f"the secret is in {path}"
    token = listing["token.sha256"]
    assert token.sha256 == hashlib.sha256((hashlib.sha256(secret).hexdigest() + "\n").encode()).hexdigest()
    assert "token.present" in listing and "token.gone" in listing and "run/tok" not in listing


def _file_text(root: Path, ref: str, path: str, tmp: Path) -> bytes:
    """The content of ``path`` in the image ``ref``, through ``dockyard export``."""
    import tarfile

    out = tmp / f"{ref.replace(':', '_').replace('/', '_')}.tar"
    dockyard(root, "export", ref, "-o", out)
    with tarfile.open(out) as t:
        member = t.extractfile(path)
        assert member is not None, path
        return member.read()


def test_corpus_heredoc_copy_expands(corpus_store: Path, tmp_path: Path) -> None:
    """BuildKit: RUN heredocs, <<- chomping, #! scripts; COPY heredocs expand unless the delimiter is quoted."""
    dockyard(corpus_store, "build", "-t", "corpus-heredoc:2", "--progress", "plain", CORPUS / "heredoc")
    text = {p: _file_text(corpus_store, "corpus-heredoc:2", f"heredoc/{p}", tmp_path)
            for p in ("one", "chomped", "shebang", "literal", "multi/alpha.txt", "copied")}  # fmt: skip
    assert text["one"] == b"one\n" and text["chomped"] == b"tabs stripped\n" and text["shebang"] == b"shebang bash\n"
    assert text["literal"] == b"literal ${V}\n" and text["multi/alpha.txt"] == b"first\n"
    assert text["copied"] == b"copied line expanded-value\n"


def test_corpus_add_local_tar_unpacks(corpus_store: Path) -> None:
    """ADD of a local tar (plain and gzip) unpacks it, keeping the archive's owners, modes and links."""
    dockyard(corpus_store, "build", "-t", "corpus-addtar:2", "--progress", "plain", CORPUS / "addtar")
    listing = peer.image_listing(store_image(corpus_store, "corpus-addtar:2"))
    for base in ("opt/fromtar/top", "opt/fromtgz/top"):
        assert listing[f"{base}/hello.txt"].sha256 == hashlib.sha256(b"hello from a tar\n").hexdigest()
        assert (listing[f"{base}/owned"].uid, listing[f"{base}/owned"].mode) == (1000, 0o640)
        assert listing[f"{base}/link"].linkname == "hello.txt"
        hard, hello = listing[f"{base}/hard"], listing[f"{base}/hello.txt"]
        assert (hard.hardlink, hello.hardlink) in ((f"{base}/hello.txt", ""), ("", f"{base}/hard"))  # one inode
        assert listing[f"{base}/empty"].mode == 0o700
    tar_digest = hashlib.sha256((CORPUS / "addtar" / "files.tar").read_bytes()).hexdigest()
    assert listing["opt/copied.tar"].sha256 == tar_digest
