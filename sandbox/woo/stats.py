"""Request/batch/delivery counters behind `GET /_sandbox/stats` (keys: `METHOD /route/<template>`), plus
what tests check instead of a stopwatch: the most API requests served at once (`in_flight_peak`), the
records a listing examined to answer (`records_examined`: a page served from a sorted index costs its own
length, a scan costs the catalog), the simulated PHP time charged by the profile (`charged_ms`), and per
route the time requests held a PHP worker (`service`: latency and work, not the wait for a worker)."""
from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self._in_flight = 0  # API requests being served now; never reset, as they still finish
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter = Counter()
            self.batch_items = 0
            self.deliveries = Counter(sent=0, failed=0, pings=0)
            self.in_flight_peak = self._in_flight
            self.records_examined = 0
            self.charged_ms = 0
            self.service: dict[str, list] = {}  # route -> [requests served, seconds in a PHP worker]

    def request(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def enter(self) -> None:
        """An API request began (before its faults and latency): in flight until `leave`."""
        with self._lock:
            self._in_flight += 1
            self.in_flight_peak = max(self.in_flight_peak, self._in_flight)

    def leave(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def examined(self, n: int) -> None:
        with self._lock:
            self.records_examined += n

    def charge(self, ms: int) -> None:
        with self._lock:
            self.charged_ms += ms

    def served(self, key: str, seconds: float) -> None:
        """An authenticated API request held a PHP worker for `seconds` (its latency, then its work)."""
        with self._lock:
            row = self.service.setdefault(key, [0, 0.0])
            row[0] += 1
            row[1] += seconds

    def batch(self, n: int) -> None:
        with self._lock:
            self.batch_items += n

    def delivery(self, kind: str) -> None:
        with self._lock:
            self.deliveries[kind] += 1

    def snapshot(self, faults_injected: dict) -> dict:
        with self._lock:
            return {"requests": dict(self.requests), "batch_items": self.batch_items,
                    "deliveries": dict(self.deliveries), "faults_injected": dict(faults_injected),
                    "in_flight_peak": self.in_flight_peak, "records_examined": self.records_examined,
                    "charged_ms": self.charged_ms,
                    "service": {k: {"requests": n, "seconds": round(t, 3)} for k, (n, t) in self.service.items()}}
