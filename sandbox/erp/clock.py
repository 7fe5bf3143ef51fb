"""Timestamps as the API writes them: ISO 8601 UTC with milliseconds (`2026-11-20T10:00:00.123Z`).

Internally a timestamp is an integer count of milliseconds since the Unix epoch.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def to_iso(ms: int) -> str:
    return f"{EPOCH + timedelta(milliseconds=ms):%Y-%m-%dT%H:%M:%S}.{ms % 1000:03d}Z"


def now_iso() -> str:
    return to_iso(now_ms())


def parse_iso(text: str) -> int:
    """Milliseconds for an ISO 8601 timestamp (no offset means UTC), rounded up; ValueError if malformed."""
    if not isinstance(text, str) or len(text) < 10 or not text[:4].isdigit():
        raise ValueError(f"not an ISO 8601 timestamp: {text!r}")
    dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    micros = (dt - EPOCH) // timedelta(microseconds=1)
    return -(-micros // 1000)
