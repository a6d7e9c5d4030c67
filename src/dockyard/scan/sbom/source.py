"""Where an SBOM's image comes from: the store (a name or ID), or any location the copy engine reads
(``oci:DIR[:NAME]``, ``oci-archive:FILE``, ``docker-archive:FILE``, ``docker://REF``). A registry image is read
layer by layer without being stored; layers already analysed (by diff_id) are not fetched again."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from dockyard.image.base import Image, select_platform
from dockyard.oci.index import Index
from dockyard.oci.platform import Platform
from dockyard.store.store import Store
from dockyard.transport.base import Location, SourceIndex, parse_location, parse_raw, source_image


@contextmanager
def open_image(text: str, store: Store, *, platform: Platform | None = None) -> Iterator[tuple[Image, Location]]:
    """The image ``text`` names, open for the duration of the ``with`` block."""
    from dockyard.copy import PLACES, Context

    loc = parse_location(text)
    if loc.kind == "store":
        yield store.image(text), loc
        return
    ctx = Context(store=store)
    try:
        source = PLACES[loc.kind].open_source(loc, ctx)
        try:
            where = str(loc)
            top = source.top()
            if isinstance(parse_raw(top, where), Index):
                image, _ = select_platform(SourceIndex(source, top, where), platform or Platform.host())
            else:
                image = source_image(source, top, where)
            yield image, loc
        finally:
            source.close()
    finally:
        ctx.close()


__all__ = ["open_image"]
