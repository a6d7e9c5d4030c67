"""Registry pull and push: dockyard against skopeo and podman on a local CNCF Distribution registry, one run.

    PYTHONPATH=tests python bench/bench_registry.py [--runs N] [--no-profile]

Two images: a 200 MB single-layer image (random and text-like files, built with dockyard's own code) and the
Debian bookworm minbase test fixture. A pull registry is populated once with ``skopeo copy oci:... docker://...``;
every pull goes into an empty store / directory / podman root, every push to a fresh registry (and a fresh
repository name), so no blob is skipped or mounted (skopeo's blob-info cache would turn a repeated push into
mounts). Prints medians and ratios (dockyard / peer); lower is better for dockyard. Then, unless ``--no-profile``,
where the time of ``dockyard pull`` / ``push`` of each image goes: startup and imports, cProfile of the CLI (main
thread), and a wall-clock split (network, inflate/hash, disk/fsync, upload) measured step by step in this process.

The dockyard commands run with a bytecode cache in the scratch directory (as an installed package has one; this
environment sets PYTHONDONTWRITEBYTECODE=1, which makes every command compile its modules again: ~40 ms). Everything
(registries, stores, layouts) lives in one temporary directory, removed at the end; all registries are stopped.
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import io
import json
import os
import pstats
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import _common  # first: it puts src/ and tests/ on sys.path
import registry_util
from _common import dockyard, fixtures_util, fresh, median_time, report, sh, which

from dockyard.image.build import build_image, directory, file
from dockyard.oci.digest import Digest
from dockyard.oci.reference import Reference
from dockyard.store.store import Store
from dockyard.transport import oci_layout

MB = 1 << 20
REGISTRY = "docker-registry"
OCI_TYPES = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"


# --------------------------------------------------------------------------- the images


def build_big_layout(out: Path, files: int = 8, random_mb: int = 19, text_mb: int = 6) -> None:
    """A one-layer image of ``files`` files of ``random_mb`` MiB of random bytes followed by ``text_mb`` MiB of
    word salad (200 MiB of tar; gzip keeps ~85% of it), as an OCI layout with tag ``v1`` (``bench/big:v1``)."""
    rng = random.Random(20241)
    words = [bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(3, 10))) for _ in range(2000)]

    def text(n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += b" ".join(rng.choices(words, k=4096)) + b"\n"
        return bytes(out[:n])

    entries = [directory("data")]
    for i in range(files):
        entries.append(file(f"data/blob{i}.bin", rng.randbytes(random_mb * MB) + text(text_mb * MB)))
    image = build_image([entries])
    oci_layout.write([(image, ["bench/big:v1"])], out, as_tar=False)


class Layout:
    """An OCI layout of one image: its tag, manifest, config and single layer (sizes read from the blobs)."""

    def __init__(self, label: str, path: Path, tag: str, repo: str) -> None:
        self.label = label
        self.path = path
        self.tag = tag
        self.repo = repo  # repository name used in the registries and the dockyard stores
        index = json.loads((path / "index.json").read_text())
        [desc] = [
            m for m in index["manifests"] if m.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag
        ]
        self.manifest_digest: str = desc["digest"]
        manifest = json.loads(self.blob(self.manifest_digest).read_bytes())
        self.config_digest: str = manifest["config"]["digest"]
        self.layers: list[dict[str, object]] = manifest["layers"]
        self.compressed = sum(int(str(layer["size"])) for layer in self.layers)

    def blob(self, digest: str) -> Path:
        algorithm, _, hexa = digest.partition(":")
        return self.path / "blobs" / algorithm / hexa

    @property
    def oci(self) -> str:
        return f"oci:{self.path}:{self.tag}"


# --------------------------------------------------------------------------- registries and helpers


class Registries:
    """Distribution registries started by this run (each in its own directory); all stopped by :meth:`stop_all`."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.running: list[registry_util.Registry] = []
        self.count = 0

    def start(self) -> registry_util.Registry:
        self.count += 1
        reg = registry_util.start_registry(self.work / f"reg{self.count}", binary=REGISTRY)
        self.running.append(reg)
        return reg

    def stop(self, reg: registry_util.Registry) -> None:
        reg.stop()
        self.running.remove(reg)
        fixtures_util.remove_tree(reg.root.parent)

    def stop_all(self) -> None:
        for reg in list(self.running):
            with suppress(Exception):
                self.stop(reg)

    @contextmanager
    def fresh(self) -> Iterator[registry_util.Registry]:
        reg = self.start()
        try:
            yield reg
        finally:
            self.stop(reg)


def skopeo(*args: str) -> None:
    sh("skopeo", "--insecure-policy", *args)


def manifest_digest_in(reg: registry_util.Registry, repo: str, tag: str) -> str:
    """The digest the registry has for ``repo:tag`` (raises if it has no such manifest)."""
    conn = http.client.HTTPConnection("127.0.0.1", reg.port, timeout=30)
    try:
        conn.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_TYPES})
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise RuntimeError(f"{reg.host}/{repo}:{tag}: status {response.status}")
        return "sha256:" + hashlib.sha256(body).hexdigest()
    finally:
        conn.close()


def check_store(root: Path, ref: str, image: Layout) -> None:
    """The store has ``ref`` as the expected image, with its layer blobs in place."""
    parsed = Reference.parse(ref)
    store = Store(root)
    got = store.meta.tag_target(parsed.repository, parsed.tag or "latest")
    if got != image.config_digest:
        raise RuntimeError(f"dockyard pull {ref}: the store has {got}, expected {image.config_digest}")
    for layer in image.layers:
        digest = str(layer["digest"])
        if store.blobs.size(Digest.parse(digest)) != layer["size"]:
            raise RuntimeError(f"dockyard pull {ref}: layer {digest} has the wrong size")


# --------------------------------------------------------------------------- pull and push comparisons


def bench_pull(work: Path, reg: registry_util.Registry, image: Layout, runs: int) -> tuple[float, float | None]:
    """dockyard pull vs skopeo copy and podman pull; returns (dockyard, skopeo) medians."""
    ref = f"{reg.host}/{image.repo}:{image.tag}"
    store = work / "pull-store"
    ours = median_time(
        lambda: dockyard("pull", "-q", ref, root=store),
        runs,
        setup=lambda: fresh(store),
        check=lambda: check_store(store, ref, image),
    )
    fixtures_util.remove_tree(store)

    peer = None
    if which("skopeo"):
        out = work / "pull-oci"

        def check_oci() -> None:
            if not (out / "blobs" / "sha256" / image.manifest_digest.partition(":")[2]).is_file():
                raise RuntimeError(f"skopeo copy {ref}: no manifest {image.manifest_digest} in {out}")

        peer = median_time(
            lambda: skopeo("copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"oci:{out}:{image.tag}"),
            runs,
            setup=lambda: fixtures_util.remove_tree(out),
            check=check_oci,
        )
        fixtures_util.remove_tree(out)
    report(f"pull {image.label}", ours, "skopeo", peer)

    podman = None
    if which("podman"):
        state = work / "pd"  # short: podman refuses a runroot longer than 50 characters
        pod = fixtures_util.podman_command(state)
        podman = median_time(
            lambda: sh(*pod, "pull", "-q", "--tls-verify=false", ref),
            runs,
            setup=lambda: fresh(state),
            check=lambda: sh(*pod, "image", "exists", ref),
        )
        fixtures_util.remove_tree(state)
    report(f"pull {image.label}", ours, "podman", podman)
    return ours, peer


def bench_push(work: Path, registries: Registries, image: Layout, runs: int) -> tuple[float, float | None]:
    """dockyard push vs skopeo copy, each to a fresh registry; returns (dockyard, skopeo) medians."""
    store = fresh(work / "push-store")
    local = f"bench/{image.repo}:{image.tag}"
    dockyard("load", "-q", "-i", str(image.path), "--name", f"bench/{image.repo}", root=store)
    regs: list[registry_util.Registry] = []
    pushed: list[str] = []

    def start() -> None:
        reg = registries.start()
        regs.append(reg)
        name = f"{image.repo}-{secrets.token_hex(4)}"  # fresh repository too: nothing to skip or mount from
        pushed.append(name)
        dockyard("tag", local, f"{reg.host}/{name}:{image.tag}", root=store)

    def push_ours() -> None:
        dockyard("push", "-q", f"{regs[-1].host}/{pushed[-1]}:{image.tag}", root=store)

    def check_and_stop() -> None:
        reg = regs.pop()
        try:
            got = manifest_digest_in(reg, pushed[-1], image.tag)
            if got != image.manifest_digest:
                raise RuntimeError(f"push to {reg.host}: manifest {got}, expected {image.manifest_digest}")
        finally:
            registries.stop(reg)

    ours = median_time(push_ours, runs, setup=start, check=check_and_stop)
    fixtures_util.remove_tree(store)

    peer = None
    if which("skopeo"):

        def start_peer() -> None:
            regs.append(registries.start())
            pushed.append(f"{image.repo}-{secrets.token_hex(4)}")

        def push_peer() -> None:
            skopeo(
                "copy", "-q", "--dest-tls-verify=false", image.oci, f"docker://{regs[-1].host}/{pushed[-1]}:{image.tag}"
            )

        peer = median_time(push_peer, runs, setup=start_peer, check=check_and_stop)
    report(f"push {image.label}", ours, "skopeo", peer)
    return ours, peer


def bench_push_loaded(work: Path, registries: Registries, runs: int) -> tuple[float, float | None]:
    """A loaded docker-archive (plain tar layers) pushed: dockyard compresses them (gzip) as skopeo does from the
    same archive; each run from a fresh store (so the compressed copy is made again) to a fresh registry."""
    archive = fixtures_util.ensure_debian_docker_archive()
    regs: list[registry_util.Registry] = []
    stores: list[Path] = []

    def start() -> None:
        regs.append(registries.start())
        store = fresh(work / f"loaded-{secrets.token_hex(4)}")
        stores.append(store)
        dockyard("load", "-q", "-i", str(archive), root=store)
        dockyard("tag", "debian:bookworm", f"{regs[-1].host}/loaded/debian:v1", root=store)

    def push_ours() -> None:
        dockyard("push", "-q", f"{regs[-1].host}/loaded/debian:v1", root=stores[-1])

    def stop() -> None:
        registries.stop(regs.pop())
        if stores:
            fixtures_util.remove_tree(stores.pop())

    ours = median_time(push_ours, runs, setup=start, check=stop)
    peer = None
    if which("skopeo"):

        def start_peer() -> None:
            regs.append(registries.start())

        def push_peer() -> None:
            skopeo(
                "copy", "-q", "--dest-tls-verify=false", f"docker-archive:{archive}", f"docker://{regs[-1].host}/l/d:v1"
            )

        def stop_peer() -> None:
            registries.stop(regs.pop())

        peer = median_time(push_peer, runs, setup=start_peer, check=stop_peer)
    report("push of the loaded Debian docker-archive (gzip on the way)", ours, "skopeo", peer)
    return ours, peer


# --------------------------------------------------------------------------- profiling


def _src_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(_common.ROOT / "src")}


def _short(func: tuple[str, int, str]) -> str:
    filename, line, name = func
    if filename == "~":
        return name
    filename = re.sub(r"^.*/site-packages/", "", filename)
    filename = re.sub(r"^.*/src/dockyard/", "dockyard/", filename)
    filename = re.sub(r"^.*/lib/python3\.\d+/", "", filename)
    return f"{filename}:{line}({name})"


def cprofile_cli(args: list[str], root: Path, out: Path, top: int = 14) -> None:
    """``python -m cProfile -m dockyard ...``: the functions with the most own time (main thread only)."""
    cmd = [sys.executable, "-m", "cProfile", "-o", str(out), "-m", "dockyard", "--root", str(root), *args]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=_src_env())
    stats = pstats.Stats(str(out))
    total = stats.total_tt  # type: ignore[attr-defined]
    print(f"  cProfile of `dockyard {' '.join(args[:2])} ...` (main thread; {total:.3f} s profiled):")
    print(f"    {'tottime':>8} {'cumtime':>8} {'calls':>7}  function")
    rows = sorted(stats.stats.items(), key=lambda kv: kv[1][2], reverse=True)  # type: ignore[attr-defined]
    for func, (_cc, nc, tt, ct, _callers) in rows[:top]:
        print(f"    {tt:8.3f} {ct:8.3f} {nc:7d}  {_short(func)}")


def import_time(args: list[str], root: Path, *, pyc: bool = True) -> tuple[float, list[tuple[float, str]]]:
    """Seconds of imports (``-X importtime``: sum of the top-level cumulative times) and the heaviest ones;
    ``pyc=False``: compiling every module from source, as with ``PYTHONDONTWRITEBYTECODE`` and no cache."""
    env = _src_env()
    if not pyc:
        env = {k: v for k, v in env.items() if k != "PYTHONPYCACHEPREFIX"}  # site-packages keep their .pyc
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "dockyard", "--root", str(root), *args],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    top: list[tuple[float, str]] = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| ( *)(\S+)", line)
        if m and not m.group(3):
            top.append((int(m.group(2)) / 1e6, m.group(4)))
    return sum(t for t, _ in top), sorted(top, reverse=True)[:5]


def _line(label: str, seconds: float, note: str = "") -> None:
    print(f"  {label:<58} {seconds:6.3f} s{'  ' + note if note else ''}", flush=True)


def profile_pull(
    work: Path, reg: registry_util.Registry, image: Layout, cli_pull: float, skopeo_pull: float | None
) -> None:
    from isal import isal_zlib

    from dockyard import pull as pull_mod
    from dockyard.layers.digesting import copy_and_digest
    from dockyard.transport import remote

    ref = f"{reg.host}/{image.repo}:{image.tag}"
    [layer] = image.layers
    digest = Digest.parse(str(layer["digest"]))
    diff_id = _diff_id(image)
    store = work / "prof-store"
    print(f"profile: dockyard pull {image.label} ({image.compressed / 1e6:.1f} MB gzip blob)", flush=True)

    imports, heavy = import_time(["pull", "-q", ref], fresh(store))
    no_pyc, _ = import_time(["pull", "-q", ref], fresh(store), pyc=False)
    fresh(store)
    cprofile_cli(["pull", "-q", ref], store, work / f"{image.repo}-pull.prof")

    client = remote.client_for(reg.host)
    blob = image.blob(str(digest)).read_bytes()
    tar = isal_zlib.decompress(blob, 31)
    piece = 64 << 10  # what a read of the registry stream returns (httpcore reads the socket 64 KiB at a time)

    def network(verify: bool) -> None:
        with client.open_blob(image.repo, digest, verify=verify) as s:
            while s.read(MB):
                pass

    def inflate_only() -> None:
        d = isal_zlib.decompressobj(31)
        for i in range(0, len(blob), piece):
            d.decompress(blob[i : i + piece])

    def disk(sync: bool) -> None:
        target = work / "disk-probe"
        with open(target, "wb") as f:
            for i in range(0, len(blob), piece):
                f.write(blob[i : i + piece])
            f.flush()
            if sync:
                os.fsync(f.fileno())
        target.unlink()

    def put_layer() -> None:
        s = Store(fresh(store))
        with client.open_blob(image.repo, digest, verify=False) as src:
            s.blobs.put_layer(src, digest, diff_id, len(blob))

    def in_process() -> None:
        pull_mod.pull(Store(fresh(store)), Reference.parse(ref))

    r = 3
    print(f"  wall-clock split (medians of {r}, in this process; the tar is {len(tar) / 1e6:.1f} MB):")
    in_proc = median_time(in_process, r)
    _line("CLI `dockyard pull` (median above)", cli_pull)
    _line("pull.pull() in-process", in_proc, f"-> startup/CLI overhead {cli_pull - in_proc:.3f} s")
    _line(
        "imports (-X importtime, sum of top-level cumulative)", imports, ", ".join(f"{n} {t:.3f}" for t, n in heavy[:3])
    )
    _line("imports with no bytecode cache (PYTHONDONTWRITEBYTECODE=1)", no_pyc, "what this VM's environment sets")
    _line("network only: BlobStream read, no hashing", median_time(lambda: network(False), r))
    _line("network + sha256 (BlobStream verify=True)", median_time(lambda: network(True), r))
    _line("sha256 of the compressed blob, in memory   [main thread]", median_time(lambda: hashlib.sha256(blob), r))
    _line("gzip inflate (ISA-L, 64 KiB steps), memory [main thread]", median_time(inflate_only, r))
    _line("sha256 of the tar, in memory          [background thread]", median_time(lambda: hashlib.sha256(tar), r))
    _line(
        "copy_and_digest from memory (inflate + both hashes)",
        median_time(lambda: _digest_bytes(copy_and_digest, blob), r),
    )
    _line("write in 64 KiB pieces to the store's disk, no fsync", median_time(lambda: disk(False), r))
    _line("write in 64 KiB pieces + fsync", median_time(lambda: disk(True), r))
    _line("BlobStore.put_layer from the registry (all of the above)", median_time(put_layer, r))
    if skopeo_pull is not None:
        _line("skopeo copy (median above): net + sha256 + write + fsync", skopeo_pull, "no inflate, no diff_id")
    client.close()
    fixtures_util.remove_tree(store)


def _digest_bytes(copy_and_digest: Callable[..., object], blob: bytes) -> None:
    copy_and_digest(io.BytesIO(blob), None)


def _diff_id(image: Layout) -> Digest:
    config = json.loads(image.blob(image.config_digest).read_bytes())
    return Digest.parse(config["rootfs"]["diff_ids"][0])


def profile_push(work: Path, registries: Registries, image: Layout, cli_push: float, skopeo_push: float | None) -> None:
    from dockyard.push import CHUNK_SIZE, CHUNKED_ABOVE, upload_image
    from dockyard.transport import remote

    print(f"profile: dockyard push {image.label} ({image.compressed / 1e6:.1f} MB gzip blob)", flush=True)
    store = fresh(work / "prof-push-store")
    local = f"bench/{image.repo}:{image.tag}"
    dockyard("load", "-q", "-i", str(image.path), "--name", f"bench/{image.repo}", root=store)
    with registries.fresh() as reg:
        target = f"{reg.host}/{image.repo}:{image.tag}"
        dockyard("tag", local, target, root=store)
        cprofile_cli(["push", "-q", target], store, work / f"{image.repo}-push.prof")

    s = Store(store)
    img = s.image_by_id(str(s.meta.tag_target(f"docker.io/bench/{image.repo}", image.tag)))
    [layer] = img.layers()
    desc = layer.descriptor()
    path = s.blobs.path(desc.digest)

    def read_blob() -> None:
        with open(path, "rb") as f:
            while f.read(MB):
                pass

    def fresh_registry(fn: Callable[[object, str], object]) -> Callable[[], None]:
        def run() -> None:
            with registries.fresh() as reg:
                client = remote.client_for(reg.host)
                try:
                    fn(client, f"{image.repo}-{secrets.token_hex(4)}")
                finally:
                    client.close()

        return run

    def upload(chunk: int | None) -> Callable[[object, str], object]:
        def go(client: object, repo: str) -> None:
            with open(path, "rb") as f:
                client.upload_blob(repo, desc.digest, f, desc.size, chunk)  # type: ignore[attr-defined]

        return go

    def whole(client: object, repo: str) -> None:
        upload_image(client, repo, img, image.tag, emit=lambda _e: None)  # type: ignore[arg-type]

    r = 3
    print(
        f"  wall-clock split (medians of {r}, in this process; each upload to a fresh registry, its start not timed):"
    )
    in_proc = _timed_inside(fresh_registry, whole, r)
    _line("CLI `dockyard push` (median above)", cli_push)
    _line("push.upload_image() in-process", in_proc, f"-> startup/CLI overhead {cli_push - in_proc:.3f} s")
    _line("read the blob from the store (page cache)", median_time(read_blob, r))
    chunked = desc.size > CHUNKED_ABOVE
    _line(
        f"upload_blob, PATCH chunks of {CHUNK_SIZE >> 20} MiB",
        _timed_inside(fresh_registry, upload(CHUNK_SIZE), r),
        "what push does" if chunked else "what-if",
    )
    _line(
        "upload_blob, one streamed PUT (chunk_size=None)",
        _timed_inside(fresh_registry, upload(None), r),
        "what-if" if chunked else "what push does",
    )
    if skopeo_push is not None:
        _line("skopeo copy (median above): one streamed PATCH + PUT", skopeo_push)
    fixtures_util.remove_tree(store)


def _timed_inside(
    wrap: Callable[[Callable[[object, str], object]], Callable[[], None]],
    fn: Callable[[object, str], object],
    runs: int,
) -> float:
    """Median time of ``fn(client, repo)`` alone, inside ``wrap`` (which starts and stops a registry)."""
    times: list[float] = []

    def timed(client: object, repo: str) -> None:
        t0 = time.perf_counter()
        fn(client, repo)
        times.append(time.perf_counter() - t0)

    for _ in range(runs):
        wrap(timed)()
    return statistics.median(times)


# --------------------------------------------------------------------------- main


def warm_up(work: Path, registries: Registries, source: registry_util.Registry, image: Layout) -> None:
    """One untimed pull and push: fills the bytecode cache and the registry's page cache."""
    store = fresh(work / "warm-store")
    ref = f"{source.host}/{image.repo}:{image.tag}"
    dockyard("pull", "-q", ref, root=store)
    with registries.fresh() as reg:
        target = f"{reg.host}/{image.repo}:{image.tag}"
        dockyard("tag", ref, target, root=store)
        dockyard("push", "-q", target, root=store)
    fixtures_util.remove_tree(store)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-profile", action="store_true", help="only the comparisons")
    ap.add_argument("--loaded-only", action="store_true", help="only the push of a loaded docker-archive")
    opts = ap.parse_args()
    runs = opts.runs
    if not which(REGISTRY):
        print(f"{REGISTRY} is not installed (`make deps`): nothing to measure")
        return
    debian = fixtures_util.ensure_debian_oci_layout()
    with tempfile.TemporaryDirectory(prefix="dy-reg-", dir="/tmp") as tmp:
        work = Path(tmp)
        # The dockyard commands get a bytecode cache (in the scratch directory, not the checkout), as an installed
        # package has: without one (PYTHONDONTWRITEBYTECODE=1 here) each command compiles its modules again.
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        os.environ["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        registries = Registries(work / "registries")
        if opts.loaded_only:
            try:
                bench_push_loaded(work, registries, runs)
            finally:
                registries.stop_all()
            return
        try:
            t0 = time.perf_counter()
            build_big_layout(work / "big")
            images = [
                Layout("200 MB layer", work / "big", "v1", "big"),
                Layout("Debian bookworm", debian, fixtures_util.OCI_TAG, "debian"),
            ]
            big = images[0]
            print(
                f"images: {big.label} ({big.compressed / 1e6:.1f} MB gzip, built in {time.perf_counter() - t0:.1f} s), "
                f"{images[1].label} minbase ({images[1].compressed / 1e6:.1f} MB gzip); {runs} runs, medians",
                flush=True,
            )
            source = registries.start()
            for image in images:
                skopeo(
                    "copy",
                    "-q",
                    "--dest-tls-verify=false",
                    image.oci,
                    f"docker://{source.host}/{image.repo}:{image.tag}",
                )
            warm_up(work, registries, source, images[1])
            pulls = {image.label: bench_pull(work, source, image, runs) for image in images}
            pushes = {image.label: bench_push(work, registries, image, runs) for image in images}
            bench_push_loaded(work, registries, runs)
            if not opts.no_profile:
                for image in images:
                    profile_pull(work, source, image, *pulls[image.label])
                for image in images:
                    profile_push(work, registries, image, *pushes[image.label])
        finally:
            registries.stop_all()


if __name__ == "__main__":
    main()
