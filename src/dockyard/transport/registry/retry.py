"""When and how long to wait before trying a registry request again.

Retried: connection errors and timeouts, 5xx answers (but 501), and 429 Too Many Requests, whose
``Retry-After`` (seconds or an HTTP date) is honoured up to :attr:`RetryPolicy.max_retry_after`.
Waits grow exponentially from :attr:`RetryPolicy.base` with jitter, up to :attr:`RetryPolicy.cap`.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 507, 508, 509, 520, 521, 522, 523, 524})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    """Tries in all (1 = no retry)."""
    base: float = 0.25
    """The first wait, in seconds; each later one doubles."""
    cap: float = 8.0
    """The longest backoff wait."""
    max_retry_after: float = 30.0
    """The longest wait a ``Retry-After`` header can ask for."""
    jitter: float = 0.2
    """Up to this fraction of each backoff wait is added at random."""

    def backoff(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (1 for the first retry)."""
        wait = min(self.cap, self.base * 2.0 ** max(0, attempt - 1))
        return wait * (1 + random.random() * self.jitter)

    def wait_for(self, attempt: int, retry_after: str | None) -> float:
        """The wait before retry ``attempt``: ``Retry-After`` when given (capped), else the backoff."""
        asked = parse_retry_after(retry_after)
        if asked is not None:
            return min(asked, self.max_retry_after)
        return self.backoff(attempt)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (``120`` or an HTTP date); ``None`` if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def should_retry_status(status: int) -> bool:
    return status in RETRY_STATUSES


__all__ = ["RETRY_STATUSES", "RetryPolicy", "parse_retry_after", "should_retry_status"]
