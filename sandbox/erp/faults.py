"""Fault injection for `/api/v1` requests, configured with `PUT /_sandbox/faults`.

A rule matches a method (or "*") and a path: exact by default, a glob when it holds * ? or [,
or a prefix with `"match": "prefix"`. Kinds: latency (sleep `ms`, then answer normally),
error (answer `status`, default 503), rate_limit (429 + `Retry-After`), drop (close the connection
without an answer), commit_then_fail (run the request, keep its effect, then answer `status`,
default 502, or drop the connection with `"drop": true`), commit_then_slow (run the request, keep its
effect, then sleep `ms` before answering normally: a client killed meanwhile dies inside a call the ERP
has already committed). A rule fires with probability `rate`
(default 1.0, drawn from an RNG seeded by the PUT's `seed`) and at most `count` times if given.
"""
from __future__ import annotations

import random
import socket
import threading
from dataclasses import asdict, dataclass
from fnmatch import fnmatchcase

from flask import current_app

from .errors import bad_request

BEFORE_KINDS = ("latency", "error", "rate_limit", "drop")
AFTER_KINDS = ("commit_then_slow", "commit_then_fail")
KINDS = BEFORE_KINDS + AFTER_KINDS
MATCHES = ("auto", "exact", "prefix", "glob")
DEFAULT_STATUS = {"error": 503, "commit_then_fail": 502}


@dataclass
class Rule:
    kind: str
    method: str = "*"
    path: str = "*"
    match: str = "auto"
    rate: float = 1.0
    status: int | None = None
    ms: int = 100
    retry_after: int = 1
    count: int | None = None
    drop: bool = False

    def matches(self, method: str, path: str) -> bool:
        if self.method != "*" and self.method.upper() != method:
            return False
        match = self.match
        if match == "auto":
            match = "glob" if any(c in self.path for c in "*?[") else "exact"
        if match == "glob":
            return fnmatchcase(path, self.path)
        return path.startswith(self.path) if match == "prefix" else path == self.path


def parse_rule(spec) -> Rule:
    if not isinstance(spec, dict):
        raise bad_request(f"a fault rule must be an object, got {spec!r}")
    unknown = set(spec) - set(Rule.__dataclass_fields__)
    if unknown:
        raise bad_request(f"unknown fault rule keys {sorted(unknown)}")
    try:
        rule = Rule(**spec)
    except TypeError:
        raise bad_request(f"a fault rule needs a kind: {spec!r}") from None
    problems = [
        rule.kind not in KINDS and f"kind must be one of {', '.join(KINDS)}",
        rule.match not in MATCHES and f"match must be one of {', '.join(MATCHES)}",
        not (isinstance(rule.rate, (int, float)) and 0 <= rule.rate <= 1) and "rate must be 0..1",
        rule.status is not None and not (isinstance(rule.status, int) and 400 <= rule.status <= 599)
        and "status must be 400..599",
        not (isinstance(rule.ms, int) and 0 <= rule.ms <= 600_000) and "ms must be 0..600000",
        not (isinstance(rule.retry_after, int) and rule.retry_after >= 0) and "retry_after must be >= 0",
        rule.count is not None and not (isinstance(rule.count, int) and rule.count >= 0)
        and "count must be >= 0",
        not (isinstance(rule.method, str) and isinstance(rule.path, str))
        and "method and path must be strings",
    ]
    problems = [p for p in problems if p]
    if problems:
        raise bad_request(f"bad fault rule {spec!r}: {'; '.join(problems)}")
    rule.status = rule.status or DEFAULT_STATUS.get(rule.kind)
    return rule


class FaultInjector:
    def __init__(self):
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._rng = random.Random()

    def set_rules(self, specs, seed: int | None = None) -> list[dict]:
        if not isinstance(specs, list):
            raise bad_request("rules must be a list")
        rules = [parse_rule(spec) for spec in specs]
        with self._lock:
            self._rules, self._rng = rules, random.Random(seed)
        return self.rules()

    def clear(self) -> None:
        with self._lock:
            self._rules = []

    def rules(self) -> list[dict]:
        with self._lock:
            return [asdict(rule) for rule in self._rules]

    def fire(self, method: str, path: str, kinds: tuple[str, ...]) -> list[Rule]:
        """The rules of `kinds` that fire for this request, in order; each firing uses up one of its
        `count`."""
        fired = []
        with self._lock:
            for rule in self._rules:
                if rule.kind not in kinds or rule.count == 0 or not rule.matches(method, path):
                    continue
                if rule.rate >= 1 or self._rng.random() < rule.rate:
                    if rule.count is not None:
                        rule.count -= 1
                    fired.append(rule)
        return fired


def drop_connection(environ: dict) -> None:
    """Shut the client's socket so it gets no answer; writing the response then fails quietly."""
    sock = environ.get("werkzeug.socket") or environ.get("gunicorn.socket")
    if sock is None:
        raise RuntimeError("the drop fault needs the werkzeug or gunicorn server")
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def current() -> FaultInjector:
    return current_app.extensions["erp_faults"]
