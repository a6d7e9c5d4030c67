"""The sample images bundled with dockyard (used by ``make demo`` and the tests): small, real-shaped, built here."""

from __future__ import annotations

from dockyard.image.base import StaticImage
from dockyard.image.build import (
    Entry,
    LayerSpec,
    build_image,
    directory,
    file,
    hardlink,
    opaque,
    symlink,
    whiteout,
)
from dockyard.oci.platform import Platform

_OS_RELEASE = 'PRETTY_NAME="dockyard sample"\nID=dockyard\nVERSION_ID="1"\n'
_CMD = '/bin/sh -c #(nop)  CMD ["/bin/sh"]'


def _root_entries() -> list[Entry]:
    return [
        directory("bin"),
        directory("etc"),
        file("etc/os-release", _OS_RELEASE),
        file("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n"),
        directory("usr"),
        directory("usr/bin"),
        file("usr/bin/hello", "#!/bin/sh\necho hello from dockyard\n", mode=0o755),
        hardlink("usr/bin/hi", "usr/bin/hello"),
        file("usr/bin/su-helper", "setuid helper\n", mode=0o4755),
        directory("usr/lib"),
        symlink("lib", "usr/lib"),
        symlink("proc", "/proc"),
        directory("tmp", mode=0o1777),
        directory("var"),
        directory("var/cache"),
        file("var/cache/old.bin", b"\0" * 4096),
    ]


def _package_entries() -> list[Entry]:
    return [
        directory("usr/share"),
        directory("usr/share/doc"),
        file("usr/share/doc/README", "dockyard sample image\n"),
        whiteout("var/cache/old.bin"),
        opaque("var/cache"),
        file("var/cache/new.bin", "fresh\n"),
    ]


def _base_layers() -> list[LayerSpec]:
    return [
        LayerSpec(_root_entries(), "/bin/sh -c #(nop) ADD file:rootfs in / "),
        LayerSpec(_package_entries(), "/bin/sh -c install-docs"),
    ]


def base_image() -> StaticImage:
    """A two-layer 'OS' image: a root layout, then a layer with a whiteout and an opaque directory."""
    return build_image(
        _base_layers(),
        config={"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["/bin/sh"]},
        empty_history=[(2, _CMD)],
    )


def app_image(platform: Platform | None = None) -> StaticImage:
    """An 'application' image whose first two layers are the base image's (shared blobs); linux/amd64 unless
    ``platform`` says otherwise (the same files: a stand-in for a multi-platform build)."""
    app = [directory("app"), file("app/main.sh", "#!/bin/sh\nhello\n", mode=0o755)]
    return build_image(
        [*_base_layers(), LayerSpec(app, "/bin/sh -c #(nop) COPY app /app")],
        platform=platform,
        config={"Entrypoint": ["/app/main.sh"], "WorkingDir": "/app", "Labels": {"org.example.role": "app"}},
        created="2024-02-01T00:00:00Z",
        empty_history=[(3, '/bin/sh -c #(nop)  ENTRYPOINT ["/app/main.sh"]')],
    )
