"""Webhook sender: queueing, delivery, ping, failure counting (reference §7.2–§7.6).

Events are queued per matching *active* webhook (at most once per webhook and resource per REST
request, `is_already_processed`) and delivered later by a worker pool, never inside the request.
At send time the payload is built from current data (the `GET` body, `{"id":N}` for `deleted`, or
the REST error object if the resource is gone), PHP-encoded, signed base64(HMAC-SHA256(secret, body))
and POSTed with the Hookshot user agent and the 7 `X-WC-Webhook-*` headers; the Delivery-ID is a
32-hex hash of webhook id + unix second, so deliveries within one second share it. No retries,
redirects not followed. 200–302 = success (failure_count reset), anything else (incl. timeouts) with
failure_count > 5 disables the webhook, else failure_count += 1. Already queued deliveries go out
even if the webhook was paused meanwhile. Every delivery saves the webhook, so a webhook whose ping
never got exactly 200 is pinged again (form body `webhook_id=N`, unsigned, no X-WC headers).
Delivery faults from `faults.py` (delay, duplicates, shuffle, update storm, coalescing, loss) apply here.
"""
from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import logging
import random
import secrets
import threading
import time
from collections import deque
import queue
from typing import Callable

import requests

from sandbox.woo.rest import php_json

log = logging.getLogger(__name__)
USER_AGENT = "WooCommerce/9.8.5 Hookshot (WordPress/6.8.1)"
MAX_FAILURES = 5  # woocommerce_max_webhook_delivery_failures
SHUFFLE_SPACING = 0.025


class Dispatcher:
    def __init__(self, store, faults, stats, workers: int = 8):
        self.store, self.faults, self.stats = store, faults, stats
        self.renderers: dict[str, Callable[[int], dict]] = {}  # resource → payload builder, set by app
        self._salt = secrets.token_bytes(16)
        self._cv = threading.Condition()
        self._heap: list = []
        self._seq = itertools.count()
        self._pending: set[tuple[int, int]] = set()
        self._shuffle: list[dict] = []
        self._log: deque = deque(maxlen=10000)
        self._stopped = False
        self._ready: queue.Queue = queue.Queue()
        self._workers = workers
        threading.Thread(target=self._run, name="woo-delivery-scheduler", daemon=True).start()
        for n in range(workers):  # daemon threads: an in-flight delivery never delays shutdown
            threading.Thread(target=self._work, name=f"woo-delivery-{n}", daemon=True).start()

    # ------------------------------------------------------------ queueing

    def emit(self, resource: str, event: str, rid: int, seen: set | None = None, storm: bool = False) -> None:
        cfg = self.faults.delivery
        topic = f"{resource}.{event}"
        with self.store.lock:
            hooks = [w["id"] for w in self.store.webhooks.values() if w["status"] == "active" and w["topic"] == topic]
        for wid in hooks:
            if seen is not None:
                if (wid, rid) in seen:
                    continue
                seen.add((wid, rid))
            if cfg["disabled"]:
                self.faults.count("delivery_suppressed")
                continue
            if self.faults.chance(cfg["loss_rate"]):
                self.faults.count("delivery_lost")
                continue
            if cfg["duplicates"]:
                self.faults.count("delivery_duplicate", cfg["duplicates"])
            for _ in range(1 + cfg["duplicates"]):
                self._queue({"webhook_id": wid, "resource": resource, "event": event, "resource_id": rid}, cfg)
        if topic == "order.created" and cfg["updated_storm"] and not storm:
            self.faults.count("delivery_storm", cfg["updated_storm"])
            for _ in range(cfg["updated_storm"]):
                self.emit("order", "updated", rid, storm=True)

    def _queue(self, job: dict, cfg: dict) -> None:
        key = (job["webhook_id"], job["resource_id"])
        with self._cv:
            if cfg["coalesce"] and key in self._pending:
                self.faults.count("delivery_coalesced")
                return
            self._pending.add(key)
            if cfg["shuffle"]:
                self._shuffle.append(job)
                if len(self._shuffle) == 1:
                    self._push(time.monotonic() + cfg["shuffle_window_ms"] / 1000, {"flush": True})
                return
            self._push(time.monotonic() + cfg["delay_ms"] / 1000, job)

    def _push(self, due: float, job: dict) -> None:
        heapq.heappush(self._heap, (due, next(self._seq), job))
        self._cv.notify()

    def _flush_shuffle(self) -> None:
        """Release the buffered jobs in a random order that differs from arrival order."""
        with self._cv:
            jobs, self._shuffle = self._shuffle, []
            order = list(range(len(jobs)))
            random.shuffle(order)
            if len(jobs) > 1 and order == sorted(order):
                order.reverse()
            self.faults.count("delivery_shuffled", len(jobs))
            start = time.monotonic() + self.faults.delivery["delay_ms"] / 1000
            for n, i in enumerate(order):
                self._push(start + n * SHUFFLE_SPACING, jobs[i])

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopped and (not self._heap or self._heap[0][0] > time.monotonic()):
                    self._cv.wait(None if not self._heap else max(self._heap[0][0] - time.monotonic(), 0))
                if self._stopped:
                    return
                _, _, job = heapq.heappop(self._heap)
            if job.get("flush"):
                self._flush_shuffle()
            else:
                self._ready.put(job)

    def _work(self) -> None:
        while (job := self._ready.get()) is not None:
            try:
                self._deliver(job)
            except Exception:  # a bug in one delivery must not kill the worker
                log.exception("webhook delivery %s failed", job)

    def clear(self) -> None:
        with self._cv:
            self._heap.clear()
            self._pending.clear()
            self._shuffle.clear()
            self._log.clear()  # a reset shop has no delivery history (webhook ids start again at 1)

    def stop(self) -> None:
        with self._cv:
            self._stopped = True
            self._cv.notify_all()
        for _ in range(self._workers):
            self._ready.put(None)

    # ------------------------------------------------------------ sending

    def payload(self, resource: str, event: str, rid: int) -> dict:
        if event == "deleted":
            return {"id": rid}
        return self.renderers[resource](rid)

    def _deliver(self, job: dict) -> None:
        wid, rid = job["webhook_id"], job["resource_id"]
        with self._cv:
            self._pending.discard((wid, rid))
        with self.store.lock:
            wh = self.store.webhooks.get(wid)
            if wh is None:
                return
            url, secret, topic = wh["delivery_url"], wh["secret"], f"{job['resource']}.{job['event']}"
            body = php_json(self.payload(job["resource"], job["event"], rid)).encode()
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        delivery_id = hmac.new(self._salt, f"{wid}{int(time.time())}".encode(), hashlib.md5).hexdigest()
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json",
                   "X-WC-Webhook-Source": self.store.home_url + "/", "X-WC-Webhook-Topic": topic,
                   "X-WC-Webhook-Resource": job["resource"], "X-WC-Webhook-Event": job["event"],
                   "X-WC-Webhook-Signature": signature, "X-WC-Webhook-ID": str(wid),
                   "X-WC-Webhook-Delivery-ID": delivery_id}
        code, error, started = self._post(url, body, headers, self.faults.delivery["timeout_s"], redirects=False)
        ok = code is not None and 200 <= code <= 302
        self.stats.delivery("sent")
        if not ok:
            self.stats.delivery("failed")
        with self.store.lock:
            wh = self.store.webhooks.get(wid)
            if wh is not None:
                if ok:
                    wh["failure_count"] = 0
                elif wh["failure_count"] > MAX_FAILURES:
                    wh["status"] = "disabled"
                else:
                    wh["failure_count"] += 1
            self._record(wid, topic, rid, code, error, delivery_id, started, ping=False)
            ping = wh is not None and wh["status"] == "active" and wh["pending_delivery"]
        if ping:
            self.ping(wid)

    def ping(self, wid: int) -> None:
        """deliver_ping(): synchronous, exactly 200 clears `pending_delivery`."""
        with self.store.lock:
            wh = self.store.webhooks.get(wid)
            if wh is None:
                return
            url = wh["delivery_url"]
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/x-www-form-urlencoded"}
        code, error, started = self._post(url, f"webhook_id={wid}".encode(), headers, 5.0, redirects=True)
        self.stats.delivery("pings")
        with self.store.lock:
            if code == 200 and wid in self.store.webhooks:
                self.store.webhooks[wid]["pending_delivery"] = False
            self._record(wid, "ping", None, code, error, None, started, ping=True)

    @staticmethod
    def _post(url: str, body: bytes, headers: dict, timeout: float, redirects: bool):
        started = time.time()
        try:
            r = requests.post(url, data=body, headers=headers, timeout=timeout, allow_redirects=redirects)
            return r.status_code, None, started
        except requests.RequestException as e:
            return None, f"{type(e).__name__}: {e}"[:300], started

    def _record(self, wid, topic, rid, code, error, delivery_id, started, ping: bool) -> None:
        self._log.append({"webhook_id": wid, "topic": topic, "resource_id": rid, "status": code,
                          "success": code is not None and (code == 200 if ping else 200 <= code <= 302),
                          "error": error, "delivery_id": delivery_id, "ping": ping, "time": started,
                          "duration_ms": round((time.time() - started) * 1000, 1)})

    def log(self, webhook_id: int | None = None, since: float | None = None) -> list[dict]:
        with self.store.lock:
            return [dict(e) for e in self._log if (webhook_id is None or e["webhook_id"] == webhook_id)
                    and (since is None or e["time"] >= since)]
