"""USER values resolved against a root file system's ``/etc/passwd`` and ``/etc/group``, with the rules of
runc's ``user.GetExecUser`` that BuildKit uses (defaults uid 0, gid 0)."""

from __future__ import annotations

from pathlib import Path
from typing import Final

from dockyard.build.securepath import scoped_path
from dockyard.errors import BuildError

_MAX_ID: Final = 2**31 - 1


def _read(root: Path, path: str) -> list[list[str]]:
    try:
        text = scoped_path(root, path).read_text(encoding="utf-8", errors="surrogateescape")
    except (FileNotFoundError, NotADirectoryError):
        return []
    rows = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            rows.append(line.split(":"))
    return rows


def _int(text: str) -> int | None:
    if not text.isdigit():
        return None
    return int(text)


def _id(row: list[str], i: int) -> int | None:
    return _int(row[i]) if len(row) > i else None


def resolve_user(root: Path, user: str) -> tuple[int, int, tuple[int, ...]]:
    """``(uid, gid, supplementary gids)`` of a USER value (``name``, ``uid``, ``name:group``, ``uid:gid``)."""
    if not user:
        return 0, 0, ()
    user_arg, _, group_arg = user.partition(":")
    uid_arg = _int(user_arg)
    uid, gid, name = 0, 0, None
    for row in _read(root, "/etc/passwd"):
        ruid, rgid = _id(row, 2), _id(row, 3)
        if ruid is None or rgid is None:
            continue
        if row[0] == user_arg or (uid_arg is not None and ruid == uid_arg):
            uid, gid, name = ruid, rgid, row[0]
            break
    else:
        if uid_arg is None:
            raise BuildError(f"unable to find user {user_arg}: no matching entries in passwd file")
        if uid_arg > _MAX_ID:
            raise BuildError(f"uid {user_arg} is out of range")
        uid = uid_arg
    sgids: tuple[int, ...] = ()
    if group_arg or name is not None:
        groups = []
        for row in _read(root, "/etc/group"):
            rgid = _id(row, 2)
            if rgid is None:
                continue
            if group_arg:
                if row[0] == group_arg or str(rgid) == group_arg:
                    groups.append(rgid)
            elif len(row) > 3 and name in row[3].split(","):
                groups.append(rgid)
        if group_arg:
            if groups:
                gid = groups[0]
            else:
                g = _int(group_arg)
                if g is None:
                    raise BuildError(f"unable to find group {group_arg}: no matching entries in group file")
                if g > _MAX_ID:
                    raise BuildError(f"gid {group_arg} is out of range")
                gid = g
        else:
            sgids = tuple(groups)
    return uid, gid, sgids


__all__ = ["resolve_user"]
