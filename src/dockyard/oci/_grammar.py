"""The image reference grammar of github.com/distribution/reference (``regexp.go``), as compiled regexes.

::

    reference        := name [ ":" tag ] [ "@" digest ]
    name             := [domain '/'] remote-name
    domain           := host [':' port-number]
    host             := domain-name | IPv4address | \\[ IPv6address \\]   ; rfc3986 appendix-A
    domain-name      := domain-component ['.' domain-component]*
    domain-component := /([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])/
    port-number      := /[0-9]+/
    path-component   := alpha-numeric [separator alpha-numeric]*
    remote-name      := path-component ['/' path-component]*
    alpha-numeric    := /[a-z0-9]+/
    separator        := /[_.]|__|[-]+/
    tag              := /[\\w][\\w.-]{0,127}/
    digest           := digest-algorithm ":" digest-hex
    digest-algorithm := /[A-Za-z][A-Za-z0-9]*/ ([+.-_] /[A-Za-z][A-Za-z0-9]*/)*
    digest-hex       := /[0-9a-fA-F]{32,}/
    identifier       := /[a-f0-9]{64}/

Differences from Go's ``regexp`` that the port takes care of:

* every pattern is compiled with :data:`re.ASCII`, so ``\\w`` is ``[0-9A-Za-z_]`` as in Go;
* ``[[:xdigit:]]`` is spelled ``[0-9A-Fa-f]``;
* anchoring uses ``\\A`` and ``\\Z``: Python's ``$`` would also match before a trailing newline.

The unanchored regexes (``DOMAIN_RE``, ``NAME_RE``, ...) are Go's exported ``*Regexp`` values; use
``.search`` on them as Go's ``MatchString`` does. Everything else should use the ``ANCHORED_*`` ones.
"""

from __future__ import annotations

import re
from typing import Final


def optional(*res: str) -> str:
    """Wrap in a non-capturing group and make it optional."""
    return "(?:" + "".join(res) + ")?"


def any_times(*res: str) -> str:
    """Wrap in a non-capturing group that may repeat any number of times."""
    return "(?:" + "".join(res) + ")*"


def capture(*res: str) -> str:
    """Wrap in a capturing group."""
    return "(" + "".join(res) + ")"


def anchored(*res: str) -> str:
    """Anchor at the start and the very end of the text."""
    return r"\A" + "".join(res) + r"\Z"


def _compile(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.ASCII)


# --- primitive productions --------------------------------------------------------------------------------------

ALPHANUMERIC: Final = r"[a-z0-9]+"
"""A run of lowercase letters and digits: the atom of path components."""

SEPARATOR: Final = r"(?:[._]|__|[-]+)"
"""One period, one or two underscores, or any number of dashes."""

LOCALHOST: Final = "localhost"
"""The one domain name that needs neither a ``.`` nor a ``:port`` to be taken as a domain."""

DOMAIN_NAME_COMPONENT: Final = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"

OPTIONAL_PORT: Final = r"(?::[0-9]+)?"

TAG: Final = r"[\w][\w.-]{0,127}"
"""A tag: a word character, then up to 127 word characters, periods and dashes."""

DIGEST: Final = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9A-Fa-f]{32,}"
"""``algorithm:hex`` with at least 128 bits of hex."""

IDENTIFIER: Final = r"([a-f0-9]{64})"
"""A bare sha256 image ID (a digest without its algorithm)."""

IPV6ADDRESS: Final = r"\[(?:[a-fA-F0-9:]+)\]"
"""An IPv6 address in square brackets; no zone identifiers, no IPv4-mapped forms."""

DOMAIN_NAME: Final = DOMAIN_NAME_COMPONENT + any_times(r"\.", DOMAIN_NAME_COMPONENT)

HOST: Final = "(?:" + DOMAIN_NAME + "|" + IPV6ADDRESS + ")"

DOMAIN_AND_PORT: Final = HOST + OPTIONAL_PORT
"""A registry domain: host name, IPv4 or bracketed IPv6 address, with an optional port."""

PATH_COMPONENT: Final = ALPHANUMERIC + any_times(SEPARATOR, ALPHANUMERIC)

REMOTE_NAME: Final = PATH_COMPONENT + any_times("/", PATH_COMPONENT)
"""The path of a repository, e.g. ``library/ubuntu``."""

NAME: Final = optional(DOMAIN_AND_PORT, "/") + REMOTE_NAME
"""A repository name with an optional domain, without tag or digest."""

ANCHORED_NAME: Final = anchored(optional(capture(DOMAIN_AND_PORT), "/"), capture(REMOTE_NAME))
"""Captures (1) the domain, unmatched when absent, and (2) the remote name."""

REFERENCE: Final = anchored(capture(NAME), optional(":", capture(TAG)), optional("@", capture(DIGEST)))
"""Captures (1) the name, (2) the tag and (3) the digest; (2) and (3) are unmatched when absent."""


# --- compiled -----------------------------------------------------------------------------------------------------

DIGEST_RE: Final = _compile(DIGEST)
DOMAIN_RE: Final = _compile(DOMAIN_AND_PORT)
IDENTIFIER_RE: Final = _compile(IDENTIFIER)
NAME_RE: Final = _compile(NAME)
TAG_RE: Final = _compile(TAG)

REFERENCE_RE: Final = _compile(REFERENCE)
ANCHORED_NAME_RE: Final = _compile(ANCHORED_NAME)
ANCHORED_TAG_RE: Final = _compile(anchored(TAG))
ANCHORED_DIGEST_RE: Final = _compile(anchored(DIGEST))
ANCHORED_IDENTIFIER_RE: Final = _compile(anchored(IDENTIFIER))
ANCHORED_DOMAIN_RE: Final = _compile(anchored(DOMAIN_AND_PORT))
ANCHORED_REMOTE_NAME_RE: Final = _compile(anchored(REMOTE_NAME))


__all__ = [
    "ALPHANUMERIC",
    "ANCHORED_DIGEST_RE",
    "ANCHORED_DOMAIN_RE",
    "ANCHORED_IDENTIFIER_RE",
    "ANCHORED_NAME",
    "ANCHORED_NAME_RE",
    "ANCHORED_REMOTE_NAME_RE",
    "ANCHORED_TAG_RE",
    "DIGEST",
    "DIGEST_RE",
    "DOMAIN_AND_PORT",
    "DOMAIN_NAME",
    "DOMAIN_NAME_COMPONENT",
    "DOMAIN_RE",
    "HOST",
    "IDENTIFIER",
    "IDENTIFIER_RE",
    "IPV6ADDRESS",
    "LOCALHOST",
    "NAME",
    "NAME_RE",
    "OPTIONAL_PORT",
    "PATH_COMPONENT",
    "REFERENCE",
    "REFERENCE_RE",
    "REMOTE_NAME",
    "SEPARATOR",
    "TAG",
    "TAG_RE",
    "anchored",
    "any_times",
    "capture",
    "optional",
]
