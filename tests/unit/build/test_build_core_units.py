"""The builder's pure parts: BuildKit's history strings, ports, mounts, outputs, paths inside a root, the config
blob and the progress printer."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest

from dockyard.build.builder import go_duration, parse_mount, parse_ports, platform_args, run_command_string
from dockyard.build.export import parse_output
from dockyard.build.imagestate import HISTORY_COMMENT, ImageState, go_list
from dockyard.build.progress import Progress
from dockyard.build.securepath import make_dirs, scoped_path
from dockyard.errors import BuildError, InvalidInput
from dockyard.oci.config import ImageConfig
from dockyard.oci.platform import Platform


def test_run_command_string_names_the_stage_args_as_buildkit() -> None:
    args = ["/bin/sh", "-c", "echo $GREETING"]
    assert run_command_string(args, [], {}) == "/bin/sh -c echo $GREETING"
    assert run_command_string(args, [("GREETING", "hello")], {"GREETING": "hola"}) == "|1 GREETING=hola " + " ".join(
        args
    )
    # declared without a value and not set: an empty value; declared twice: once, the last value
    got = run_command_string(["true"], [("A", None), ("B", "1"), ("B", "2")], {"B": "2"})
    assert got == "|2 A= B=2 true"


@pytest.mark.parametrize(
    ("ns", "text"),
    [(0, "0s"), (30_000_000_000, "30s"), (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"),
     (500_000_000, "500ms"), (1_500_000_000, "1.5s"), (5_000, "5µs")],
)  # fmt: skip
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_expose_ports() -> None:
    assert parse_ports(["80", "443/TCP", "53/udp", "8000-8002/tcp", "127.0.0.1:8080:80"]) == [
        "80/tcp", "443/tcp", "53/udp", "8000/tcp", "8001/tcp", "8002/tcp", "80/tcp",
    ]  # fmt: skip
    for bad in ("80/icmp", "/tcp", "x", "9-1"):
        with pytest.raises(BuildError):
            parse_ports([bad])


def test_run_mount_values() -> None:
    assert parse_mount("type=cache,target=/root/.cache,id=pip,sharing=locked") == {
        "type": "cache", "target": "/root/.cache", "id": "pip", "sharing": "locked"
    }  # fmt: skip
    assert parse_mount("target=/src,ro") == {"type": "bind", "target": "/src", "ro": "true"}
    assert parse_mount("type=secret,id=tok,dst=/t")["target"] == "/t"
    with pytest.raises(BuildError):
        parse_mount("type=volume,target=/x")


def test_outputs() -> None:
    assert parse_output("type=oci,dest=out.tar").as_tar
    assert not parse_output("type=oci,dest=out,tar=false").as_tar
    local = parse_output("./out")
    assert (local.type, local.dest) == ("local", "./out")
    assert parse_output("type=image,name=example/a:1,push=true").push
    assert parse_output('type=image,"name=a,b"').names == ["a", "b"]  # CSV: quoted to hold commas
    for bad in ("type=nope,dest=x", "type=oci", "type=oci,dest", "type=image,name=a,b"):
        with pytest.raises(InvalidInput):
            parse_output(bad)


def test_platform_args_variant_empty_for_amd64_and_arm64() -> None:
    got = platform_args(Platform("linux", "amd64"), Platform.parse("linux/arm64"))
    assert got["TARGETPLATFORM"] == "linux/arm64" and got["TARGETARCH"] == "arm64" and got["TARGETVARIANT"] == ""
    assert got["BUILDPLATFORM"] == "linux/amd64" and got["BUILDOS"] == "linux"
    assert platform_args(Platform("linux", "amd64"), Platform.parse("linux/arm/v7"))["TARGETVARIANT"] == "v7"


def test_scoped_path_stays_inside_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    os.symlink("/etc", root / "abs")
    os.symlink("../../../../outside", root / "rel")
    os.symlink("loop", root / "loop")
    assert scoped_path(root, "/abs/passwd") == root / "etc" / "passwd"
    assert scoped_path(root, "rel/x") == root / "outside" / "x"
    assert scoped_path(root, "../../etc") == root / "etc"
    with pytest.raises(BuildError):
        scoped_path(root, "/loop/x")
    assert make_dirs(root, "/abs/new/deeper", uid=1000, gid=1000)
    assert (root / "etc" / "new" / "deeper").is_dir()
    assert (root / "etc" / "new").stat().st_uid == 1000
    assert not make_dirs(root, "/etc/new")
    assert not (tmp_path / "outside").exists()


def test_config_blob_is_an_image_config_with_buildkit_history() -> None:
    state = ImageState.scratch(Platform.parse("linux/arm64"))
    state.add_env("A", "1")
    state.add_env("PATH", "/bin")
    state.config["Cmd"] = ["sh"]
    state.commit("ENV A=1", epoch=0)
    state.commit("CMD " + go_list(["sh"]), epoch=0)
    raw = state.config_blob(epoch=0, labels={"org.example": "<x>"})
    config = ImageConfig.parse(raw)
    assert config.architecture == "arm64" and config.os == "linux"
    assert config.created == "1970-01-01T00:00:00Z"
    assert config.container_config["Env"] == ["PATH=/bin", "A=1"]
    assert config.container_config["Labels"] == {"org.example": "<x>"}
    assert b"\\u003cx\\u003e" in raw  # Go's JSON escapes
    assert [h.created_by for h in config.history] == ["ENV A=1", 'CMD ["sh"]']
    assert all(h.empty_layer and h.comment == HISTORY_COMMENT for h in config.history)
    assert list(json.loads(raw)) == sorted(json.loads(raw))  # BuildKit re-marshals the top level as a map


def test_progress_plain_and_rawjson() -> None:
    buf = io.StringIO()
    progress = Progress(buf, "plain")
    step = progress.step("[1/2] RUN echo hi")
    step.log(b"hi\npart")
    step.finish()
    cached = progress.step("[2/2] COPY a /")
    cached.cached()
    lines = buf.getvalue().splitlines()
    assert "#1 [1/2] RUN echo hi" in lines and "#2 CACHED" in lines
    assert any(line.startswith("#1 ") and line.endswith(" hi") for line in lines)
    assert any(line.endswith(" part") for line in lines)  # a last line without newline is printed at the end
    assert any(line.startswith("#1 DONE ") for line in lines)
    raw = io.StringIO()
    progress = Progress(raw, "rawjson")
    progress.step("x").finish(error="boom")
    events = [json.loads(line) for line in raw.getvalue().splitlines()]
    assert events[0]["vertexes"][0]["name"] == "x" and events[-1]["vertexes"][0]["error"] == "boom"
    quiet = io.StringIO()
    Progress(quiet, "quiet").step("x").finish()
    assert quiet.getvalue() == ""


def test_progress_tty_prints_one_line_a_step_and_a_failed_steps_output() -> None:
    buf = io.StringIO()
    progress = Progress(buf, "tty")
    progress.step("[1/3] FROM debian").cached()
    ok = progress.step("[2/3] RUN echo hi")
    ok.log(b"hi\n")
    ok.finish()
    bad = progress.step("[3/3] RUN false")
    bad.log(b"first\nlast words\n")
    bad.finish(error="exit code: 1")
    progress.summary(failed=True)
    lines = buf.getvalue().splitlines()
    assert lines[0].startswith("=> CACHED [1/3] FROM debian") and lines[0].endswith("0.0s")
    assert lines[1].startswith("=> [2/3] RUN echo hi") and "hi" not in lines[1][len("=> [2/3] RUN echo hi") :]
    assert lines[2].startswith("=> ERROR [3/3] RUN false")
    assert "   first" in lines and "   last words" in lines and "ERROR: exit code: 1" in lines
    assert lines[-1].startswith("[+] Building ") and lines[-1].endswith("(3/3) ERROR")


def test_progress_tty_on_a_terminal_keeps_a_live_block() -> None:
    """On a terminal the running steps are redrawn in place (time, last output lines) and taken away at the end;
    the finished lines stay."""
    import os
    import time

    master, slave = os.openpty()
    out = os.fdopen(slave, "w", encoding="utf-8")
    try:
        progress = Progress(out, "tty")
        step = progress.step("[2/3] RUN make")
        step.log(b"compiling a.c\ncompiling b.c\n")
        time.sleep(0.5)  # a couple of redraws
        step.finish()
        progress.summary()
        out.flush()
        text = b""
        while chunk := _read_ready(master):
            text += chunk
    finally:
        out.close()
        os.close(master)
    shown = text.decode()
    assert "[+] Building " in shown and "=> [2/3] RUN make" in shown
    assert "=> => # compiling a.c" in shown and "=> => # compiling b.c" in shown  # the live block
    assert "\x1b[" in shown  # redrawn in place
    last = shown.rsplit("\x1b[J", 1)[-1].replace("\r", "").splitlines()  # what stays after the last erase
    assert last[0].startswith("=> [2/3] RUN make") and last[-1].startswith("[+] Building ")
    assert last[-1].endswith("(1/1) FINISHED") and "compiling" not in "".join(last)


def _read_ready(fd: int) -> bytes:
    import os
    import select

    ready, _, _ = select.select([fd], [], [], 0.2)
    return os.read(fd, 65536) if ready else b""
