"""The table layout and ``inspect``'s JSON against Go itself (``golang-go``, standard library only): Docker's
tables are ``text/tabwriter`` and its ``inspect`` is ``json.MarshalIndent``."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from fixtures_util import require_tool

from dockyard.cli.render import table

ROWS = [
    [["REPOSITORY", "TAG", "IMAGE ID", "SIZE"], ["alpine", "latest", "abc", "1B"], ["a", "verylongtagname", "x", ""]],
    [
        ["IMAGE", "CREATED BY", "COMMENT"],
        ["abc", "echo 日本語 > /srv/日本語.txt && …", "made"],
        ["abcdef", "dd b…", ""],
    ],
    [["A", "B", ""], ["", "", "x"]],
    [["É", "ünïcödé cell", "z"], ["tab-free", "😀😀", "last"]],
]

_GO_TABLE = """package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
)

func main() {
	var tables [][][]string
	if err := json.NewDecoder(os.Stdin).Decode(&tables); err != nil {
		panic(err)
	}
	for _, rows := range tables {
		w := tabwriter.NewWriter(os.Stdout, 10, 1, 3, ' ', 0)
		for _, row := range rows {
			fmt.Fprint(w, strings.Join(row, "\\t")+"\\n")
		}
		w.Flush()
		fmt.Print("\\x00")
	}
}
"""

_GO_JSON = """package main

import (
	"encoding/json"
	"os"
)

func main() {
	var doc interface{}
	dec := json.NewDecoder(os.Stdin)
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		panic(err)
	}
	out, _ := json.MarshalIndent(doc, "", "    ")
	os.Stdout.Write(out)
}
"""


def _go_run(tmp_path: Path, source: str, stdin: str) -> str:
    go = require_tool("go")
    src = tmp_path / "main.go"
    src.write_text(source)
    env = {"GO111MODULE": "off", "GOCACHE": str(tmp_path / "gocache"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(
        [go, "run", str(src)], input=stdin, capture_output=True, text=True, timeout=300, env=env, check=False
    )
    if proc.returncode != 0:
        pytest.fail(f"go run failed: {proc.stderr}")
    return proc.stdout


def test_table_is_gos_tabwriter(tmp_path: Path) -> None:
    """Where every character is one column wide, Docker's table is Go's ``text/tabwriter`` byte for byte."""
    narrow = [rows for rows in ROWS if all(c.isascii() for row in rows for c in "".join(row))]
    go = _go_run(tmp_path, _GO_TABLE, json.dumps(narrow)).split("\x00")[:-1]
    assert [table(rows) for rows in narrow] == go


def test_table_counts_display_columns_as_docker_cli() -> None:
    """docker/cli's fork of the tabwriter measures cells with go-runewidth: a CJK character or an emoji takes two
    columns, so the next column starts at the same screen column on every row (Go's own counts code points)."""
    from dockyard.compat.runewidth import string_width

    for rows in ROWS:
        lines = table(rows).splitlines()
        for col in range(len(rows[0]) - 1):
            starts = set()
            for row, line in zip(rows, lines, strict=True):
                if col + 1 < len(row):
                    prefix = line[: line.index(row[col + 1], len("".join(row[: col + 1])))] if row[col + 1] else None
                    if prefix is not None:
                        starts.add(string_width(prefix))
            assert len(starts) <= 1, (rows, lines)


def test_inspect_json_is_gos(samples: Any, tmp_path: Path, dockyard_root: Path) -> None:
    from dockyard.image.build import build_image, file

    archive = tmp_path / "odd.tar"
    from dockyard.transport import docker_archive

    odd = build_image([[file("x", "y")]], author="A <a@example.com> & co", config={"Env": ["X=<b>", "Y=日本\u2028"]})
    docker_archive.write([(odd, ["odd/image:1"])], archive)
    samples("load", "-q", "-i", archive)
    out = samples("inspect", "odd/image:1", "dockyard/app").stdout
    # Go's MarshalIndent of the same data (map keys sorted by Go, so compare key order-free, bytes of values exact)
    go = _go_run(tmp_path, _GO_JSON, out)
    assert "\\u003c" in out and "<" not in out and "&" not in out
    assert json.loads(go) == json.loads(out)
    for line in out.splitlines():
        if line.strip().startswith(('"Author"', '"X=', '"Y=')):
            assert line.strip().rstrip(",") in go, line
