"""Request/batch/delivery counters behind `GET /_sandbox/stats` (keys: `METHOD /route/<template>`)."""
from __future__ import annotations

import threading
from collections import Counter


class Stats:
    def __init__(self):
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests: Counter = Counter()
            self.batch_items = 0
            self.deliveries = Counter(sent=0, failed=0, pings=0)

    def request(self, key: str) -> None:
        with self._lock:
            self.requests[key] += 1

    def batch(self, n: int) -> None:
        with self._lock:
            self.batch_items += n

    def delivery(self, kind: str) -> None:
        with self._lock:
            self.deliveries[kind] += 1

    def snapshot(self, faults_injected: dict) -> dict:
        with self._lock:
            return {"requests": dict(self.requests), "batch_items": self.batch_items,
                    "deliveries": dict(self.deliveries), "faults_injected": dict(faults_injected)}
