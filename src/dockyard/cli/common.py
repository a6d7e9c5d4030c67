"""What every command module of the CLI shares: output, the store, usage errors."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dockyard.store.store import Store

Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A command line that cannot be carried out as given (exit status 2)."""


def open_store(args: argparse.Namespace) -> Store:
    from dockyard.store.store import Store

    root = args.root or os.environ.get("DOCKYARD_ROOT")
    return Store(Path(root) if root else None)


def out(text: str) -> None:
    sys.stdout.write(text)


def err(text: str) -> None:
    sys.stderr.write(text if text.endswith("\n") else text + "\n")


def confirm(prompt: str) -> bool:
    """Ask on stderr, read a line of stdin: only y or yes (any case) is a yes; no answer is a no."""
    err(prompt.rstrip("\n"))
    try:
        answer = sys.stdin.readline()
    except OSError:
        return False
    return answer.strip().lower() in ("y", "yes")
