"""``db update``: download osv.dev's per-ecosystem ``all.zip`` files and import them.

Every zip is downloaded first (into a temporary folder beside the database), and imported only when all of them
arrived: a network failure leaves the database exactly as it was, and says so in one line.
"""

from __future__ import annotations

import os
import tempfile
import urllib.parse
from collections.abc import Callable, Sequence
from pathlib import Path

from dockyard.errors import DockyardError
from dockyard.scan.vuln.db import ImportResult, VulnDB

DEFAULT_URL = "https://osv-vulnerabilities.storage.googleapis.com"
TEMP_KIND = ".osv-download-"  # the downloads of a running update, beside vuln.db
DEFAULT_ECOSYSTEMS = ("Alpine", "Debian", "Ubuntu", "PyPI", "npm", "Go")
URL_ENV = "DOCKYARD_OSV_URL"


class UpdateFailed(DockyardError):
    """The OSV source could not be reached or did not serve a zip; the database is unchanged."""


def base_url(url: str | None = None) -> str:
    return (url or os.environ.get(URL_ENV) or DEFAULT_URL).rstrip("/")


def zip_url(base: str, ecosystem: str) -> str:
    return f"{base.rstrip('/')}/{urllib.parse.quote(ecosystem)}/all.zip"


def update(
    db: VulnDB,
    *,
    url: str | None = None,
    ecosystems: Sequence[str] = (),
    timeout: float = 60.0,
    on_download: Callable[[str, int], None] | None = None,
) -> ImportResult:
    """Download ``<url>/<ecosystem>/all.zip`` for each ecosystem (default: those in the database, else
    :data:`DEFAULT_ECOSYSTEMS`) and import them in one transaction."""
    import httpx

    base = base_url(url)
    wanted = list(ecosystems) or db.ecosystems() or list(DEFAULT_ECOSYSTEMS)
    from dockyard.atomicfile import owned_prefix, sweep_dead

    sweep_dead(db.path.parent, TEMP_KIND)
    with tempfile.TemporaryDirectory(prefix=owned_prefix(TEMP_KIND), dir=db.path.parent) as tmp:
        paths: list[Path] = []
        with httpx.Client(timeout=timeout, follow_redirects=True) as client:
            for eco in wanted:
                target = Path(tmp) / f"{len(paths)}-{eco.replace('/', '_')}-all.zip"
                address = zip_url(base, eco)
                try:
                    with client.stream("GET", address) as resp:
                        if resp.status_code != 200:
                            raise UpdateFailed(
                                f"cannot update the vulnerability database: {address} answered {resp.status_code} "
                                f"{resp.reason_phrase}; the database is unchanged"
                            )
                        size = 0
                        with open(target, "wb") as f:
                            for chunk in resp.iter_bytes(1 << 20):
                                f.write(chunk)
                                size += len(chunk)
                except httpx.HTTPError as exc:
                    reason = str(exc) or type(exc).__name__
                    raise UpdateFailed(
                        f"cannot update the vulnerability database: {address}: {reason}; the database is unchanged"
                    ) from None
                if on_download is not None:
                    on_download(eco, size)
                paths.append(target)
        return db.import_paths(paths, source=base)


__all__ = ["DEFAULT_ECOSYSTEMS", "DEFAULT_URL", "URL_ENV", "UpdateFailed", "base_url", "update", "zip_url"]
