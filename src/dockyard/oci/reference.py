"""Docker image references, parsed and printed exactly as Docker does.

A port of ``ParseNormalizedNamed``, ``FamiliarString``, ``FamiliarName``, ``FamiliarMatch``,
``TagNameOnly`` and ``ParseDockerRef`` from github.com/distribution/reference (v0.6), on top of
the grammar in :mod:`dockyard.oci._grammar`::

    alpine                        -> docker.io/library/alpine
    myuser/app:v2                 -> docker.io/myuser/app:v2
    index.docker.io/x             -> docker.io/library/x
    localhost:5000/a:1            -> localhost:5000/a:1
    alpine:3@sha256:...           -> docker.io/library/alpine:3@sha256:...   (tag and digest both kept)

The first path component is a registry domain when it contains a ``.`` or a ``:``, is
``localhost``, or has an uppercase letter; otherwise the name is on Docker Hub (``docker.io``),
where a one-component path gets the ``library/`` namespace.

One of Docker's quirks is kept on purpose: a first component that contains a ``.`` but is not a
valid host name (``foo_bar.com/app``) is parsed with an empty :attr:`Reference.domain` and the
whole name as :attr:`Reference.path`, as Docker does; such a reference has no registry to
contact (:meth:`Reference.registry_host` refuses it).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from dockyard.errors import InvalidDigest, InvalidReference
from dockyard.oci import _grammar
from dockyard.oci.digest import Digest

DEFAULT_DOMAIN: Final = "docker.io"
"""The domain that names Docker Hub in normalised references."""

LEGACY_DEFAULT_DOMAIN: Final = "index.docker.io"
"""The old name of Docker Hub; normalised to :data:`DEFAULT_DOMAIN`."""

DOCKER_HUB_REGISTRY: Final = "registry-1.docker.io"
"""The host that actually serves Docker Hub's registry API."""

OFFICIAL_REPO_PREFIX: Final = "library/"
"""The Docker Hub namespace of official images (``alpine`` is ``docker.io/library/alpine``)."""

DEFAULT_TAG: Final = "latest"

REPOSITORY_NAME_MAX: Final = 255
"""Longest allowed repository path (the name without its domain), as in distribution/reference v0.6."""


# --- parsing ------------------------------------------------------------------------------------------------------


def _split_docker_domain(name: str) -> tuple[str, str]:
    """Docker's ``splitDockerDomain``: the domain, defaulted to Docker Hub, and the rest."""
    maybe_domain, slash, maybe_remote = name.partition("/")
    if not slash:
        # A single component ("ubuntu", "ubuntu:latest") is always an official Docker Hub image.
        return DEFAULT_DOMAIN, OFFICIAL_REPO_PREFIX + name
    if maybe_domain == _grammar.LOCALHOST:
        domain, remote = maybe_domain, maybe_remote
    elif maybe_domain == LEGACY_DEFAULT_DOMAIN:
        domain, remote = DEFAULT_DOMAIN, maybe_remote
    elif "." in maybe_domain or ":" in maybe_domain or maybe_domain.lower() != maybe_domain:
        domain, remote = maybe_domain, maybe_remote
    else:
        domain, remote = DEFAULT_DOMAIN, name
    if domain == DEFAULT_DOMAIN and "/" not in remote:
        remote = OFFICIAL_REPO_PREFIX + remote
    return domain, remote


def _parse(text: str) -> tuple[str, str, str | None, Digest | None]:
    """``ParseNormalizedNamed``: (domain, path, tag, digest), or :class:`InvalidReference`."""
    if not isinstance(text, str):
        raise InvalidReference(f"invalid reference format: want a string, got {type(text).__name__}")
    if not text:
        raise InvalidReference("invalid reference format: the reference is empty")
    if _grammar.ANCHORED_IDENTIFIER_RE.match(text):
        raise InvalidReference(f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings")
    domain, remainder = _split_docker_domain(text)
    remote = remainder.partition(":")[0]
    if remote.lower() != remote:
        raise InvalidReference(f"invalid reference format: repository name ({remote}) must be lowercase")

    full = domain + "/" + remainder
    match = _grammar.REFERENCE_RE.match(full)
    if match is None:
        lowered = full.lower()
        if lowered != full and _grammar.REFERENCE_RE.match(lowered):
            raise InvalidReference(f"invalid reference format: repository name ({text}) must be lowercase")
        raise InvalidReference(f"invalid reference format: {text!r}")
    name, tag, digest_text = match.group(1), match.group(2), match.group(3)

    name_match = _grammar.ANCHORED_NAME_RE.match(name)
    if name_match is None:  # pragma: no cover - REFERENCE_RE already matched this name
        raise InvalidReference(f"invalid reference format: {text!r}")
    found_domain: str = name_match.group(1) or ""
    path: str = name_match.group(2)
    if len(path) > REPOSITORY_NAME_MAX:
        raise InvalidReference(
            f"invalid reference format: repository name ({path}) must not be more than {REPOSITORY_NAME_MAX} characters"
        )

    digest = None
    if digest_text is not None:
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest as exc:
            raise InvalidReference(f"invalid reference format: {text!r}: {exc}") from None
    return found_domain, path, tag, digest


# --- the reference ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reference:
    """A normalised image reference: ``domain/path[:tag][@digest]``.

    Build one with :meth:`parse`. Constructing it directly checks that the fields are already in
    normalised form (``Reference("docker.io", "alpine")`` is refused: it is
    ``Reference("docker.io", "library/alpine")``).
    """

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.domain, str) or not isinstance(self.path, str):
            raise InvalidReference(f"invalid reference: domain and path must be strings, got {self.domain!r}")
        if self.tag is not None and (not isinstance(self.tag, str) or not _grammar.ANCHORED_TAG_RE.match(self.tag)):
            raise InvalidReference(f"invalid tag format: {self.tag!r}")
        if self.digest is not None and not isinstance(self.digest, Digest):
            raise InvalidReference(f"invalid digest {self.digest!r}: want a Digest")
        name = self.repository
        if _parse(name) != (self.domain, self.path, None, None):
            raise InvalidReference(
                f"repository name {name!r} is not in normalised form (domain {self.domain!r}, path {self.path!r})"
            )

    @classmethod
    def parse(cls, text: str) -> Reference:
        """Parse a reference as ``docker pull``/``docker tag`` do (Docker's ``ParseNormalizedNamed``)."""
        domain, path, tag, digest = _parse(text)
        return cls(domain, path, tag, digest)

    # --- names ----------------------------------------------------------------------------------------------

    @property
    def repository(self) -> str:
        """The full repository name: ``docker.io/library/alpine``."""
        return f"{self.domain}/{self.path}" if self.domain else self.path

    @property
    def name(self) -> str:
        """Docker's ``Name()``: the same as :attr:`repository`."""
        return self.repository

    @property
    def identifier(self) -> str | None:
        """What to ask a registry for: the digest when there is one, else the tag, else ``None``."""
        if self.digest is not None:
            return str(self.digest)
        return self.tag

    def familiar_name(self) -> str:
        """Docker's ``FamiliarName``: ``alpine``, ``myuser/app``, ``localhost:5000/a``."""
        domain, path = self.domain, self.path
        if domain == DEFAULT_DOMAIN:
            domain = ""
            # Only "library/<name>", not "library/<a>/<b>", is shortened.
            if path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in path[len(OFFICIAL_REPO_PREFIX) :]:
                path = path[len(OFFICIAL_REPO_PREFIX) :]
        return f"{domain}/{path}" if domain else path

    def familiar(self) -> str:
        """Docker's ``FamiliarString``: ``alpine:latest``, ``myuser/app:v2``, ``alpine@sha256:...``."""
        return self.familiar_name() + self._suffix()

    def registry_host(self) -> str:
        """The host (and port) to contact: ``registry-1.docker.io`` for Docker Hub, else the domain."""
        if self.domain == DEFAULT_DOMAIN:
            return DOCKER_HUB_REGISTRY
        if not self.domain:
            raise InvalidReference(f"reference {str(self)!r} names no registry domain")
        return self.domain

    # --- derived references -------------------------------------------------------------------------------

    def with_tag(self, tag: str) -> Reference:
        """The same repository with ``tag`` (a digest, if any, is kept, as Docker's ``WithTag``)."""
        return dataclasses.replace(self, tag=tag)

    def with_digest(self, digest: Digest | str) -> Reference:
        """The same repository with ``digest`` (a tag, if any, is kept, as Docker's ``WithDigest``)."""
        if not isinstance(digest, Digest):
            try:
                digest = Digest.parse(digest)
            except InvalidDigest as exc:
                raise InvalidReference(f"invalid digest for {self.repository}: {exc}") from None
        return dataclasses.replace(self, digest=digest)

    def untagged(self) -> Reference:
        """The bare repository, without tag or digest (Docker's ``TrimNamed``)."""
        return dataclasses.replace(self, tag=None, digest=None)

    def with_default_tag(self) -> Reference:
        """Add the ``latest`` tag when there is neither tag nor digest (Docker's ``TagNameOnly``)."""
        if self.tag is None and self.digest is None:
            return dataclasses.replace(self, tag=DEFAULT_TAG)
        return self

    def docker_ref(self) -> Reference:
        """Docker's ``ParseDockerRef``: digest only when there is one (the tag dropped), else tagged."""
        if self.digest is not None:
            return dataclasses.replace(self, tag=None) if self.tag is not None else self
        return self.with_default_tag()

    # --- printing -------------------------------------------------------------------------------------------

    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + str(self.digest)
        return out

    def __str__(self) -> str:
        """The full normalised form: ``docker.io/library/alpine:latest`` (a tag only if one is set)."""
        return self.repository + self._suffix()


def parse(text: str) -> Reference:
    """Module-level alias of :meth:`Reference.parse`."""
    return Reference.parse(text)


# --- FamiliarMatch ------------------------------------------------------------------------------------------------


class _BadPattern(Exception):
    """Go's ``path.ErrBadPattern``."""


def _scan_chunk(pattern: str) -> tuple[bool, str, str]:
    """The next segment of ``pattern``: a run of ``*`` (``star``), then a star-free chunk."""
    star = False
    while pattern and pattern[0] == "*":
        pattern = pattern[1:]
        star = True
    in_range = False
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif char == "[":
            in_range = True
        elif char == "]":
            in_range = False
        elif char == "*" and not in_range:
            return star, pattern[:i], pattern[i:]
        i += 1
    return star, pattern, ""


def _get_esc(chunk: str) -> tuple[str, str]:
    """A possibly escaped character of a character class, and the rest of the chunk."""
    if not chunk or chunk[0] in "-]":
        raise _BadPattern
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            raise _BadPattern
    rest = chunk[1:]
    if not rest:
        raise _BadPattern
    return chunk[0], rest


def _match_chunk(chunk: str, s: str) -> tuple[str, bool]:
    """Whether ``chunk`` matches the start of ``s``, and what of ``s`` is left; checks the whole chunk."""
    failed = False
    while chunk:
        if not failed and not s:
            failed = True
        head = chunk[0]
        if head == "[":
            char = "\x00"
            if not failed:
                char, s = s[0], s[1:]
            chunk = chunk[1:]
            negated = False
            if chunk and chunk[0] == "^":
                negated = True
                chunk = chunk[1:]
            matched = False
            ranges = 0
            while True:
                if chunk and chunk[0] == "]" and ranges > 0:
                    chunk = chunk[1:]
                    break
                lo, chunk = _get_esc(chunk)
                hi = lo
                if chunk[0] == "-":
                    hi, chunk = _get_esc(chunk[1:])
                if lo <= char <= hi:
                    matched = True
                ranges += 1
            if matched == negated:
                failed = True
        elif head == "?":
            if not failed:
                if s[0] == "/":
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
        else:
            if head == "\\":
                chunk = chunk[1:]
                if not chunk:
                    raise _BadPattern
            if not failed:
                if chunk[0] != s[0]:
                    failed = True
                s = s[1:]
            chunk = chunk[1:]
    if failed:
        return "", False
    return s, True


def _go_path_match(pattern: str, name: str) -> bool:
    """A port of Go's ``path.Match``; raises :class:`_BadPattern` for a malformed pattern."""
    while pattern:
        star, chunk, pattern = _scan_chunk(pattern)
        if star and not chunk:
            # A trailing * matches the rest of the name unless it has a /.
            return "/" not in name
        rest, ok = _match_chunk(chunk, name)
        if ok and (not rest or pattern):
            name = rest
            continue
        if star:
            advanced = False
            i = 0
            while i < len(name) and name[i] != "/":
                rest, ok = _match_chunk(chunk, name[i + 1 :])
                i += 1
                if ok:
                    if not pattern and rest:
                        continue
                    name = rest
                    advanced = True
                    break
            if advanced:
                continue
        # Before answering no, check that the rest of the pattern is well formed.
        while pattern:
            _, chunk, pattern = _scan_chunk(pattern)
            _match_chunk(chunk, "")
        return False
    return not name


def path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``: ``*``, ``?`` and ``[...]`` never match ``/``.

    Raises :class:`InvalidReference` when ``pattern`` is malformed.
    """
    try:
        return _go_path_match(pattern, name)
    except _BadPattern:
        raise InvalidReference(f"invalid reference pattern {pattern!r}: syntax error in pattern") from None


def check_taggable(ref: Reference) -> None:
    """Docker's reference store refuses names that read like digests (``sha256:abc`` as repo ``sha256``)."""
    if ref.familiar_name() == "sha256":
        raise InvalidReference("refusing to create an ambiguous tag using digest algorithm as name")


def familiar_match(pattern: str, ref: Reference) -> bool:
    """Docker's ``FamiliarMatch``, as ``docker images --filter reference=PATTERN`` uses it.

    ``pattern`` is matched (with :func:`path_match`) against the familiar string
    (``alpine:latest``) and, failing that, against the familiar name (``alpine``). Raises
    :class:`InvalidReference` when ``pattern`` is malformed.
    """
    if path_match(pattern, ref.familiar()):
        return True
    try:
        return _go_path_match(pattern, ref.familiar_name())
    except _BadPattern:  # pragma: no cover - the first match already checked the pattern
        return False


__all__ = [
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "DOCKER_HUB_REGISTRY",
    "LEGACY_DEFAULT_DOMAIN",
    "OFFICIAL_REPO_PREFIX",
    "REPOSITORY_NAME_MAX",
    "Reference",
    "familiar_match",
    "parse",
    "path_match",
]
