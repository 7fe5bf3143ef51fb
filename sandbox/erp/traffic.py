"""What the sandbox saw: request counts per route, faults injected, the most API requests it served at
once, and a bounded request log.

Counts are keyed by METHOD + route template (`GET /api/v1/sales-orders/{id}`) so tests can assert
how often the connector called something; the log keeps each request's correlation id, status,
fault and JSON body so one order can be followed through `GET /_sandbox/requests`.
"""
from __future__ import annotations

import threading
from collections import Counter, deque

from flask import current_app

LOG_SIZE = 10_000


class Traffic:
    def __init__(self):
        self._lock = threading.Lock()
        self._in_flight = 0  # API requests being served now; never cleared, as they still finish
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self._requests: Counter = Counter()
            self._faults: Counter = Counter()
            self._log: deque = deque(maxlen=LOG_SIZE)
            self._peak = self._in_flight

    def enter(self) -> None:
        """An API request began (before its faults and latency): in flight until `leave`."""
        with self._lock:
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def count_request(self, route: str) -> None:
        with self._lock:
            self._requests[route] += 1

    def count_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def record(self, entry: dict) -> None:
        with self._lock:
            self._log.append(entry)

    def entries(self, correlation_id: str | None = None, limit: int | None = None) -> list[dict]:
        with self._lock:
            found = [e for e in self._log if correlation_id is None or e["correlation_id"] == correlation_id]
        return found[-limit:] if limit else found

    def counts(self) -> dict:
        with self._lock:
            return {"requests": dict(self._requests), "faults_injected": dict(self._faults),
                    "in_flight_peak": self._peak}


def current() -> Traffic:
    return current_app.extensions["erp_traffic"]
