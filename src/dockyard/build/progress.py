"""Build progress as BuildKit prints it: ``plain`` numbers the steps (``#5 [2/3] RUN ...``), prints their output
with the seconds since the step started and ``CACHED`` or ``DONE 0.3s`` / ``ERROR``; ``tty`` (``auto`` on a
terminal) prints one ``=> [2/3] RUN ...   0.3s`` line per finished step, the output of a failed step only, and
``[+] Building 1.2s (9/9) FINISHED``, and on a terminal keeps a live block under them, redrawn five times a
second: ``[+] Building 3.4s (4/9)``, each running step with its time and its last output lines (``=> => # ...``);
``rawjson`` writes one JSON object per event (BuildKit's solve-status shape: vertexes, statuses, logs, warnings),
``quiet`` nothing."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TextIO

MODES = ("auto", "plain", "tty", "quiet", "rawjson")


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


@dataclass
class Step:
    """One numbered step (a BuildKit vertex)."""

    number: int
    name: str
    progress: Progress
    started: float = field(default_factory=time.monotonic)
    done: bool = False
    _partial: bytes = b""

    @property
    def digest(self) -> str:
        return "sha256:" + hashlib.sha256(f"{self.number}:{self.name}".encode()).hexdigest()

    def log(self, data: bytes) -> None:
        """Output of the step (a RUN's stdout and stderr), printed line by line."""
        self.progress.log(self, data)

    def status(self, text: str) -> None:
        """A one-line note under the step (``transferring context: 2B done``)."""
        self.progress.status(self, text)

    def cached(self) -> None:
        self.progress.finish(self, cached=True)

    def finish(self, error: str | None = None) -> None:
        self.progress.finish(self, error=error)


class Progress:
    """Where a build reports its steps; ``mode`` is one of :data:`MODES` (``auto``: resolved by the caller)."""

    def __init__(self, out: TextIO, mode: str = "plain") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown progress mode {mode!r}: {', '.join(MODES)}")
        self.out = out
        self.mode = mode
        self._count = 0
        self._lock = threading.Lock()
        self.warnings: list[str] = []
        self._began = time.monotonic()
        self._finished = 0
        self._tails: dict[int, list[str]] = {}
        self._running: dict[int, Step] = {}
        self._live_lines = 0  # lines of the live block now on the terminal
        self._ticker: threading.Thread | None = None
        self._stop = threading.Event()
        self._live = mode == "tty" and _is_terminal(out)

    @property
    def tty(self) -> bool:
        return self.mode == "tty"

    def summary(self, *, failed: bool = False) -> None:
        """The closing line of the tty view: ``[+] Building 1.2s (9/9) FINISHED``."""
        self.close()
        if self.tty:
            state = "ERROR" if failed else "FINISHED"
            elapsed = time.monotonic() - self._began
            self._write(f"[+] Building {elapsed:.1f}s ({self._finished}/{self._count}) {state}\n")

    def close(self) -> None:
        """Stop redrawing the live block and take it off the terminal (idempotent)."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
            self._ticker = None
        with self._lock:
            self._running.clear()
            self._erase()

    @property
    def quiet(self) -> bool:
        return self.mode == "quiet"

    def step(self, name: str) -> Step:
        with self._lock:
            self._count += 1
            step = Step(self._count, name, self)
            if self._live:
                self._running[step.number] = step
        if self._live and self._ticker is None and not self._stop.is_set():
            self._ticker = threading.Thread(target=self._tick, name="build-progress", daemon=True)
            self._ticker.start()
        if self.mode == "rawjson":
            self._json({"vertexes": [{"digest": step.digest, "name": name, "started": _now()}]})
        elif not self.quiet and not self.tty:
            self._write(f"\n#{step.number} {name}\n")
        return step

    def warn(self, text: str) -> None:
        """A warning of the whole build (unused build args ...), as BuildKit lists them at the end."""
        self.warnings.append(text)
        if self.mode == "rawjson":
            self._json({"warnings": [{"short": text}]})
        elif not self.quiet:
            self._write(f"\nWARNING: {text}\n")

    def log(self, step: Step, data: bytes) -> None:
        if self.quiet:
            return
        if self.mode == "rawjson":
            encoded = base64.b64encode(data).decode()
            self._json({"logs": [{"vertex": step.digest, "stream": 1, "data": encoded, "timestamp": _now()}]})
            return
        text = step._partial + data
        *lines, step._partial = text.split(b"\n")
        elapsed = time.monotonic() - step.started
        for line in lines:
            shown = line.decode("utf-8", "replace").rstrip(chr(13))
            if self.tty:
                tail = self._tails.setdefault(step.number, [])
                tail.append(shown)
                del tail[:-10]
            else:
                self._write(f"#{step.number} {elapsed:.3f} {shown}\n")

    def status(self, step: Step, text: str) -> None:
        if self.mode == "rawjson":
            self._json({"statuses": [{"id": text, "vertex": step.digest, "timestamp": _now()}]})
        elif self.tty:
            if "changes the whole host" in text:  # QEMU registered: said at once, on its own line
                self._write(f"   {text}\n")
        elif not self.quiet:
            self._write(f"#{step.number} {text}\n")

    def finish(self, step: Step, *, cached: bool = False, error: str | None = None) -> None:
        if step.done:
            return
        step.done = True
        if step._partial:
            step._partial, rest = b"", step._partial
            self.log(step, rest + b"\n")
        elapsed = time.monotonic() - step.started
        self._finished += 1
        self._running.pop(step.number, None)
        if self.tty:
            self._tty_line(step, cached, error, elapsed)
            return
        if self.mode == "rawjson":
            vertex: dict[str, object] = {"digest": step.digest, "name": step.name, "completed": _now()}
            if cached:
                vertex["cached"] = True
            if error:
                vertex["error"] = error
            self._json({"vertexes": [vertex]})
        elif not self.quiet:
            if cached:
                self._write(f"#{step.number} CACHED\n")
            elif error is not None:
                self._write(f"#{step.number} ERROR: {error}\n")
            else:
                self._write(f"#{step.number} DONE {elapsed:.1f}s\n")

    def _tty_line(self, step: Step, cached: bool, error: str | None, elapsed: float) -> None:
        head = "=> CACHED " if cached else ("=> ERROR " if error is not None else "=> ")
        lines = [_row(head, step.name, "0.0s" if cached else f"{elapsed:.1f}s", _width())]
        if error is not None:
            lines += [f"------\n > {step.name}:"] + [f"   {t}" for t in self._tails.pop(step.number, [])]
            lines.append(f"------\nERROR: {error}")
        self._tails.pop(step.number, None)
        self._write("\n".join(lines) + "\n")

    def _json(self, obj: dict[str, object]) -> None:
        self._write(json.dumps(obj, separators=(",", ":")) + "\n")

    def _write(self, text: str) -> None:
        with self._lock:
            self._erase()
            self.out.write(text)
            self._draw()
            self.out.flush()

    # --- the live block (tty mode on a terminal) ---------------------------------------------------------------

    def _tick(self) -> None:
        while not self._stop.wait(0.2):
            with self._lock:
                self._erase()
                self._draw()
                self.out.flush()

    def _erase(self) -> None:
        if self._live_lines:
            self.out.write(f"\x1b[{self._live_lines}A\r\x1b[J")  # up to the block's first line, clear below
            self._live_lines = 0

    def _draw(self) -> None:
        if not self._live or not self._running:
            return
        width = _width() - 1  # a full last column would make the terminal wrap, and the erase count miss
        now = time.monotonic()
        lines = [f"[+] Building {now - self._began:.1f}s ({self._finished}/{self._count})"]
        for step in self._running.values():
            lines.append(_row("=> ", step.name, f"{now - step.started:.1f}s", width))
            lines += [f"=> => # {t}"[:width] for t in self._tails.get(step.number, [])[-6:]]
        self.out.write("\n".join(lines) + "\n")
        self._live_lines = len(lines)


def _width() -> int:
    import shutil

    return max(shutil.get_terminal_size((80, 24)).columns, 40)


def _row(head: str, name: str, timing: str, width: int) -> str:
    """``=> NAME ... TIMING`` in ``width`` columns, the name cut with ``...`` when it does not fit."""
    room = width - len(head) - len(timing) - 1
    name = name if len(name) <= room else name[: max(room - 3, 0)] + "..."
    return f"{head}{name}{' ' * (room - len(name) + 1)}{timing}"


def _is_terminal(out: TextIO) -> bool:
    try:
        return out.isatty()
    except (AttributeError, ValueError):
        return False


def silent() -> Progress:
    """A progress that prints nothing (library use)."""
    import io

    return Progress(io.StringIO(), "quiet")


LogSink = Callable[[bytes], None]

__all__ = ["MODES", "LogSink", "Progress", "Step", "silent"]
