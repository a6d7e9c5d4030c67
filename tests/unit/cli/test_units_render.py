"""Docker's units (cases from docker/go-units)."""

from __future__ import annotations

import pytest

from dockyard.units import ellipsis, human_duration, human_size, humanize_bytes


@pytest.mark.parametrize(
    ("size", "want"),
    [
        (0, "0B"),
        (1000, "1kB"),
        (1024, "1.024kB"),
        (1000000, "1MB"),
        (1048576, "1.049MB"),
        (2 * 1000 * 1000, "2MB"),
        (3.42 * 1000**3, "3.42GB"),
        (5.372 * 1000**4, "5.372TB"),
        (2.22 * 1000**5, "2.22PB"),
        (1e21, "1ZB"),
        (1e24, "1YB"),
        (1e27, "1000YB"),
    ],
)
def test_human_size_precision_4(size: float, want: str) -> None:
    assert human_size(size, 4) == want


@pytest.mark.parametrize(
    ("size", "want"),
    [  # go-humanize's bytes_test.go (Docker Scout prints its sizes so)
        (0, "0 B"),
        (1, "1 B"),
        (803, "803 B"),
        (999, "999 B"),
        (1024, "1.0 kB"),
        (9999, "10 kB"),
        (1000**2 - 1, "1000 kB"),
        (1024 * 1024, "1.0 MB"),
        (1000**3 - 1000, "1000 MB"),
        (1000**3, "1.0 GB"),
        (1000**4, "1.0 TB"),
        (82854982, "83 MB"),
    ],
)
def test_humanize_bytes(size: int, want: str) -> None:
    assert humanize_bytes(size) == want


@pytest.mark.parametrize(("size", "want"), [(74_800_000, "74.8MB"), (7_377_000, "7.38MB"), (999, "999B"), (0, "0B")])
def test_human_size_precision_3(size: float, want: str) -> None:
    assert human_size(size) == want


@pytest.mark.parametrize(
    ("seconds", "want"),
    [
        (0, "Less than a second"),
        (1, "1 second"),
        (2, "2 seconds"),
        (59, "59 seconds"),
        (60, "About a minute"),
        (3 * 60, "3 minutes"),
        (35 * 60, "35 minutes"),
        (59 * 60 + 59, "59 minutes"),
        (60 * 60, "About an hour"),
        (3600 + 29 * 60, "About an hour"),
        (3600 + 31 * 60, "2 hours"),
        (47 * 3600, "47 hours"),
        (48 * 3600, "2 days"),
        (13 * 24 * 3600, "13 days"),
        (14 * 24 * 3600, "2 weeks"),
        (59 * 24 * 3600, "8 weeks"),
        (60 * 24 * 3600, "2 months"),
        (365 * 2 * 24 * 3600 - 1, "1 years"),  # go-units rounds hours up, then floors years
        (365 * 2 * 24 * 3600, "2 years"),
        (365 * 3 * 24 * 3600 + 1, "3 years"),
    ],
)
def test_human_duration(seconds: float, want: str) -> None:
    assert human_duration(seconds) == want


def test_ellipsis() -> None:
    assert ellipsis("short", 45) == "short"
    long = '/bin/sh -c #(nop)  ENTRYPOINT ["/app/main.sh"] and more'
    cut = ellipsis(long, 45)
    assert len(cut) == 45 and cut.endswith("…")
    assert ellipsis("日本語のテキスト", 6) == "日本…"
