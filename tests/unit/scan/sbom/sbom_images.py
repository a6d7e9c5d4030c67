"""Synthetic images for the SBOM tests, built with dockyard's own image builder, and a Go binary built here."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest

from dockyard.image.base import StaticImage
from dockyard.image.build import Entry, build_image, file, symlink, whiteout

ALPINE_OS_RELEASE = """NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.19.1
PRETTY_NAME="Alpine Linux v3.19"
"""

APK_INSTALLED = """C:Q1abc=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>

C:Q1def=
P:expat
V:2.5.0-r2
A:x86_64
L:MIT
o:expat

C:Q1ghi=
P:libcrypto3
V:3.1.4-r5
A:x86_64
L:Apache-2.0
o:openssl
"""

DIST_INFO = """Metadata-Version: 2.1
Name: {name}
Version: {version}
License: {license}
Summary: a package

long description
"""

EGG_INFO = """Metadata-Version: 1.1
Name: {name}
Version: {version}
"""

SITE = "usr/lib/python3.11/site-packages"

GO_MAIN = """package main

import (
\t"fmt"

\t"example.com/greet"
)

func main() { fmt.Println(greet.Hello()) }
"""


def npm_package(name: str, version: str, license_: str = "MIT") -> bytes:
    return f'{{"name": "{name}", "version": "{version}", "license": "{license_}", "main": "index.js"}}'.encode()


def build_go_binary(workdir: Path) -> Path:
    """``example.com/app`` requiring ``example.com/greet v1.2.3``, replaced by a local directory; no network."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("needs Debian's golang-go (`apt-get install -y golang-go`)")
    greet = workdir / "greet"
    app = workdir / "app"
    greet.mkdir(parents=True)
    app.mkdir()
    (greet / "go.mod").write_text("module example.com/greet\n\ngo 1.19\n")
    (greet / "greet.go").write_text('package greet\n\nfunc Hello() string { return "hello" }\n')
    (app / "go.mod").write_text(
        "module example.com/app\n\ngo 1.19\n\nrequire example.com/greet v1.2.3\n\n"
        "replace example.com/greet => ../greet\n"
    )
    (app / "main.go").write_text(GO_MAIN)
    env = {
        **os.environ,
        "GOPROXY": "off",
        "GOFLAGS": "-mod=mod",
        "GOCACHE": str(workdir / "gocache"),
        "GOPATH": str(workdir / "gopath"),
        "GO111MODULE": "on",
        "CGO_ENABLED": "0",
        "GOTOOLCHAIN": "local",
    }
    out = workdir / "app-bin"
    subprocess.run([go, "build", "-o", str(out), "."], cwd=app, env=env, check=True, capture_output=True)
    return out


def go_version_m(binary: Path) -> str:
    go = shutil.which("go")
    assert go is not None
    return subprocess.run([go, "version", "-m", str(binary)], check=True, capture_output=True, text=True).stdout


def mixed_image(go_binary: bytes | None = None, extra: Sequence[Sequence[Entry]] = ()) -> StaticImage:
    """Alpine base (os-release, apk db); Python packages; npm packages (and a Go binary); a layer that removes
    one Python package with a whiteout and rewrites the apk database with one more package; then ``extra``."""
    base = [
        file("usr/lib/os-release", ALPINE_OS_RELEASE),
        symlink("etc/os-release", "../usr/lib/os-release"),
        file("etc/alpine-release", "3.19.1\n"),
        file("lib/apk/db/installed", APK_INSTALLED),
    ]
    python = [
        file(f"{SITE}/Flask-3.0.0.dist-info/METADATA", DIST_INFO.format(name="Flask", version="3.0.0", license="BSD")),
        file(
            f"{SITE}/zope.interface-6.1.dist-info/METADATA",
            DIST_INFO.format(name="zope.interface", version="6.1", license="ZPL-2.1"),
        ),
        file(
            f"{SITE}/Ruamel_YAML-0.17.21-py3.11.egg-info/PKG-INFO",
            EGG_INFO.format(name="Ruamel_YAML", version="0.17.21"),
        ),
        file(f"{SITE}/six-1.16.0.dist-info/METADATA", DIST_INFO.format(name="six", version="1.16.0", license="MIT")),
    ]
    node = [
        file("app/node_modules/lodash/package.json", npm_package("lodash", "4.17.20")),
        file("app/node_modules/@babel/core/package.json", npm_package("@babel/core", "7.23.0")),
        file("app/node_modules/@babel/core/lib/package.json", b'{"type": "commonjs"}'),
        file("app/node_modules/lodash/node_modules/minimist/package.json", npm_package("minimist", "1.2.5")),
        file("app/package.json", npm_package("myapp", "1.0.0")),
    ]
    if go_binary is not None:
        node.append(file("usr/local/bin/app", go_binary, mode=0o755))
    top = [
        whiteout(f"{SITE}/six-1.16.0.dist-info"),
        file("lib/apk/db/installed", APK_INSTALLED + "\nC:Q1jkl=\nP:zlib\nV:1.3.1-r0\nA:x86_64\nL:Zlib\no:zlib\n"),
    ]
    return build_image([base, python, node, top, *extra])
