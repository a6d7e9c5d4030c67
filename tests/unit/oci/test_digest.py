import pytest

from dockyard.errors import DigestMismatch, InvalidDigest
from dockyard.oci.digest import Digest, DigestHasher, is_digest

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_of_and_str() -> None:
    assert str(Digest.of(b"")) == EMPTY
    assert Digest.parse(EMPTY).short == "e3b0c44298fc"


def test_sha512() -> None:
    d = Digest.of(b"abc", "sha512")
    assert d.algorithm == "sha512" and len(d.hex) == 128
    assert Digest.parse(str(d)) == d


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:abc",
        "md5:d41d8cd98f00b204e9800998ecf8427e",
        "sha256:" + "E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
        "sha256:" + "g" * 64,
        "sha256:" + "a" * 63,
        "sha512:" + "a" * 64,
        "SHA256:" + "a" * 64,
        " sha256:" + "a" * 64,
    ],
)
def test_invalid(bad: str) -> None:
    with pytest.raises(InvalidDigest):
        Digest.parse(bad)
    assert not is_digest(bad)


def test_invalid_is_value_error() -> None:
    with pytest.raises(ValueError):
        Digest.parse("nope")


def test_verify() -> None:
    d = Digest.of(b"hello")
    d.verify(b"hello")
    with pytest.raises(DigestMismatch) as exc:
        d.verify(b"hellO", "config")
    assert "config" in str(exc.value) and str(d) in str(exc.value)


def test_streaming_hasher_counts() -> None:
    h = DigestHasher()
    for chunk in (b"he", b"ll", memoryview(b"o")):
        h.update(chunk)
    assert h.size == 5 and h.digest() == Digest.of(b"hello")
