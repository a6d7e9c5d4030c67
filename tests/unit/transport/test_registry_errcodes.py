"""The registry error-code table: the distribution spec's fourteen codes, Distribution's extras, the classes."""

from __future__ import annotations

import json

import pytest

from dockyard import errors
from dockyard.errors import (
    RegistryAuthError,
    RegistryError,
    RegistryNotFound,
    RegistryRejected,
    RegistryUnavailable,
    RegistryUnsupported,
)
from dockyard.oci import errcodes

# The distribution spec's table (spec.md, "Error Codes"): code-N, code, description.
SPEC = [
    (1, "BLOB_UNKNOWN", "blob unknown to registry"),
    (2, "BLOB_UPLOAD_INVALID", "blob upload invalid"),
    (3, "BLOB_UPLOAD_UNKNOWN", "blob upload unknown to registry"),
    (4, "DIGEST_INVALID", "provided digest did not match uploaded content"),
    (5, "MANIFEST_BLOB_UNKNOWN", "manifest references a manifest or blob unknown to registry"),
    (6, "MANIFEST_INVALID", "manifest invalid"),
    (7, "MANIFEST_UNKNOWN", "manifest unknown to registry"),
    (8, "NAME_INVALID", "invalid repository name"),
    (9, "NAME_UNKNOWN", "repository name not known to registry"),
    (10, "SIZE_INVALID", "provided length did not match content length"),
    (11, "UNAUTHORIZED", "authentication required"),
    (12, "DENIED", "requested access to the resource is denied"),
    (13, "UNSUPPORTED", "the operation is unsupported"),
    (14, "TOOMANYREQUESTS", "too many requests"),
]

# Distribution's registrations beyond the spec (registry/api/errcode/register.go, registry/api/v2/errors.go).
EXTRA = {
    "UNKNOWN": 500,
    "UNAVAILABLE": 503,
    "TAG_INVALID": 400,
    "MANIFEST_UNVERIFIED": 400,
    "RANGE_INVALID": 416,
    "PAGINATION_NUMBER_INVALID": 400,
    "QUERY_PARAMETER_INVALID": 400,
}


def test_the_spec_codes_are_all_there_with_their_numbers() -> None:
    assert [(c.spec, c.code, c.spec_message) for c in errcodes.CODES.values() if c.spec is not None] == SPEC
    assert {c.code: c.status for c in errcodes.CODES.values() if c.spec is None} == EXTRA
    for code in errcodes.CODES.values():
        assert getattr(errcodes, code.code) is code  # one name per code, e.g. errcodes.MANIFEST_UNKNOWN
        assert issubclass(code.error, RegistryError)


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        ("MANIFEST_UNKNOWN", RegistryNotFound),
        ("BLOB_UNKNOWN", RegistryNotFound),
        ("NAME_UNKNOWN", RegistryNotFound),
        ("BLOB_UPLOAD_UNKNOWN", RegistryNotFound),
        ("UNAUTHORIZED", RegistryAuthError),
        ("DENIED", RegistryAuthError),
        ("DIGEST_INVALID", RegistryRejected),
        ("MANIFEST_INVALID", RegistryRejected),
        ("MANIFEST_BLOB_UNKNOWN", RegistryRejected),
        ("SIZE_INVALID", RegistryRejected),
        ("RANGE_INVALID", RegistryRejected),
        ("UNSUPPORTED", RegistryUnsupported),
        ("TOOMANYREQUESTS", RegistryUnavailable),
        ("UNAVAILABLE", RegistryUnavailable),
    ],
)
def test_each_code_has_its_class_and_the_default_status_agrees(code: str, cls: type[RegistryError]) -> None:
    entry = errcodes.CODES[code]
    assert entry.error is cls
    assert errcodes.error_class(entry.status, [code]) is cls


def test_class_of_an_answer() -> None:
    # Retried statuses are "unavailable" whatever the body says.
    assert errcodes.error_class(503, ["MANIFEST_UNKNOWN"]) is RegistryUnavailable
    assert errcodes.error_class(429) is RegistryUnavailable
    # Otherwise the first known code decides, even when the status is odd ...
    assert errcodes.error_class(400, ["NOT_A_CODE", "NAME_UNKNOWN"]) is RegistryNotFound
    # ... and without one, the status.
    assert errcodes.error_class(401, ["NOT_A_CODE"]) is RegistryAuthError
    assert errcodes.error_class(403) is RegistryAuthError
    assert errcodes.error_class(404) is RegistryNotFound
    assert errcodes.error_class(405) is RegistryUnsupported
    assert errcodes.error_class(400) is RegistryRejected and errcodes.error_class(416) is RegistryRejected
    assert errcodes.error_class(302) is RegistryError
    assert errcodes.lookup("NOT_A_CODE") is None


def test_bodies_and_exceptions_from_the_table() -> None:
    raw = errcodes.body(errcodes.MANIFEST_UNKNOWN.entry({"Tag": "v9"}), errcodes.DENIED.entry(message="no"))
    assert json.loads(raw) == {
        "errors": [
            {"code": "MANIFEST_UNKNOWN", "message": "manifest unknown", "detail": {"Tag": "v9"}},
            {"code": "DENIED", "message": "no", "detail": None},
        ]
    }
    err = errcodes.MANIFEST_UNKNOWN.exception("127.0.0.1:5000", what="repo:v9")
    assert isinstance(err, RegistryNotFound) and isinstance(err, LookupError)
    assert str(err) == "registry 127.0.0.1:5000 said MANIFEST_UNKNOWN: manifest unknown (404) for repo:v9"


def test_the_new_classes_are_exported() -> None:
    assert {"RegistryRejected", "RegistryUnsupported"} <= set(errors.__all__)
    assert RegistryRejected.__doc__ and RegistryUnsupported.__doc__
