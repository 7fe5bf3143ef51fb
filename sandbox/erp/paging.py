"""Keyset-paged collections: records ordered by (modified_at, id), served through opaque cursors.

Each write stamps its record with a millisecond strictly later than every earlier stamp in the
collection, so a record modified while a client pages moves behind the client's cursor and is served
again later, never skipped. A sorted key list (bisect) makes a page cost O(log n + page size).
Not thread-safe by itself: callers hold the store lock.
"""
from __future__ import annotations

import base64
import binascii
import json
from bisect import bisect_left, bisect_right, insort
from typing import Callable

from .clock import now_ms, parse_iso, to_iso
from .errors import bad_request

DEFAULT_LIMIT, MAX_LIMIT = 100, 500


class Collection:
    def __init__(self, name: str, partition: Callable[[dict], str] | None = None, after_stamp: int = 0):
        """`after_stamp`: every stamp will be later than this (keeps time monotonic across resets)."""
        self.name = name
        self._records: dict[str, dict] = {}
        self._stamps: dict[str, int] = {}
        self._index: list[tuple[int, str]] = []
        self._partition = partition
        self._parts: dict[str, list[tuple[int, str]]] = {}
        self.last_stamp = after_stamp

    def __len__(self) -> int:
        return len(self._records)

    def __contains__(self, record_id: str) -> bool:
        return record_id in self._records

    def ids(self) -> list[str]:
        return list(self._records)

    def get(self, record_id: str) -> dict | None:
        """The stored record (mutable; call `touch` after changing it)."""
        return self._records.get(record_id)

    def view(self, record_id: str) -> dict:
        """A copy of the record as the API shows it, with `modified_at`."""
        return {**self._records[record_id], "modified_at": to_iso(self._stamps[record_id])}

    def reserve(self, n: int) -> int:
        """First of `n` consecutive fresh stamps ending now (or just after the last stamp)."""
        start = max(now_ms() - n + 1, self.last_stamp + 1)
        self.last_stamp = start + n - 1
        return start

    def put(self, record_id: str, record: dict, stamp: int | None = None) -> None:
        if stamp is None:
            stamp = self.reserve(1)
        self._unindex(record_id)
        self._records[record_id] = record
        self._stamps[record_id] = stamp
        for keys in self._indexes_for(record):
            key = (stamp, record_id)
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)

    def touch(self, record_id: str) -> None:
        self.put(record_id, self._records[record_id])

    def page(self, limit: int, cursor: str | None, since_ms: int | None,
             partition: str | None = None) -> dict:
        keys = self._index if partition is None else self._parts.get(partition, [])
        start = 0 if since_ms is None else bisect_left(keys, (since_ms,))
        if cursor:
            start = max(start, bisect_right(keys, self._decode(cursor)))
        chosen = keys[start:start + limit]
        more = start + len(chosen) < len(keys)
        return {"items": [self.view(rid) for _, rid in chosen],
                "next_cursor": self._encode(chosen[-1]) if more and chosen else None}

    def _indexes_for(self, record: dict) -> list[list[tuple[int, str]]]:
        if self._partition is None:
            return [self._index]
        return [self._index, self._parts.setdefault(self._partition(record), [])]

    def _unindex(self, record_id: str) -> None:
        if record_id not in self._records:
            return
        key = (self._stamps[record_id], record_id)
        for keys in self._indexes_for(self._records[record_id]):
            del keys[bisect_left(keys, key)]

    def _encode(self, key: tuple[int, str]) -> str:
        raw = json.dumps([self.name, key[0], key[1]], separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    def _decode(self, cursor: str) -> tuple[int, str]:
        try:
            name, stamp, record_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        except (ValueError, TypeError, binascii.Error):
            raise bad_request(f"unknown cursor {cursor!r}") from None
        if name != self.name or not isinstance(stamp, int) or not isinstance(record_id, str):
            raise bad_request(f"unknown cursor {cursor!r}")
        return stamp, record_id


def page_params(args) -> tuple[int, str | None, int | None]:
    """(limit, cursor, modified_since in ms) from query args; 400 for a bad limit or timestamp."""
    raw = args.get("limit", str(DEFAULT_LIMIT))
    try:
        limit = int(raw)
    except ValueError:
        raise bad_request(f"limit must be an integer 1..{MAX_LIMIT}, got {raw!r}") from None
    if not 1 <= limit <= MAX_LIMIT:
        raise bad_request(f"limit must be 1..{MAX_LIMIT}, got {limit}")
    since = args.get("modified_since")
    try:
        since_ms = None if since is None else parse_iso(since)
    except ValueError:
        raise bad_request(f"modified_since is not an ISO 8601 timestamp: {since!r}") from None
    return limit, args.get("cursor") or None, since_ms
