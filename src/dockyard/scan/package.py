"""What the SBOM finds and the matcher matches: one installed package, and the operating system of the image."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class OS:
    """The image's operating system, as its release files say, with its OSV ecosystem name.

    ``family`` is ``debian``, ``ubuntu``, ``alpine``, ...; ``ecosystem`` the OSV name: ``Debian:12``,
    ``Ubuntu:22.04:LTS``, ``Alpine:v3.19``.
    """

    family: str
    version: str
    ecosystem: str
    name: str = ""  # PRETTY_NAME


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package.

    ``ecosystem`` is the OSV ecosystem the matcher looks it up in (``Debian:12``, ``Alpine:v3.19``, ``PyPI``,
    ``npm``, ``Go``). Distribution packages carry their source package (``source``, ``source_version``: Debian
    matches on those; apk's origin), language packages leave them empty. ``layer`` is the diff_id of the layer
    that introduced it; ``path`` the file it was found in (the dpkg status, the dist-info METADATA, a binary).
    """

    name: str
    version: str
    ecosystem: str
    purl: str
    kind: str  # the cataloger: "dpkg", "apk", "python", "npm", "go"
    source: str = ""
    source_version: str = ""
    layer: str = ""
    path: str = ""
    licenses: tuple[str, ...] = ()

    @property
    def match_name(self) -> str:
        """The name advisories use: the source package for distributions that publish by source."""
        return self.source or self.name

    @property
    def match_version(self) -> str:
        return self.source_version or self.version


__all__ = ["OS", "Package"]
