"""Progress events of transfers (pull, push, copy): Docker's ``jsonmessage`` shape, emitted from any thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from dockyard.oci.digest import Digest


@dataclass(frozen=True, slots=True)
class PullEvent:
    """One progress message, as Docker's ``jsonmessage``: ``id: status`` with optional byte progress."""

    id: str  # short layer digest (or diff_id, for pushes), or "" for messages about the whole image
    status: str
    current: int = 0
    total: int = 0


EventSink = Callable[[PullEvent], None]


def short_id(digest: Digest) -> str:
    """Docker's 12-character short form of a digest's hex."""
    return digest.hex[:12]


def locked_emitter(on_event: EventSink | None) -> EventSink:
    """``on_event`` made safe to call from several threads (and a no-op when None)."""
    lock = threading.Lock()

    def emit(event: PullEvent) -> None:
        if on_event is not None:
            with lock:
                on_event(event)

    return emit


__all__ = ["EventSink", "PullEvent", "locked_emitter", "short_id"]
