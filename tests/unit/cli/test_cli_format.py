"""``--format`` and Docker's JSON through the command line: what Docker prints for characters Go escapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dockyard.image import sample
from dockyard.image.build import LayerSpec, build_image
from dockyard.image.build import file as file_entry
from dockyard.transport import docker_archive

LABEL = "A <a@example.com> & co \u2028"


def _load_labelled(cli: Any, tmp_path: Path) -> None:
    image = build_image([LayerSpec([file_entry("x", "x\n")], "ADD x")], config={"Labels": {"maintainer": LABEL}})
    archive = tmp_path / "labelled.tar"
    with open(archive, "wb") as f:
        docker_archive.write([(image, ["labelled:1"]), (sample.base_image(), ["base:1"])], f)
    cli("load", "-i", str(archive))


def test_inspect_escapes_as_the_daemons_json(cli: Any, tmp_path: Path) -> None:
    _load_labelled(cli, tmp_path)
    out = cli("inspect", "labelled:1").stdout
    assert '"maintainer": "A \\u003ca@example.com\\u003e \\u0026 co \\u2028"' in out
    assert json.loads(out)[0]["Config"]["Labels"]["maintainer"] == LABEL


def test_format_json_of_a_field_is_not_html_escaped(cli: Any, tmp_path: Path) -> None:
    """docker/cli's ``json`` function turns SetEscapeHTML off; U+2028 stays escaped (Go always does)."""
    _load_labelled(cli, tmp_path)
    out = cli("inspect", "--format", "{{json .Config.Labels}}", "labelled:1").stdout
    assert out == '{"maintainer":"A <a@example.com> & co \\u2028"}\n'
    out = cli("inspect", "--format", '{{index .Config.Labels "maintainer" | printf "%q"}}', "labelled:1").stdout
    assert out == '"A <a@example.com> & co \\u2028"\n'


def test_inspect_missing_field_is_an_error(cli: Any, tmp_path: Path) -> None:
    _load_labelled(cli, tmp_path)
    proc = cli("inspect", "--format", "{{.Nope}}", "labelled:1", check=False)
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == (
        'Error: template parsing error: template: :1:2: executing "" at <.Nope>: map has no entry for key "Nope"\n'
    )


def test_table_format_with_docker_functions(cli: Any, tmp_path: Path) -> None:
    _load_labelled(cli, tmp_path)
    out = cli("images", "--format", "table {{upper .Repository}}\\t{{.Tag | printf \"%3s\"}}").stdout
    head, *rows = out.splitlines()
    assert head == "REPOSITORY   TAG"
    assert sorted(rows) == ["BASE           1", "LABELLED       1"]


def test_inspect_created_is_go_rfc3339nano(cli: Any, tmp_path: Path) -> None:
    """The daemon parses the config's time and prints it with ``time.RFC3339Nano``: trailing zeros of the
    fraction go, an offset stays as written."""
    images = [
        (build_image([LayerSpec([file_entry("a", "a\n")], "ADD a")], created="2024-01-01T10:00:00.500000000Z"), "z:1"),
        (build_image([LayerSpec([file_entry("b", "b\n")], "ADD b")], created="2024-01-01T10:00:00.000+02:00"), "o:1"),
    ]
    archive = tmp_path / "times.tar"
    with open(archive, "wb") as f:
        docker_archive.write([(image, [name]) for image, name in images], f)
    cli("load", "-i", str(archive))
    assert cli("inspect", "--format", "{{.Created}}", "z:1", "o:1").stdout == (
        "2024-01-01T10:00:00.5Z\n2024-01-01T10:00:00+02:00\n"
    )


def test_inspect_format_json_is_one_compact_array(cli: Any, tmp_path: Path) -> None:
    _load_labelled(cli, tmp_path)
    out = cli("inspect", "--format", "json", "labelled:1", "base:1").stdout
    assert out.count("\n") == 1 and out.startswith('[{"Id":"sha256:')
    assert "\\u003ca@example.com\\u003e" in out
    assert [d["RepoTags"] for d in json.loads(out)] == [["labelled:1"], ["base:1"]]
