"""Fault injection: host-level HTTP faults and webhook delivery faults (reference §2.3, §8, §7.2, §10.1).

HTTP rules (`{"method","path","kind","rate","status","ms","retry_after","retry_after_format","times"}`)
match a method (`*` = any) and a path prefix or fnmatch glob; each matching rule fires with
probability `rate` (at most `times` times). Kinds, modelled on what hosts/CDNs/WAFs do in front of WP:
- `latency`: sleep `ms`, then serve normally (slow hosts, timeouts beyond the client's 5 s);
- `error`: WordPress's fatal-error JSON (`internal_server_error`), `status` default 500;
- `html`: an HTML error page, `status` default 503 (CDN/WAF/proxy pages, 502/504, Cloudflare 52x);
- `rate_limit`: 429 with `Retry-After` in seconds or, with `retry_after_format:"http-date"`, a date;
- `drop`: wait `ms`, then close the connection without an answer;
- `bom` / `truncated`: the real answer prefixed by a UTF-8 BOM / cut in half (PHP notices, broken proxies).
Delivery faults (`delivery`): `delay_ms`, `duplicates`, `shuffle` (+`shuffle_window_ms`),
`updated_storm`, `coalesce`, `disabled`, `loss_rate`, `timeout_s` — applied by `delivery.py`.
Every injected fault is counted by kind.
"""
from __future__ import annotations

import fnmatch
import random
import socket
import threading
import time
from collections import Counter
from email.utils import formatdate
from http import HTTPStatus

from flask import Response, request

from sandbox.woo.rest import json_response

KINDS = ("error", "latency", "rate_limit", "html", "drop", "bom", "truncated")
DELIVERY_DEFAULTS = {"delay_ms": 50, "duplicates": 0, "shuffle": False, "shuffle_window_ms": 300,
                     "updated_storm": 0, "coalesce": False, "disabled": False, "loss_rate": 0.0, "timeout_s": 60.0}
CRITICAL = ("<p>There has been a critical error on this website.</p><p><a href=\"https://wordpress.org/"
            "documentation/article/faq-troubleshooting/\">Learn more about troubleshooting WordPress.</a></p>")
HTML_PAGE = ("<!DOCTYPE html><html><head><title>{status} {reason}</title></head><body><h1>{reason}</h1>"
             "<p>The server is temporarily unable to service your request. Please try again later.</p>"
             "<hr><address>nginx</address></body></html>")


class Faults:
    def __init__(self, delivery_delay_ms: int):
        self._lock = threading.Lock()
        self._base = dict(DELIVERY_DEFAULTS, delay_ms=delivery_delay_ms)
        self.counts: Counter = Counter()
        self.clear()

    def clear(self) -> None:
        with self._lock:
            self.rules: list[dict] = []
            self.delivery = dict(self._base)
            self.rng = random.Random()

    def configure(self, spec: dict) -> None:
        """Replace the whole configuration; raises ValueError on a bad spec."""
        rules = [self._rule(r) for r in spec.get("rules") or []]
        with self._lock:
            delivery = dict(self._base)
        for k, v in (spec.get("delivery") or {}).items():
            if k not in DELIVERY_DEFAULTS:
                raise ValueError(f"unknown delivery fault {k!r}")
            delivery[k] = type(DELIVERY_DEFAULTS[k])(v)
        with self._lock:
            self.rules, self.delivery = rules, delivery
            self.rng = random.Random(spec.get("seed"))

    def set_base(self, **values) -> None:
        """The shop's own delivery scheduler (profile): the values faults start from; applied now too."""
        with self._lock:
            self._base.update(values)
            self.delivery.update(values)

    @staticmethod
    def _rule(r: dict) -> dict:
        if not isinstance(r, dict) or r.get("kind") not in KINDS:
            raise ValueError(f"rule {r!r}: kind must be one of {', '.join(KINDS)}")
        rule = {"method": str(r.get("method", "*")).upper(), "path": str(r.get("path", "/wp-json/")),
                "kind": r["kind"], "rate": float(r.get("rate", 1.0)), "status": r.get("status"),
                "ms": int(r.get("ms", 0)), "retry_after": r.get("retry_after"),
                "retry_after_format": r.get("retry_after_format", "seconds"), "times": r.get("times")}
        if not 0 <= rule["rate"] <= 1:
            raise ValueError(f"rule {r!r}: rate must be within 0..1")
        return rule

    def snapshot(self) -> dict:
        with self._lock:
            return {"rules": [dict(r) for r in self.rules], "delivery": dict(self.delivery)}

    def reset_counts(self) -> None:
        with self._lock:
            self.counts.clear()

    def count(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.counts[kind] += n

    def chance(self, rate: float) -> bool:
        with self._lock:
            return rate > 0 and self.rng.random() < rate

    def firing(self, method: str, path: str) -> list[dict]:
        """Rules that fire for this request, counted."""
        out = []
        with self._lock:
            for r in self.rules:
                glob = any(c in r["path"] for c in "*?[")
                hit = fnmatch.fnmatchcase(path, r["path"]) if glob else path.startswith(r["path"])
                if not hit or r["method"] not in ("*", method) or (r["times"] is not None and r["times"] <= 0):
                    continue
                if self.rng.random() < r["rate"]:
                    if r["times"] is not None:
                        r["times"] -= 1
                    self.counts[r["kind"]] += 1
                    out.append(r)
        return out


def apply_before(rules: list[dict]) -> Response | None:
    """Run latency rules; return the injected answer of the first terminal rule, if any."""
    for r in rules:
        kind = r["kind"]
        if kind in ("latency", "drop"):
            time.sleep(r["ms"] / 1000)
        if kind == "drop":
            return _drop()
        if kind == "error":
            status = int(r["status"] or 500)
            return json_response({"code": "internal_server_error", "message": CRITICAL, "data": {"status": status},
                                  "additional_errors": []}, status)
        if kind == "html":
            status = int(r["status"] or 503)
            return Response(HTML_PAGE.format(status=status, reason=_reason(status)), status, content_type="text/html")
        if kind == "rate_limit":
            headers = {}
            value = r["retry_after"]
            if isinstance(value, str) and not value.replace(".", "", 1).isdigit():
                headers["Retry-After"] = value  # verbatim, e.g. an HTTP-date written by the test
            elif value is not None:
                secs = float(value)
                headers["Retry-After"] = (formatdate(time.time() + secs, usegmt=True)
                                          if r["retry_after_format"] == "http-date" else str(int(secs)))
            page = HTML_PAGE.format(status=429, reason="Too Many Requests")
            return Response(page, int(r["status"] or 429), headers=headers, content_type="text/html")
    return None


def apply_after(rules: list[dict], response: Response) -> Response:
    for r in rules:
        if r["kind"] == "bom":
            response.set_data(b"\xef\xbb\xbf" + response.get_data())
        elif r["kind"] == "truncated":
            data = response.get_data()
            response.set_data(data[: len(data) // 2])
    return response


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _drop() -> Response:
    sock = request.environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def body():
        raise ConnectionAbortedError("connection dropped by fault injection")
        yield b""  # pragma: no cover - makes this a generator

    return Response(body(), 500)
