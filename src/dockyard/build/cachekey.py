"""BuildKit-style cache keys: a step's key is a hash of its input (the parent step's key), what it does, and
everything it runs with. Each key is the sha256 of a canonical JSON list, so any change to any part is a new key.

What goes in, per step kind (see :mod:`dockyard.build.builder`):

- the base: the image's config digest (its ID) and platform, or ``scratch`` and the platform, or a stage's key;
- RUN: the command, env (with the ARGs in scope), user, workdir, network, bind-mount sources' keys, secret and
  SSH ids (never their contents), tmpfs and cache mount targets (never cache contents);
- COPY/ADD: the sources' content digest, destination, chown, chmod, excludes, and the parent's key — except for
  ``COPY --link``, keyed without its parent so that it survives a change of base;
- WORKDIR: the path and user.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

#: Bump when what a step does with the same inputs changes: every key becomes new.
VERSION: Final = "dockyard-build-1"


def key(*parts: Any) -> str:
    """The key of a step made of ``parts`` (JSON-serialisable values)."""
    text = json.dumps([VERSION, *parts], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def chain(parent: str, link: str) -> str:
    """The key of the state after a ``COPY --link`` layer (keyed alone as ``link``) is put on ``parent``."""
    return key("merge", parent, link)


__all__ = ["VERSION", "chain", "key"]
