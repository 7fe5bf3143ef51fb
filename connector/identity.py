"""State never outlives the shop or ERP it belongs to: the database is bound to one shop and one ERP tenant.

What identifies them durably:
- the shop: WooCommerce makes a store id once at install (the `woocommerce_store_id` option, a UUID) and
  reports it with the home URL in `GET system_status` → `environment`. The home URL alone is not enough
  (a fresh install, or another shop's backup, can sit at the same URL); the store id alone is not enough
  either (a staging clone copies it, under another URL). Both are recorded. A shop restored from a
  backup keeps both, so one more check catches it: the newest order we imported must still exist in the
  shop, or the shop must have newer orders (otherwise it went back in time and will hand out order ids
  again).
- the ERP: the adapter's `identity()` (the reference ERP's `tenant_id`; Tryton's database, company id and
  the company record's creation time).

The first process that starts against an unbound database records both; every later start compares.
When either differs the process refuses to start (exit status 2, one line); `wooerp rebind` records the
current identity after a deliberate change (logged, with a reason).
"""
from __future__ import annotations

import getpass
import logging
import socket
import sys
import time

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from connector.db import Database, utcnow
from connector.errors import PermanentError, SyncError
from connector.logs import event
from connector.models import OrderSync, SystemBinding
from connector.sync import order_state as st

log = logging.getLogger("wooerp.identity")
SHOP, ERP = "shop", "erp"
NAMES = {SHOP: "shop", ERP: "ERP"}


class IdentityChanged(Exception):
    """The shop (`side` SHOP) or the ERP (`side` ERP) is not the one the database is bound to; `detail` says
    what differs."""
    def __init__(self, side: str, detail: str):
        super().__init__(detail)
        self.side, self.detail = side, detail

    def line(self) -> str:
        """The one line a refusing process prints: what changed, and the two ways out (new database, rebind)."""
        return (f"wooerp: the {NAMES[self.side]} is not the one this database belongs to ({self.detail}); "
                f"either start with a new database (another DATABASE_URL; `make clean` for `make run`), or, "
                f"if this is deliberate (e.g. after a restore), re-bind: wooerp rebind {self.side} --reason \"...\"")


def shop_identity(woo) -> dict:
    """`{"home_url": …, "store_id": …}` from the shop's `system_status` (store_id absent when the shop does not
    report one). One shop call; raises the shop's error families."""
    env = (woo.system_status() or {}).get("environment") or {}
    ident = {"home_url": str(env.get("home_url") or "").rstrip("/")}
    if env.get("store_id"):
        ident["store_id"] = str(env["store_id"])
    return ident


def erp_identity(erp) -> dict:
    """The ERP adapter's `identity()` with every value as a string. One ERP call; raises its error families."""
    return {k: str(v) for k, v in erp.identity().items()}


def _differences(recorded: dict, current: dict) -> str:
    keys = sorted(k for k in recorded.keys() & current.keys() if recorded[k] != current[k])
    return ", ".join(f"{k} was {recorded[k]!r}, is {current[k]!r}" for k in keys)


def actor() -> str:
    """Who is acting, for the audit columns: "user@host" (user "unknown" when the system has no name for it)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in some containers
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def _check_side(db: Database, side: str, current: dict, who: str) -> str:
    """Bind an unbound side, or compare; returns "bound" or "verified"; raises IdentityChanged."""
    with db.session() as s:
        row = s.get(SystemBinding, side)
        if row is None:
            s.add(SystemBinding(side=side, identity=current, bound_at=utcnow(), bound_by=who, reason="first start"))
            try:
                s.flush()
            except IntegrityError:  # another process bound it a moment ago: compare with that
                s.rollback()
                row = s.get(SystemBinding, side)
            else:
                event(log, f"database bound to this {NAMES[side]}", side=side, identity=current, by=who)
                return "bound"
        diff = _differences(row.identity, current)
        if diff:
            raise IdentityChanged(side, diff)
        return "verified"


def _check_shop_history(db: Database, woo) -> None:
    """A restored shop keeps its identity but forgets the orders placed after its backup."""
    with db.session() as s:
        newest = s.scalar(select(func.max(OrderSync.woo_order_id)).where(OrderSync.state.in_(st.IMPORTED)))
    if newest is None:
        return
    try:
        woo.get_order(newest)
        return
    except PermanentError as e:
        if e.status != 404:
            raise
    latest = woo.get("orders", per_page=1, orderby="id", order="desc", status="any", _fields="id")
    latest_id = latest[0]["id"] if latest else 0
    if latest_id < newest:
        raise IdentityChanged(SHOP, f"order #{newest}, which we imported, is gone and the shop's newest order is "
                                    f"#{latest_id}: it was restored from a backup, or replaced")


def verify(db: Database, woo, erp) -> dict[str, str]:
    """Compare (or, the first time, record) both identities. Raises IdentityChanged, or SyncError when the
    shop or the ERP cannot be read."""
    who = actor()
    result = {SHOP: _check_side(db, SHOP, shop_identity(woo), who)}
    _check_shop_history(db, woo)
    result[ERP] = _check_side(db, ERP, erp_identity(erp), who)
    return result


def rebind(db: Database, woo, erp, side: str, reason: str) -> tuple[dict | None, dict]:
    """Record the current identity of `side` after a deliberate change; logged with who and why."""
    current = shop_identity(woo) if side == SHOP else erp_identity(erp)
    who = actor()
    with db.session() as s:
        row = s.get(SystemBinding, side)
        old = dict(row.identity) if row else None
        if row is None:
            row = SystemBinding(side=side)
            s.add(row)
        row.identity, row.bound_at, row.bound_by, row.reason = current, utcnow(), who, reason
    event(log, f"database re-bound to this {NAMES[side]}", logging.WARNING, side=side, old_identity=old,
          identity=current, by=who, reason=reason)
    return old, current


def recorded(db: Database) -> dict[str, dict]:
    """The recorded identities by side (SHOP, ERP): {"identity": dict, "bound_at": ISO UTC with `Z`, "bound_by",
    "reason"}; sides never bound are absent."""
    with db.session() as s:
        return {r.side: {"identity": r.identity, "bound_at": r.bound_at.isoformat() + "Z", "bound_by": r.bound_by,
                         "reason": r.reason} for r in s.scalars(select(SystemBinding))}


def enforce(services, wait_seconds: float | None = None, process: str = "") -> None:
    """At a process's start: refuse (exit status 2, one line on stderr) when the shop or the ERP changed.

    Waits up to `wait_seconds` (default: IDENTITY_WAIT_SECONDS) for both to answer (they may start at the
    same time as we do); when they still do not, the process starts with a warning (it cannot tell, and
    every call would fail anyway)."""
    if wait_seconds is None:
        wait_seconds = services.settings.identity_wait_seconds
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            verify(services.db, services.woo, services.erp)
            return
        except IdentityChanged as e:
            print(e.line(), file=sys.stderr, flush=True)
            raise SystemExit(2) from None
        except SyncError as e:
            if isinstance(e, PermanentError) or time.monotonic() > deadline:  # a refusal does not change by waiting
                event(log, "shop and ERP identity not verified: could not read them", logging.WARNING,
                      error=str(e)[:200], process=process)
                return
            time.sleep(1)
