"""How a layer tar may end (issue 8 item 2): exactly what Go's archive/tar accepts.

Accepted: the end-of-archive blocks missing (none, or one), the last member's padding missing or cut short,
an extended header cut off in its padding. Refused: a member whose data is shorter than its header says, a
header (or a zero block) cut short, a header after a single zero block. Every case is checked against
dockyard's reader, the load path (:func:`copy_and_digest`, which parses the tar with the same reader) and,
when Go is installed, Go's own archive/tar (one Go process for the whole table).
"""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from fixtures_util import require_tool
from layertar_helpers import F, gzip_bytes, make_tar

from dockyard.errors import InvalidArchive, InvalidInput
from dockyard.layers.digesting import copy_and_digest, verify
from dockyard.layers.tarstream import TarReader
from dockyard.transport._tarutil import TarSource, open_source

_A = b"1" * 5000
_B = b"xyz"
# a: header 0..512, data ..5512, padding ..5632; b: header ..6144, data ..6147, padding ..6656; then zero blocks.
_BASE = make_tar([F("a", _A), F("b", _B)])
_LONG = make_tar([F("n" * 150, b"q")], fmt=tarfile.PAX_FORMAT)  # a PAX header (path) before the member


def _zero_then_header() -> bytes:
    return _BASE[:6656] + bytes(512) + make_tar([F("c", b"c")])


# name -> (bytes, the members read, or None when the stream must be refused)
CASES: dict[str, tuple[bytes, list[str] | None]] = {
    "complete": (_BASE, ["a", "b"]),
    "umoci: last data unpadded, no end blocks": (_BASE[:6147], ["a", "b"]),
    "padding cut short": (_BASE[:6400], ["a", "b"]),
    "no end blocks": (_BASE[:6656], ["a", "b"]),
    "one end block": (_BASE[:7168], ["a", "b"]),
    "padding of a middle member cut short": (_BASE[:5562], ["a"]),
    "empty stream": (b"", []),
    "PAX header cut in its padding": (_LONG[: 512 + 200], []),
    "last data one byte short": (_BASE[:6146], None),
    "data cut in the middle": (_BASE[:2000], None),
    "no data at all": (_BASE[:6144], None),
    "header cut short": (_BASE[:300], None),
    "end block cut short": (_BASE[: 6656 + 100], None),
    "second end block cut short": (_BASE[: 7168 + 100], None),
    "header after a single zero block": (_zero_then_header(), None),
    "PAX header data cut short": (_LONG[: 512 + 10], None),
}
_DATA = {"a": _A, "b": _B, "n" * 150: b"q"}


def _dockyard(blob: bytes) -> list[str] | None:
    r = TarReader(io.BytesIO(blob))
    names: list[str] = []
    try:
        for h in r:
            data = b"".join(r.chunks())
            assert data == _DATA[h.name]
            names.append(h.name)
    except InvalidInput:
        return None
    return names


@pytest.mark.parametrize("name", list(CASES))
def test_reader_ending(name: str) -> None:
    blob, expected = CASES[name]
    assert _dockyard(blob) == expected


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("name", list(CASES))
def test_load_path_agrees(name: str, gz: bool) -> None:
    """``load``/``pull`` hash a layer and parse it with the same reader; ``system check`` (``verify``) refuses
    what unpack refuses, once the digests match."""
    blob, expected = CASES[name]
    data = gzip_bytes(blob) if gz else blob
    digests = copy_and_digest(io.BytesIO(data), None)
    assert (digests.tar_error is None) == (expected is not None)
    if expected is None:
        with pytest.raises(InvalidInput, match="tar"):
            digests.check_tar()
        with pytest.raises(InvalidInput, match="tar"):
            verify(io.BytesIO(data), digests.digest, digests.diff_id)
    else:
        digests.check_tar()
        verify(io.BytesIO(data), digests.digest, digests.diff_id)


_GO_PROGRAM = r"""
package main

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
)

func main() {
	out := map[string]interface{}{}
	for _, path := range os.Args[1:] {
		f, err := os.Open(path)
		if err != nil {
			panic(err)
		}
		tr := tar.NewReader(f)
		names := []string{}
		var result interface{} = names
		for {
			h, err := tr.Next()
			if err == io.EOF {
				result = names
				break
			}
			if err != nil {
				result = nil
				break
			}
			if _, err := io.Copy(io.Discard, tr); err != nil {
				result = nil
				break
			}
			names = append(names, h.Name)
			result = names
		}
		f.Close()
		out[path] = result
	}
	json.NewEncoder(os.Stdout).Encode(out)
}
"""


def test_go_archive_tar_agrees(tmp_path: Path) -> None:
    go = require_tool("go")  # Debian golang-go; skips on a developer machine without it, fails in CI
    src = tmp_path / "main.go"
    src.write_text(_GO_PROGRAM)
    paths = []
    for i, (blob, _) in enumerate(CASES.values()):
        p = tmp_path / f"case{i}.tar"
        p.write_bytes(blob)
        paths.append(str(p))
    env = {"HOME": str(tmp_path), "GOCACHE": str(tmp_path / "gocache"), "PATH": "/usr/bin:/bin", "GOFLAGS": ""}
    run = subprocess.run([go, "run", str(src), *paths], capture_output=True, text=True, env=env, timeout=300)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    for (name, (_, expected)), path in zip(CASES.items(), paths, strict=True):
        assert got[path] == expected, name


@pytest.mark.parametrize("name", list(CASES))
def test_archive_sources_read_with_the_same_rules(name: str, tmp_path: Path) -> None:
    """The outer tar of a docker-archive or OCI layout is indexed by the same reader (seeking over data)."""
    blob, expected = CASES[name]
    path = tmp_path / "archive.tar"
    path.write_bytes(blob)
    if not blob:
        expected = None  # an empty file is no archive
    if expected is None:
        with pytest.raises(InvalidArchive):
            open_source(path)
        return
    src = open_source(path)
    assert isinstance(src, TarSource)
    assert src.names() == sorted(expected)
    for member in expected:
        assert src.read_bytes(member, "member") == _DATA[member]
