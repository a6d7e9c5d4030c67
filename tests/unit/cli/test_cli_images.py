"""The command line against a real store: Docker's columns, messages and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from dockyard.image import sample
from dockyard.transport import docker_archive


@pytest.fixture
def sample_archive(tmp_path: Path) -> Path:
    path = tmp_path / "sample.tar"
    with open(path, "wb") as f:
        docker_archive.write(
            [(sample.base_image(), ["dockyard/sample:1.0"]), (sample.app_image(), ["dockyard/app:latest"])], f
        )
    return path


@pytest.fixture
def loaded(cli: Any, sample_archive: Path) -> Any:
    out = cli("load", "-i", str(sample_archive))
    assert out.stdout == "Loaded image: dockyard/sample:1.0\nLoaded image: dockyard/app:latest\n"
    return cli


def _rows(text: str) -> list[list[str]]:
    return [re.split(r"\s{3,}", line.rstrip()) for line in text.splitlines()]


def test_images_table(loaded: Any) -> None:
    out = loaded("images").stdout
    lines = out.splitlines()
    assert re.match(r"^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$", lines[0])
    # Go tabwriter: every column starts at the same offset on every line
    starts = [lines[0].index(h) for h in ("TAG", "IMAGE ID", "CREATED", "SIZE")]
    for line in lines[1:]:
        for s in starts:
            assert line[s - 1] == " " and line[s] != " "
    rows = _rows(out)[1:]
    assert [r[:2] for r in rows] == [["dockyard/app", "latest"], ["dockyard/sample", "1.0"]]  # newest first
    assert all(re.fullmatch(r"[0-9a-f]{12}", r[2]) for r in rows)
    assert all(r[3].endswith(" ago") for r in rows)
    assert all(re.fullmatch(r"[0-9.]+k?B", r[4]) for r in rows)


def test_tags_share_one_id(loaded: Any) -> None:
    loaded("tag", "dockyard/sample:1.0", "myuser/sample:v2")
    rows = _rows(loaded("images").stdout)[1:]
    ids = {r[0] + ":" + r[1]: r[2] for r in rows}
    assert ids["myuser/sample:v2"] == ids["dockyard/sample:1.0"]
    quiet = loaded("images", "-q").stdout.splitlines()
    assert len(quiet) == 3  # one ID per row, as Docker prints: the shared ID twice
    assert quiet.count(ids["myuser/sample:v2"]) == 2


def test_images_formats_and_filters(loaded: Any) -> None:
    out = loaded("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    assert out.splitlines() == ["dockyard/app:latest", "dockyard/sample:1.0"]
    docs = [json.loads(line) for line in loaded("images", "--format", "json").stdout.splitlines()]
    assert set(docs[0]) >= {"Repository", "Tag", "ID", "CreatedSince", "CreatedAt", "Size", "Digest"}
    assert loaded("images", "--filter", "reference=dockyard/s*").stdout.count("\n") == 2
    assert loaded("images", "dockyard/app").stdout.count("\n") == 2
    assert loaded("images", "--filter", "dangling=true", "-q").stdout == ""
    full = loaded("images", "-q", "--no-trunc").stdout.splitlines()
    assert all(re.fullmatch(r"sha256:[0-9a-f]{64}", x) for x in full)
    out = loaded("images", "--filter", "before=dockyard/app", "--format", "{{.Repository}}").stdout
    assert out == "dockyard/sample\n"
    out = loaded("images", "--filter", "label=org.example.role=app", "--format", "{{.Repository}}").stdout
    assert out == "dockyard/app\n"
    bad = loaded("images", "--filter", "nope=1", check=False)
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_inspect_docker_shape(loaded: Any) -> None:
    docs = json.loads(loaded("inspect", "dockyard/app").stdout)
    assert len(docs) == 1
    d = docs[0]
    assert d["Id"].startswith("sha256:") and d["RepoTags"] == ["dockyard/app:latest"]
    assert d["RepoDigests"] == []
    assert d["Os"] == "linux" and d["Architecture"] == "amd64"
    assert d["RootFS"]["Type"] == "layers" and len(d["RootFS"]["Layers"]) == 3
    assert d["Config"]["Entrypoint"] == ["/app/main.sh"] and d["Config"]["WorkingDir"] == "/app"
    assert d["Created"] == "2024-02-01T00:00:00Z"
    assert isinstance(d["Size"], int) and d["Size"] > 0
    assert loaded("inspect", "--format", "{{.Os}}/{{.Architecture}}", "dockyard/app").stdout == "linux/amd64\n"
    missing = loaded("inspect", "nope", check=False)
    assert missing.returncode == 1 and "No such image: nope:latest" in missing.stderr


def test_history(loaded: Any) -> None:
    out = loaded("history", "dockyard/app").stdout
    lines = out.splitlines()
    assert re.match(r"^IMAGE\s+CREATED\s+CREATED BY\s+SIZE\s+COMMENT$", lines[0])
    assert len(lines) == 5  # header, ENTRYPOINT (empty layer), 3 layers
    assert re.match(r"^[0-9a-f]{12}\s", lines[1])
    assert all(line.startswith("<missing>") for line in lines[2:])
    assert "0B" in lines[1]  # ENTRYPOINT is an empty layer
    raw = loaded("history", "-H=false", "--format", "{{.Size}}", "dockyard/app").stdout.split()
    assert raw[0] == "0" and all(x.isdigit() for x in raw)
    cut = loaded("history", "--format", "{{.CreatedBy}}", "dockyard/app").stdout.splitlines()[0]
    assert cut.endswith("…") and len(cut) == 45
    full = loaded("history", "--no-trunc", "--format", "{{.CreatedBy}}", "dockyard/app").stdout.splitlines()[0]
    assert full == '/bin/sh -c #(nop)  ENTRYPOINT ["/app/main.sh"]'
    ids = loaded("history", "-q", "--no-trunc", "dockyard/app").stdout.split()
    assert ids[0].startswith("sha256:") and ids[1:] == ["<missing>"] * 3


def test_rmi_rules_from_the_cli(loaded: Any) -> None:
    loaded("tag", "dockyard/sample:1.0", "other/sample:1")
    image_id = loaded("images", "-q", "dockyard/sample:1.0").stdout.strip()
    refused = loaded("rmi", image_id, check=False)
    assert refused.returncode == 1
    assert (
        f"unable to delete {image_id} (must be forced) - image is referenced in multiple repositories" in refused.stderr
    )
    assert loaded("rmi", "other/sample:1").stdout == "Untagged: other/sample:1\n"
    ctr = loaded("container", "create", "--name", "c1", "dockyard/app").stdout.strip()
    used = loaded("rmi", "dockyard/app", check=False)
    assert used.returncode == 1 and f"container {ctr[:12]} is using its referenced image" in used.stderr
    forced = loaded("rmi", "-f", "dockyard/app").stdout
    assert forced == "Untagged: dockyard/app:latest\n"
    assert "<none>" in loaded("images").stdout
    loaded("container", "rm", "c1")
    out = loaded("rmi", "-f", *loaded("images", "-q").stdout.split()).stdout
    assert out.count("Deleted: sha256:") >= 2
    assert loaded("images", "-q").stdout == ""
    assert "store OK" in loaded("system", "check").stdout


def test_prune_prints_reclaimed(loaded: Any) -> None:
    loaded("rmi", "dockyard/sample:1.0")
    out = loaded("image", "prune", "-f").stdout
    assert out.startswith("Total reclaimed space:") or out.startswith("Deleted Images:")
    out = loaded("image", "prune", "-a", "-f").stdout
    assert "untagged: dockyard/app:latest" in out and "Total reclaimed space:" in out


def test_system_df_and_check(loaded: Any) -> None:
    out = loaded("system", "df").stdout
    assert re.match(r"^TYPE\s+TOTAL\s+ACTIVE\s+SIZE\s+RECLAIMABLE$", out.splitlines()[0])
    assert re.match(r"^Images\s+2\s+0\s", out.splitlines()[1])
    assert loaded("system", "check").returncode == 0


def test_bad_reference_is_one_line_error(cli: Any) -> None:
    for bad in ("UPPER/case", "a:b:c", "x@sha256:zz", ":tag"):
        res = cli("inspect", bad, check=False)
        assert res.returncode == 1
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr


def test_save_roundtrip(loaded: Any, tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "saved.tar"
    loaded("save", "-o", str(out), "dockyard/app", "dockyard/sample:1.0")
    entries = docker_archive.read(out)
    assert sorted(t for e in entries for t in e.repo_tags) == ["dockyard/app:latest", "dockyard/sample:1.0"]
    oci = tmp_path / "saved-oci.tar"
    loaded("save", "--format", "oci", "-o", str(oci), "dockyard/app")
    assert oci.stat().st_size > 0


def test_load_moves_a_tag_like_docker(loaded: Any, tmp_path: Path) -> None:
    old_id = json.loads(loaded("inspect", "dockyard/sample:1.0").stdout)[0]["Id"]
    path = tmp_path / "newer.tar"
    with open(path, "wb") as f:
        docker_archive.write([(sample.app_image(), ["dockyard/sample:1.0"])], f)
    out = loaded("load", "-i", str(path)).stdout.splitlines()
    assert out == [
        f"The image dockyard/sample:1.0 already exists, renaming the old one with ID {old_id} to empty string",
        "Loaded image: dockyard/sample:1.0",
    ]
    dangling = loaded("images", "--filter", "dangling=true", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert dangling == f"<none>:<none> {old_id[7:19]}\n"


def test_format_is_go_text_template(loaded: Any) -> None:
    """Issue 8 item 7: printf verbs, eq, with, range with variables; an unclosed action is an error."""
    full = loaded("inspect", "--format", "{{.Id}}", "dockyard/app").stdout.strip()
    assert loaded("inspect", "--format", '{{printf "%.12s" .Id}}', "dockyard/app").stdout == full[:12] + "\n"
    out = loaded("images", "--format", '{{printf "%.5s|%-3d|" .ID 7}}', "dockyard/app").stdout
    assert out == full[7:12] + "|7  |\n"
    out = loaded("images", "--format", '{{if eq .Tag "x" "latest"}}{{.Repository}}{{end}}', "dockyard/app").stdout
    assert out == "dockyard/app\n"
    out = loaded("inspect", "--format", "{{with .RootFS}}{{len .Layers}}{{end}}", "dockyard/app").stdout
    assert out.strip().isdigit()
    out = loaded("inspect", "--format", "{{range $i, $l := .RootFS.Layers}}{{$i}} {{end}}", "dockyard/app").stdout
    assert out.split() == [str(i) for i in range(len(out.split()))] and out.split()


@pytest.mark.parametrize("command", [["images"], ["inspect", "dockyard/app"], ["history", "dockyard/app"]])
def test_template_errors_print_one_line_and_nothing_on_stdout(loaded: Any, command: list[str]) -> None:
    for fmt in ("{{.Id", "{{.ID}}{{.Nope.X}}" if command[0] != "inspect" else "{{.Id}}{{.Id.X}}"):
        proc = loaded(*command[:1], "--format", fmt, *command[1:], check=False)
        assert proc.returncode == 1
        assert proc.stdout == ""
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("Error: template")


def test_json_format_and_json_of_dot_are_the_same(loaded: Any) -> None:
    assert loaded("images", "--format", "json").stdout == loaded("images", "--format", "{{json .}}").stdout
    assert loaded("history", "--format", "json", "dockyard/app").stdout == loaded(
        "history", "--format", "{{json .}}", "dockyard/app"
    ).stdout
