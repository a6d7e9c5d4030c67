"""``make demo``: the main job on an embedded default — no external registry, no network beyond 127.0.0.1.

Part 1 writes the bundled sample images as a docker-archive, loads it into a fresh store, and shows
``images``, ``inspect``, ``history``, ``tag``, ``rmi``, ``save``, ``unpack`` and ``system df/check``; then the brief's
Docker Scout example offline (``sbom``, ``db import``, ``scout quickview``, ``scout cves``).
Part 2 builds the two-platform image of ``examples/multiarch`` from its Dockerfile, the arm64 half under QEMU (when
the machine allows: root, runc, qemu-user-static and binfmt_misc; otherwise it says what it skipped — under CI it
must not skip). Part 3 starts a registry on 127.0.0.1 (the CNCF Distribution registry, Debian package
``docker-registry``, which ``make demo`` installs; dockyard's own server will take its place), pushes the sample
image, pulls it back into a second store, assembles a two-platform index with ``imagetools create``, inspects it
and pulls the arm64 image from it.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from dockyard.cli.main import main as cli
from dockyard.image import sample
from dockyard.oci.platform import Platform
from dockyard.transport import docker_archive


def _run(root: Path, *args: str) -> int:
    print(f"\n$ dockyard {' '.join(shlex.quote(a) for a in args)}", flush=True)
    code = cli(["--root", str(root), *args])
    sys.stdout.flush()
    if code != 0:
        raise SystemExit(f"demo step failed with exit code {code}: dockyard {' '.join(args)}")
    return code


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="dockyard-demo-") as tmp:
        work = Path(tmp)
        root = work / "store"
        archive = work / "sample.tar"
        with open(archive, "wb") as f:
            docker_archive.write(
                [(sample.base_image(), ["dockyard/sample:1.0"]), (sample.app_image(), ["dockyard/app:latest"])], f
            )
        print(f"sample docker-archive: {archive} ({archive.stat().st_size} bytes)")
        _run(root, "load", "-i", str(archive))
        _run(root, "images")
        _run(root, "tag", "dockyard/sample:1.0", "myuser/sample:v2")
        _run(root, "images", "--digests")
        _run(
            root,
            "inspect",
            "--format",
            "{{.Id}} {{.Os}}/{{.Architecture}} layers={{len .RootFS.Layers}}",
            "myuser/sample:v2",
        )
        _run(root, "inspect", "dockyard/app")
        _run(root, "history", "dockyard/app")
        _run(root, "system", "df", "-v")
        _run(root, "save", "--format", "oci", "-o", str(work / "app-oci.tar"), "dockyard/app")
        _run(root, "unpack", "dockyard/app", str(work / "rootfs"))
        print("\n$ ls -l rootfs/usr/bin rootfs/var/cache")
        for sub in ("usr/bin", "var/cache"):
            for entry in sorted((work / "rootfs" / sub).iterdir()):
                st = entry.lstat()
                print(f"{oct(st.st_mode)[-5:]} {st.st_size:6d} {sub}/{entry.name}")
        _run(root, "rmi", "myuser/sample:v2")
        _run(root, "rmi", "dockyard/app")
        _run(root, "images")
        _run(root, "system", "check")
        _scout_part(work, root)
        _build_part(work, root)
        _registry_part(work, root)
    print("\ndemo finished: every step above ran against fresh local stores, no daemon, only 127.0.0.1.")
    return 0


def _scout_part(work: Path, root: Path) -> None:
    """The brief's Docker Scout example, offline: the bundled image on a python:3-alpine-like base, scanned
    against bundled OSV records (CVE-2023-52425 and CVE-2023-52426 in expat 2.5.0-r2)."""
    from dockyard.scan import sample as scan_sample

    archive = work / "tu-demo.tar"
    docker_archive.write(
        [(scan_sample.base_image(), ["python:3-alpine"]), (scan_sample.app_image(), ["myuser/tu-demo:latest"])],
        archive,
    )
    _run(root, "load", "-i", str(archive))
    _run(root, "db", "import", str(scan_sample.write_osv(work / "osv")))
    _run(root, "sbom", "myuser/tu-demo:latest")
    _run(root, "scout", "quickview", "myuser/tu-demo:latest")
    _run(root, "scout", "quickview", "myuser/tu-demo:latest")
    _run(root, "scout", "cves", "myuser/tu-demo:latest")


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "multiarch"


def build_unavailable() -> str | None:
    """Why this machine cannot run the demo's two-platform build (None when it can)."""
    from dockyard.build import emulation
    from dockyard.build.runtime import available

    if not (EXAMPLE / "Dockerfile").is_file():
        return f"the repository's {EXAMPLE} is not here"
    reason = available()
    if reason is not None:
        return reason
    st = emulation.status("arm64")
    if st.ready:
        return None
    if not st.kernel_support:
        return "the kernel has no binfmt_misc (CONFIG_BINFMT_MISC): arm64 cannot be emulated"
    if not st.interpreter_present:
        return "QEMU is not installed: install the Debian package qemu-user-static"
    return None


def _build_part(work: Path, root: Path) -> None:
    """``dockyard build`` of examples/multiarch for linux/amd64 and linux/arm64 (QEMU), then the cached rebuild."""
    from dockyard.build import emulation
    from dockyard.debmirror import package_file

    reason = build_unavailable()
    if reason is not None:
        if os.environ.get("CI"):
            raise SystemExit(f"demo: the build part cannot run here ({reason}), and under CI it must not skip")
        print(f"\n# skipped the build part (a two-platform Dockerfile build): {reason}")
        return
    context = work / "multiarch"
    shutil.copytree(EXAMPLE, context)
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "dockyard-demo"
    print("\n# the build context: examples/multiarch and Debian's busybox-static for amd64 and arm64")
    for arch in ("amd64", "arm64"):
        shutil.copy2(package_file("busybox-static", arch, "bin/busybox", cache), context / f"busybox-{arch}")
    was_ready = emulation.status("arm64").ready
    platforms = "linux/amd64,linux/arm64"
    _run(root, "build", "--progress", "plain", "--platform", platforms, "-t", "demo/hello:1", str(context))
    _run(root, "images", "-a")
    _run(root, "history", "demo/hello:1")
    out = work / "hello-files"
    _run(root, "build", "--progress", "plain", "--platform", platforms, "-o", f"type=local,dest={out}", str(context))
    print(f"\n$ cat {out.name}/*/hello {out.name}/*/built-by")
    for sub in sorted(out.iterdir()):
        print(f"{sub.name}: {(sub / 'hello').read_text().strip()}; {(sub / 'built-by').read_text().strip()}")
    if not was_ready:
        emulation.uninstall("arm64")
        print("\n# QEMU's arm64 registration, made for this build, is removed again (`dockyard builder emulation`)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _start_registry(work: Path, binary: str) -> tuple[subprocess.Popen[bytes], str]:
    storage = work / "storage"
    storage.mkdir(parents=True)
    port = _free_port()
    config = {
        "version": "0.1",
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(storage)}, "delete": {"enabled": True}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": os.urandom(8).hex()},
        "health": {"storagedriver": {"enabled": False}},
    }
    (work / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    log = open(work / "registry.log", "wb")  # noqa: SIM115 - lives as long as the process
    proc = subprocess.Popen([binary, "serve", str(work / "config.yml")], stdout=log, stderr=log, env=env)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1) as r:
                if r.status == 200:
                    return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.terminate()
    raise SystemExit(f"docker-registry did not start: {(work / 'registry.log').read_text()[-2000:]}")


def _registry_part(work: Path, root: Path) -> None:
    binary = shutil.which("docker-registry") or shutil.which("docker-registry", path="/usr/bin:/usr/sbin")
    if binary is None:
        print(
            "\n(docker-registry is not installed -- `make demo` installs it as root -- so the registry part is skipped)"
        )
        return
    proc, host = _start_registry(work / "registry", binary)
    print(f"\n# a CNCF Distribution registry on {host} (pid {proc.pid})")
    try:
        archive = work / "arm64.tar"
        with open(archive, "wb") as f:
            docker_archive.write([(sample.app_image(Platform.parse("linux/arm64/v8")), ["dockyard/app:arm64"])], f)
        _run(root, "load", "-i", str(archive))
        _run(root, "load", "-i", str(work / "sample.tar"))
        _run(root, "tag", "dockyard/app", f"{host}/demo/app:1.0-amd64")
        _run(root, "tag", "dockyard/app:arm64", f"{host}/demo/app:1.0-arm64")
        _run(root, "push", f"{host}/demo/app:1.0-amd64")
        _run(root, "push", f"{host}/demo/app:1.0-arm64")
        print("\n# the loaded layers were plain tars: the push sent them gzip-compressed (sizes below, as pushed)")
        _run(root, "manifest", "inspect", f"{host}/demo/app:1.0-amd64")
        _run(root, "system", "df")
        _run(
            root,
            "imagetools",
            "create",
            "-t",
            f"{host}/demo/app:1.0",
            f"{host}/demo/app:1.0-amd64",
            f"{host}/demo/app:1.0-arm64",
        )
        _run(root, "imagetools", "inspect", f"{host}/demo/app:1.0")
        other = work / "store2"
        _run(other, "pull", f"{host}/demo/app:1.0-amd64")
        _run(other, "pull", "--platform", "linux/arm64", f"{host}/demo/app:1.0")
        _run(other, "images", "--digests")
        _run(
            other,
            "inspect",
            "--format",
            "{{.Id}} {{.Os}}/{{.Architecture}} {{json .RepoDigests}}",
            f"{host}/demo/app:1.0",
        )
        _run(other, "system", "check")
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    os.umask(0o022)
    raise SystemExit(main())
