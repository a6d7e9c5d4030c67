"""Docker's forms: ``image pull|push|ls|rm|...`` management aliases, ``container ls --no-trunc`` and the
IMAGE column after the image lost the name the container was created with."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dockyard.cli import main, registry


@pytest.mark.parametrize(
    ("alias", "command"),
    [
        (["image", "pull", "x"], ["pull", "x"]),
        (["image", "push", "x"], ["push", "x"]),
        (["image", "ls"], ["images"]),
        (["image", "rm", "x"], ["rmi", "x"]),
        (["image", "inspect", "x"], ["inspect", "x"]),
        (["image", "history", "x"], ["history", "x"]),
        (["image", "tag", "x", "y"], ["tag", "x", "y"]),
        (["image", "save", "x"], ["save", "x"]),
        (["image", "load"], ["load"]),
    ],
)
def test_image_management_aliases(alias: list[str], command: list[str]) -> None:
    parser = main.build_parser()
    got, want = vars(parser.parse_args(alias)), vars(parser.parse_args(command))
    assert got.pop("func") is want.pop("func")
    got.pop("image_command")
    assert got | {"command": None} == want | {"command": None}


def test_image_pull_is_pull() -> None:
    assert main.build_parser().parse_args(["image", "pull", "--platform", "linux/arm64", "x"]).func is registry.cmd_pull


def _ps(cli: Any, *args: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in cli("container", "ls", *args).stdout.splitlines()]


def test_container_ls_image_column_follows_docker(samples: Any) -> None:
    samples("container", "create", "--name", "by-name", "dockyard/app")
    samples("container", "create", "--name", "by-tag", "dockyard/sample:1.0")
    app_id = samples("inspect", "--format", "{{.Id}}", "dockyard/app").stdout.strip()
    rows = {r[-1]: r for r in _ps(samples)[1:]}
    assert rows["by-name"][1] == "dockyard/app" and rows["by-tag"][1] == "dockyard/sample:1.0"
    # rmi -f: the name is gone (the image stays, dangling): Docker shows the image ID
    samples("rmi", "-f", "dockyard/app")
    rows = {r[-1]: r for r in _ps(samples)[1:]}
    assert rows["by-name"][1] == app_id[7:19]
    full = {r[-1]: r for r in _ps(samples, "--no-trunc")[1:]}
    assert full["by-name"][1] == app_id
    # the name given now names another image: the ID too
    samples("tag", "dockyard/sample:1.0", "dockyard/app:latest")
    assert {r[-1]: r for r in _ps(samples)[1:]}["by-name"][1] == app_id[7:19]


def test_container_ls_no_trunc(samples: Any) -> None:
    cid = samples("container", "create", "dockyard/app").stdout.strip()
    assert _ps(samples)[1][0] == cid[:12]
    assert _ps(samples, "--no-trunc")[1][0] == cid
    assert samples("container", "ls", "-q", "--no-trunc").stdout == cid + "\n"


def test_container_ls_command_column(cli: Any, tmp_path: Any) -> None:
    """A container record keeps its image's Entrypoint + Cmd; COMMAND is Go-quoted and cut to 20 columns."""
    from dockyard.image.build import build_image, file
    from dockyard.transport import docker_archive

    image = build_image(
        [[file("x", "x")]], config={"Entrypoint": ["/docker-entrypoint.sh"], "Cmd": ["nginx", "-g", "daemon off;"]}
    )
    archive = tmp_path / "img.tar"
    docker_archive.write([(image, ["cmd/img:1"])], archive)
    cli("load", "-i", str(archive))
    cli("container", "create", "--name", "web", "cmd/img:1")
    short = cli("container", "ls", "--format", "{{.Command}}").stdout.strip()
    full = cli("container", "ls", "--no-trunc", "--format", "{{.Command}}").stdout.strip()
    assert full == '"/docker-entrypoint.sh nginx -g daemon off;"'
    assert short == '"/docker-entrypoint…'
    # the command stays with the container after the image's name is gone
    cli("rmi", "-f", "cmd/img:1")
    assert cli("container", "ls", "--no-trunc", "--format", "{{.Command}}").stdout.strip() == full
