"""WooCommerce webhook intake: signature check, classification, and the durable outbox.

A delivery is a hint, not a fact: WooCommerce sends duplicates, out of order, and builds payloads at
send time, and its Delivery-ID is only a hash of (webhook id, current second). So a delivery is keyed on
what identifies the change (topic, resource id, body hash), stored before the shop gets its 200, and
the order task re-reads the order instead of trusting the body.
"""
from __future__ import annotations

import atexit
import base64
import fcntl
import hashlib
import hmac
import json
import logging
import os
import re
import threading
import time
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from typing import Callable

from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from connector import holds
from connector.db import Database, utcnow
from connector.models import WebhookDelivery

log = logging.getLogger("wooerp.webhooks")
# SQLite has one writer at a time, and a writer that finds it taken sleeps in SQLite's busy handler
# (1, 2, 5 … 100 ms steps), which under 16 concurrent deliveries was most of the shim's p99. The shim's
# writers queue for the write here instead, and are woken the moment it is free: the threads of one
# process on a lock, the gunicorn worker processes on an flock of a file next to the database.
_SQLITE_WRITER = threading.Lock()
_lock_files: dict[tuple[int, str], int] = {}


@contextmanager
def _sqlite_writer(db: Database):
    """Hold the shim's SQLite write turn (see _SQLITE_WRITER) for the block."""
    path = db.url.split("///", 1)[-1] if "///" in db.url else ""
    with _SQLITE_WRITER:
        if not path or path.startswith(":memory:"):
            yield
            return
        key = (os.getpid(), path)  # an flock belongs to the open file: each process opens its own
        fd = _lock_files.get(key)
        if fd is None:
            fd = _lock_files[key] = os.open(f"{path}-shim-writer.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _writer(db: Database):
    return _sqlite_writer(db) if db.is_sqlite else nullcontext()
PING_BODY = re.compile(rb"^webhook_id=\d+$")
MAX_RESOURCE_ID = 2**63 - 1  # the database's BIGINT
# Unsigned headers and body fields that are stored: their type and length are checked before anything is
# published, so that the database never refuses a delivery the workers were already told about.
STORED_HEADERS = {"X-WC-Webhook-ID": 32, "X-WC-Webhook-Delivery-ID": 64}
MODIFIED_GMT_MAX = 32
_PRINTABLE = re.compile(r"^[\x20-\x7e]*$")
# What a delivery asks the workers to do is decided by its topic's resource, here and only here: the shim
# and the outbox relay both go through `route`, so a `customer.*` delivery can never become an order import.
ROUTES = {"order": "import_order", "customer": "update_customer"}


def route(topic: str | None) -> str:
    """The work a delivery of `topic` ("<resource>.<event>") asks for: a key of the workers' publishers.
    Raises ValueError for a topic whose resource wooerp does not sync (never a silent order import)."""
    resource, dot, event_ = (topic or "").partition(".")
    if not dot or not event_ or resource not in ROUTES:
        raise ValueError(f"no task handles webhook topic {topic!r}; "
                         f"topics must be <resource>.<event> with resource one of {', '.join(ROUTES)}")
    return ROUTES[resource]


@dataclass(frozen=True)
class Verdict:
    """The shim's judgement of one delivery: `status` (200 accepted, else the 4xx to answer) with `reason`;
    for an accepted change its `topic`, `resource_id`, the body's `modified_gmt` and SHA-256, and for an order
    body its shop status and lines (what it holds on arrival)."""
    status: int
    reason: str
    topic: str | None = None
    resource_id: int | None = None
    modified_gmt: str | None = None
    body_sha256: str | None = None
    shop_status: str | None = None  # an order body's status, and its lines as ((sku, quantity), …):
    lines: tuple = ()               # what the order holds from the moment it is accepted (connector/holds.py)

    @property
    def accepted(self) -> bool:
        """True for a signed delivery of a subscribed topic (a ping is answered 200 but is not a change)."""
        return self.status == 200 and self.topic is not None

    @property
    def change_key(self) -> str:
        """The change's identity: topic, resource and body hash; the same change delivered twice has one key."""
        return hashlib.sha256(f"{self.topic}|{self.resource_id}|{self.body_sha256}".encode()).hexdigest()


def signature(raw_body: bytes, secret: str) -> str:
    """WooCommerce's X-WC-Webhook-Signature for `raw_body`: base64 of its HMAC-SHA256 under `secret`."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), raw_body, hashlib.sha256).digest()).decode("ascii")


def signature_valid(raw_body: bytes, header: str | None, secret: str) -> bool:
    """Compared as bytes: a header with non-ASCII characters is simply a wrong signature."""
    if header is None:
        return False
    given = header.strip().encode("utf-8", "surrogatepass")
    return hmac.compare_digest(signature(raw_body, secret).encode("ascii"), given)


def _stored_text_problem(name: str, value, limit: int) -> str | None:
    """Why `value` cannot be stored as a short printable text column, or None when it can."""
    if value is None:
        return None
    if not isinstance(value, str):
        return f"{name} must be a string, got {type(value).__name__}"
    if len(value) > limit:
        return f"{name} is longer than {limit} characters"
    if not _PRINTABLE.match(value):
        return f"{name} must be printable ASCII"
    return None


def rest_error(payload) -> bool:
    """A WooCommerce REST error object, `{"code": "woocommerce_rest_…", "message": …, "data": {"status": 404}}`,
    as a signed delivery carries it when the order was deleted before the shop built the payload."""
    return (isinstance(payload, dict) and "id" not in payload and isinstance(payload.get("code"), str)
            and "message" in payload and isinstance(payload.get("data"), (dict, type(None))))


def judge(raw_body: bytes, headers, *, secret: str, topics: tuple[str, ...], max_bytes: int) -> Verdict:
    """Decide what to do with one delivery, from its raw bytes and headers alone (no I/O)."""
    if len(raw_body) > max_bytes:
        return Verdict(413, f"body of {len(raw_body)} bytes exceeds the limit of {max_bytes}")
    sig = headers.get("X-WC-Webhook-Signature")
    if sig is None and PING_BODY.match(raw_body.strip()):
        return Verdict(200, "ping acknowledged")
    if sig is None:
        return Verdict(401, "missing X-WC-Webhook-Signature")
    if not signature_valid(raw_body, sig, secret):
        return Verdict(401, "signature does not match the body")
    topic = headers.get("X-WC-Webhook-Topic", "")
    if topic not in topics:
        shown = topic[:64] if _PRINTABLE.match(topic or "") else "(not printable ASCII)"
        return Verdict(202, f"topic {shown or '(none)'} is not handled; ignored")
    for name, limit in STORED_HEADERS.items():
        problem = _stored_text_problem(name, headers.get(name), limit)
        if problem:
            return Verdict(400, f"header {problem}")
    try:
        payload = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError):
        return Verdict(400, "body is not valid JSON")
    except RecursionError:
        return Verdict(400, "body is nested too deeply")
    if rest_error(payload):  # the shop builds the body at send time; the resource was gone by then
        return Verdict(202, f"ignored: the shop sent its REST error {payload.get('code')!r} "
                            f"({str(payload.get('message'))[:120]}) instead of the {topic.split('.')[0]}")
    if not isinstance(payload, dict):
        return Verdict(400, "body is not a JSON object")
    resource_id = payload.get("id")
    # bool is an int in Python (true == 1): it must not pass for order 1
    if type(resource_id) is not int or not 1 <= resource_id <= MAX_RESOURCE_ID:
        return Verdict(400, f"body has no integer 'id' from 1 to {MAX_RESOURCE_ID}")
    modified = payload.get("date_modified_gmt")
    problem = _stored_text_problem("'date_modified_gmt'", modified, MODIFIED_GMT_MAX)
    if problem:
        return Verdict(400, f"body field {problem}")
    digest = hashlib.sha256(raw_body)
    if topic.endswith(".deleted"):  # `{"id": N}` every time: a second trashing (after a restore) is a new change,
        digest.update(b"|" + (headers.get("X-WC-Webhook-Delivery-ID") or "").encode())  # told apart by delivery
    status, lines = None, ()
    if topic in ("order.created", "order.updated") and isinstance(payload.get("status"), str):
        status, lines = payload["status"], tuple(sorted(holds.demand(payload).items()))
    return Verdict(200, "accepted", topic=topic, resource_id=resource_id,
                   modified_gmt=modified, body_sha256=digest.hexdigest(), shop_status=status, lines=lines)


def _statements():
    """record()'s statements, built once: constructing a SQLAlchemy statement costs more than running it."""
    table = WebhookDelivery.__table__
    return (select(table.c.id).where(table.c.change_key == bindparam("change_key")), table.insert(),
            update(table).where(table.c.id == bindparam("delivery_id"), table.c.change_key == bindparam("key"))
            .values(published_at=bindparam("at"), task_id=bindparam("task")))


_STATEMENTS = _statements()


def record(db: Database, verdict: Verdict, headers, correlation_id: str, publish,
           hold_statuses: tuple[str, ...] = ()) -> tuple[int, bool, bool]:
    """Hand a new change to `publish(topic, resource_id, correlation_id)` and commit the delivery, with the
    outcome. Returns (delivery id, is new, published). A failed publish leaves `published_at` empty for the
    relay; a change already recorded is not published again. An order body in one of `hold_statuses` that
    the importer has not seen yet holds its lines in the transaction that stores its delivery row, before
    it is published (connector/holds.py: a sale waiting in the queue is never offered again); the row is
    then marked published by the process's next transaction (_PendingMarks). Any other delivery is published first and stored once, with the outcome.
    (SQLAlchemy Core here: this is the shim's hot path.)"""
    find, add, _ = _STATEMENTS
    key = {"change_key": verdict.change_key}
    row = dict(change_key=verdict.change_key, topic=verdict.topic, resource_id=verdict.resource_id,
               delivery_header=headers.get("X-WC-Webhook-Delivery-ID"), webhook_id=headers.get("X-WC-Webhook-ID"),
               body_sha256=verdict.body_sha256, modified_gmt=verdict.modified_gmt, correlation_id=correlation_id,
               received_at=utcnow(), task_id=None, published_at=None)
    hold = bool(verdict.lines) and verdict.shop_status in hold_statuses

    def existing() -> int | None:
        with db.engine.connect() as conn:
            return conn.scalar(find, key)

    def store(hold: bool) -> int | None:
        """Insert the row (with the order's arrival hold) in one transaction; None: the same change was
        stored first (by a concurrent delivery). The insert is the duplicate check: the row's unique
        change key refuses a second one."""
        while True:
            marks = []
            try:
                with _writer(db), db.engine.begin() as conn:
                    marks = _marks.write_in(conn, db)  # earlier deliveries' marks ride along
                    new_id = conn.execute(add, row).inserted_primary_key[0]
                    if hold:
                        holds.hold_on_arrival_in(conn, verdict.resource_id, dict(verdict.lines))
                    return new_id
            except IntegrityError:
                _marks.give_back(db, marks)
                if not hold or existing() is not None:  # the same change, stored first
                    return None
                hold = False  # the order's holds were written meanwhile (its import, the order poll)
            except BaseException:
                _marks.give_back(db, marks)
                raise

    def publish_into_row() -> None:
        try:
            row["task_id"] = publish(verdict.topic, verdict.resource_id, correlation_id)
            row["published_at"] = utcnow()
        except Exception as exc:  # broker down: the row stays unpublished and the relay publishes it later
            log.warning("publish failed; delivery kept for the relay: %s: %s", type(exc).__name__, str(exc)[:200])

    if not hold:  # nothing to commit before the publish: the row is written once, with the outcome
        found = existing()  # a duplicate must not be published again: asked before the publish
        if found is not None:
            return found, False, False
        publish_into_row()
        new_id = store(False)
        if new_id is None:
            return existing(), False, False
        return new_id, True, row["published_at"] is not None
    new_id = store(True)  # the hold is committed before the task can run
    if new_id is None:
        return existing(), False, False
    publish_into_row()
    if row["published_at"] is None:
        return new_id, True, False
    _marks.add(db, {"delivery_id": new_id, "key": verdict.change_key, "at": row["published_at"],
                    "task": row["task_id"]})
    return new_id, True, True


class _PendingMarks:
    """Deliveries this process stored before their publish (holding orders) and then published, whose row
    is not yet marked published: the mark rides in this process's next delivery transaction, or a
    background thread writes it within FLUSH_SECONDS (and at exit). So a holding delivery costs one
    commit, not two. A mark that is never written (the process died first) leaves the row to the relay,
    which publishes it once more: a redundant task for an idempotent import, never a lost delivery; the
    same happens today to a row the relay reads between its commit and its mark."""
    FLUSH_SECONDS = 0.2

    def __init__(self):
        self._lock = threading.Lock()
        self._pending: dict[Database, list[dict]] = {}
        self._thread: threading.Thread | None = None

    def add(self, db: Database, mark: dict) -> None:
        with self._lock:
            self._pending.setdefault(db, []).append(mark)
            if self._thread is None or not self._thread.is_alive():  # also after gunicorn forked us
                self._thread = threading.Thread(target=self._run, name="delivery-marks", daemon=True)
                self._thread.start()

    def give_back(self, db: Database, marks: list[dict]) -> None:
        if marks:
            with self._lock:
                self._pending[db] = marks + self._pending.get(db, [])

    def write_in(self, conn, db: Database) -> list[dict]:
        """Write the pending marks of `db` in the caller's transaction; the caller gives them back if it
        rolls back."""
        with self._lock:
            marks = self._pending.pop(db, [])
        if marks:
            conn.execute(_STATEMENTS[2], marks)
        return marks

    def flush(self) -> None:
        with self._lock:
            dbs = list(self._pending)
        for db in dbs:
            marks = []
            try:
                with _writer(db), db.engine.begin() as conn:
                    marks = self.write_in(conn, db)
            except Exception as exc:  # the database is away: kept for the next try (or the relay)
                self.give_back(db, marks)
                log.warning("published deliveries not marked yet: %s: %s", type(exc).__name__, str(exc)[:200])

    def _run(self) -> None:
        while True:
            time.sleep(self.FLUSH_SECONDS)
            self.flush()


_marks = _PendingMarks()
atexit.register(_marks.flush)


def write_pending_marks() -> None:
    """Mark published, now, the deliveries this process published whose mark is still pending (record)."""
    _marks.flush()


def relay(db: Database, publish: Callable[[str | None, int, str | None], str]) -> int:
    """Hand the stored deliveries no broker took (oldest first, ≤ 500 a run) to
    `publish(topic, resource_id, correlation_id)` → task id, marking each published as soon as it is.
    Returns how many were published. A publish that raises stops the run there: the rest stay for the
    next run."""
    published = 0
    for d in unpublished(db):
        mark_published(db, d.id, publish(d.topic, d.resource_id, d.correlation_id))
        published += 1
    return published


def mark_published(db: Database, delivery_id: int, task_id: str | None) -> None:
    """Record that delivery `delivery_id` was handed to the broker as task `task_id` (committed at once)."""
    with db.session() as s:
        s.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
                  .values(published_at=utcnow(), task_id=task_id))


def unpublished(db: Database, limit: int = 500) -> list[WebhookDelivery]:
    """Stored deliveries not yet handed to the broker (the publish failed), oldest first, at most `limit`."""
    with db.session() as s:
        return list(s.scalars(select(WebhookDelivery).where(WebhookDelivery.published_at.is_(None))
                              .order_by(WebhookDelivery.id).limit(limit)))
