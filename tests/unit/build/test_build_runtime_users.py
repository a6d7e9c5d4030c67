"""USER values resolved against a root file system's passwd and group files (runc's GetExecUser rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from dockyard.build.runtime import resolve_user
from dockyard.build.securepath import scoped_path
from dockyard.errors import BuildError

PASSWD = """root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
app:x:1000:1001::/home/app:/bin/sh
broken:x:notanumber:1::/:/bin/sh
"""
GROUP = """root:x:0:
daemon:x:1:
staff:x:50:app,other
app:x:1001:
audio:x:29:app
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/passwd").write_text(PASSWD)
    (tmp_path / "etc/group").write_text(GROUP)
    return tmp_path


def test_empty_user_is_root(root: Path) -> None:
    assert resolve_user(root, "") == (0, 0, ())


def test_name_gives_primary_group_and_memberships(root: Path) -> None:
    assert resolve_user(root, "app") == (1000, 1001, (50, 29))
    assert resolve_user(root, "daemon") == (1, 1, ())


def test_numeric_uid_known_and_unknown(root: Path) -> None:
    assert resolve_user(root, "1000") == (1000, 1001, (50, 29))  # in passwd: its entry
    assert resolve_user(root, "4242") == (4242, 0, ())  # not in passwd: gid 0


def test_explicit_group_by_name_or_number(root: Path) -> None:
    assert resolve_user(root, "app:staff") == (1000, 50, ())
    assert resolve_user(root, "app:29") == (1000, 29, ())
    assert resolve_user(root, "4242:777") == (4242, 777, ())
    assert resolve_user(root, "0:app") == (0, 1001, ())


def test_unknown_names_are_errors(root: Path) -> None:
    with pytest.raises(BuildError, match="unable to find user nobody: no matching entries in passwd file"):
        resolve_user(root, "nobody")
    with pytest.raises(BuildError, match="unable to find group nogroup"):
        resolve_user(root, "app:nogroup")


def test_without_passwd_file(tmp_path: Path) -> None:
    assert resolve_user(tmp_path, "123:45") == (123, 45, ())
    with pytest.raises(BuildError):
        resolve_user(tmp_path, "app")


def test_passwd_symlink_stays_inside_the_root(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "real").mkdir()
    (tmp_path / "real/passwd").write_text("svc:x:77:78::/:/bin/sh\n")
    # An absolute link is resolved inside the root, never on the host.
    (tmp_path / "etc/passwd").symlink_to("/real/passwd")
    assert resolve_user(tmp_path, "svc") == (77, 78, ())
    (tmp_path / "real/group").write_text("extra:x:90:svc\n")
    (tmp_path / "etc/group").symlink_to("../../../../../../real/group")  # climbs no higher than the root
    assert scoped_path(tmp_path, "/etc/group") == tmp_path / "real/group"
    assert resolve_user(tmp_path, "svc") == (77, 78, (90,))
    (tmp_path / "etc/loop").symlink_to("loop")
    with pytest.raises(BuildError, match="too many levels"):
        scoped_path(tmp_path, "/etc/loop")
