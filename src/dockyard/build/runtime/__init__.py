"""The build runtime: layer snapshots in overlayfs form, an overlay per step, RUN in runc, the upper
directory as a layer tar."""

from dockyard.build.runtime.diff import DiffResult, diff
from dockyard.build.runtime.overlay import Rootfs, overlay
from dockyard.build.runtime.runc import Mount, RunSpec, available, cleanup_stale, run
from dockyard.build.runtime.snapshots import Snapshots
from dockyard.build.runtime.users import resolve_user

__all__ = [
    "DiffResult",
    "Mount",
    "Rootfs",
    "RunSpec",
    "Snapshots",
    "available",
    "cleanup_stale",
    "diff",
    "overlay",
    "resolve_user",
    "run",
]
