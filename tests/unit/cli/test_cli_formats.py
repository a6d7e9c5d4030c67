"""``images --format``: a template that names ``.Digest`` shows the digest rows (docker/cli's ``needDigest``),
and ``{{json .}}`` is ``--format json`` (docker/cli turns the one into the other)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from dockyard.image.sample import app_image, base_image
from dockyard.oci import reference as refs
from dockyard.store.store import Store

D1 = "sha256:" + "1" * 64


@pytest.fixture
def pulled(cli: Any, dockyard_root: Path) -> str:
    """``example/app:1`` known also as ``example/app@D1`` (as after a pull), and an untagged image."""
    with Store(dockyard_root) as store:
        store.ingest(app_image(), [refs.parse("example/app:1")], repo_digests=[refs.parse(f"example/app@{D1}")])
        store.ingest(base_image())
    return D1


@pytest.mark.parametrize(
    "fmt",
    ["{{.Digest}}", "{{ .Digest }}", "{{.Repository}}@{{.Digest}}", "{{- .Digest -}}", '{{.Digest | printf "%s"}}'],
)
def test_a_template_naming_digest_shows_it(cli: Any, pulled: str, fmt: str) -> None:
    out = cli("images", "--format", fmt, "example/app").stdout
    assert pulled in out and "<none>" not in out
    # and what --digests shows, row for row
    assert out == cli("images", "--digests", "--format", fmt, "example/app").stdout


def test_a_template_without_digest_keeps_one_row_per_tag(cli: Any, pulled: str) -> None:
    assert cli("images", "--format", "{{.Repository}}:{{.Tag}}", "example/app").stdout == "example/app:1\n"
    assert "DIGEST" not in cli("images", "example/app").stdout  # the default table has no DIGEST column
    assert D1 in cli("images", "--digests", "example/app").stdout


def test_json_dot_is_format_json_byte_for_byte(cli: Any, pulled: str) -> None:
    as_json = cli("images", "--format", "json").stdout
    assert as_json == cli("images", "--format", "{{json .}}").stdout
    assert as_json == cli("images", "--format", "{{ json . }}").stdout
    # Go's json.Marshal of the row context: <none> escaped in both
    assert '"Digest":"\\u003cnone\\u003e"' in as_json and "<none>" not in as_json


def test_format_shows_digest_reads_actions_only() -> None:
    from dockyard.views import format_shows_digest

    assert format_shows_digest("table {{.ID}}\t{{ .Digest }}")
    assert not format_shows_digest("{{.ID}} .Digest {{.Tag}}")  # text outside actions
    assert not format_shows_digest("{{.Digests}}")
    assert not format_shows_digest("json")
    assert not format_shows_digest(None)
