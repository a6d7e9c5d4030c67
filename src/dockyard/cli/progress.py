"""Docker's pull/push progress: plain ``id: status`` lines when piped, live bars (rich) on a terminal."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from dockyard.cli.common import out

if TYPE_CHECKING:
    from dockyard.events import PullEvent


class Progress:
    """Renders :class:`~dockyard.pull.PullEvent` values. As Docker's non-terminal output, byte progress
    (``Downloading``/``Pushing`` updates) is only drawn on a terminal; every other status is one line."""

    def __init__(self, *, quiet: bool = False, tty: bool | None = None) -> None:
        self.quiet = quiet
        self.tty = sys.stdout.isatty() if tty is None else tty
        self._bars: Any = None
        self._tasks: dict[str, Any] = {}

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, event: PullEvent) -> None:
        if self.quiet:
            return
        if not self.tty:
            if event.status not in ("Downloading", "Pushing") and event.id:
                out(f"{event.id}: {event.status}\n")
                sys.stdout.flush()
            return
        from dockyard.units import human_size

        bars = self._live()
        task = self._tasks.get(event.id)
        if task is None:
            task = bars.add_task(event.status, total=None, ident=event.id, size="")
            self._tasks[event.id] = task
        if event.status in ("Downloading", "Pushing") and event.total:
            size = f"{human_size(event.current)}/{human_size(event.total)}"
            bars.update(task, description=event.status, completed=event.current, total=event.total, size=size)
        elif event.status in (
            "Pull complete",
            "Already exists",
            "Pushed",
            "Layer already exists",
            "Download complete",
        ) or (event.status.startswith("Mounted from")):
            bars.update(task, description=event.status, completed=1, total=1, size="")
        else:
            bars.update(task, description=event.status)

    def _live(self) -> Any:
        if self._bars is None:
            from rich.progress import BarColumn, Progress, TextColumn

            self._bars = Progress(
                TextColumn("{task.fields[ident]}: {task.description:<20}"),
                BarColumn(bar_width=40),
                TextColumn("{task.fields[size]}"),
                transient=False,
            )
            self._bars.start()
        return self._bars

    def line(self, text: str) -> None:
        """A whole-image message (``Digest: ...``, ``Status: ...``)."""
        if self.quiet:
            return
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
            self._tasks.clear()
        out(text + "\n")
        sys.stdout.flush()

    def close(self) -> None:
        if self._bars is not None:
            self._bars.stop()
            self._bars = None
