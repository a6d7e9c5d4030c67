"""``export(one_pass=True)`` reads each layer once (contents spooled aside) and writes the very bytes of the
two-pass export."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import BinaryIO

import pytest
from layer_scenarios import SCENARIOS
from layertar_helpers import D, F, H, S, layers

from dockyard.layers.union import export


def _both(openers: list[Callable[[], BinaryIO]]) -> tuple[bytes, bytes]:
    two, one = io.BytesIO(), io.BytesIO()
    export(openers, two)
    export(openers, one, one_pass=True)
    return two.getvalue(), one.getvalue()


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_one_pass_export_is_byte_identical(name: str) -> None:
    two, one = _both(layers(*SCENARIOS[name].layers))
    assert one == two


def test_one_pass_reads_each_layer_once() -> None:
    stack = layers(
        [D("d"), F("d/a", b"a" * 70_000), F("d/b", b"b"), S("d/s", "a"), H("d/h", "d/a")],
        [F("d/b", b"B" * 3000), F("e", b"")],
        [F("d/a", b"new")],
    )
    opens = [0] * len(stack)

    def counted(i: int) -> Callable[[], BinaryIO]:
        def opener() -> BinaryIO:
            opens[i] += 1
            return stack[i]()

        return opener

    out = io.BytesIO()
    export([counted(i) for i in range(len(stack))], out, one_pass=True)
    assert opens == [1, 1, 1]
    two = io.BytesIO()
    export(stack, two)
    assert out.getvalue() == two.getvalue()
