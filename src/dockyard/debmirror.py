"""Files of Debian packages, for the demo's build and the test fixtures: this machine's Debian mirror (from its APT
sources) and one file taken out of a package of any architecture, verified against the archive's SHA256 and cached.
Only the Debian package registry is reached (the same one apt uses)."""

from __future__ import annotations

import contextlib
import hashlib
import lzma
import os
import re
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from dockyard.errors import DigestMismatch, DockyardError, NotFound

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def debian_mirror(suite: str = SUITE) -> str:
    """``$DOCKYARD_DEBIAN_MIRROR`` if set, else the first non-security http(s) URI serving ``suite`` in this
    machine's APT sources, else deb.debian.org."""
    env = os.environ.get("DOCKYARD_DEBIAN_MIRROR")
    if env:
        return env.rstrip("/")
    for uri, suites in apt_sources():
        if suite in suites and uri.startswith(("http://", "https://")) and "security" not in uri:
            return uri.rstrip("/")
    return DEFAULT_MIRROR


def apt_sources() -> Iterator[tuple[str, list[str]]]:
    """(uri, suites) of the enabled binary APT sources, deb822 and one-line style."""
    apt = Path("/etc/apt")
    files = [apt / "sources.list", *sorted((apt / "sources.list.d").glob("*.list"))]
    for f in files:
        with contextlib.suppress(OSError):
            for line in f.read_text(errors="replace").splitlines():
                words = re.sub(r"\[[^]]*\]", " ", line.split("#", 1)[0]).split()
                if len(words) >= 3 and words[0] == "deb":
                    yield words[1], [words[2]]
    for f in sorted((apt / "sources.list.d").glob("*.sources")):
        with contextlib.suppress(OSError):
            for stanza in re.split(r"\n\s*\n", f.read_text(errors="replace")):
                fields: dict[str, str] = {}
                for line in stanza.splitlines():
                    if line.startswith("#") or ":" not in line or line[:1].isspace():
                        continue
                    key, _, value = line.partition(":")
                    fields[key.strip().lower()] = value.strip()
                if "deb" not in fields.get("types", "").split():
                    continue
                if fields.get("enabled", "yes").lower() == "no":
                    continue
                for uri in fields.get("uris", "").split():
                    yield uri, fields.get("suites", "").split()


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp:
            data: bytes = resp.read()
            return data
    except OSError as exc:
        raise DockyardError(f"cannot fetch {url}: {exc}") from None


def package_file(package: str, arch: str, member: str, cache: Path, *, suite: str = SUITE) -> Path:
    """The file ``member`` (``bin/busybox``) of the Debian package ``package`` for ``arch``, cached in ``cache``."""
    from debian import deb822, debfile

    out = cache / f"{package}_{arch}_{member.replace('/', '_')}"
    if out.exists():
        return out
    mirror = debian_mirror(suite)
    index = lzma.decompress(_get(f"{mirror}/dists/{suite}/main/binary-{arch}/Packages.xz"))
    for para in deb822.Packages.iter_paragraphs(index.decode("utf-8", "replace").splitlines(), use_apt_pkg=False):
        if para.get("Package") == package:
            break
    else:
        raise NotFound(f"Debian {suite} has no package {package} for {arch}")
    data = _get(f"{mirror}/{para['Filename']}")
    actual = hashlib.sha256(data).hexdigest()
    if actual != para["SHA256"]:
        raise DigestMismatch(para["SHA256"], actual, f"{package}_{arch}.deb")
    cache.mkdir(parents=True, exist_ok=True)
    deb = cache / f".{package}_{arch}.deb.tmp"
    deb.write_bytes(data)
    try:
        content = debfile.DebFile(str(deb)).data.get_content(member)
    finally:
        deb.unlink(missing_ok=True)
    if content is None:
        raise NotFound(f"{package} ({arch}) holds no {member}")
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(content)
    os.chmod(tmp, 0o755)
    os.replace(tmp, out)
    return out


__all__ = ["DEFAULT_MIRROR", "SUITE", "apt_sources", "debian_mirror", "package_file"]
