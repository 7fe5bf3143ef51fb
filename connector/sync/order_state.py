"""The per-order state machine. Only the transitions listed here are allowed; anything else is a bug.

    received ──► validated ──► submitted ──► in_erp ──► written_back
        │  ▲         │             │            │            │
        ▼  │         ▼             ▼            └──► cancelled ◄┘
                                                     (submitted ──► cancelled: the shop ended it and the ERP
                                                      has no order with our reference)
      skipped    quarantined ◄──────┘ (the ERP refused it: 422)
                                 conflict (ERP already holds several orders with our reference)

    gone: WooCommerce no longer has the order (404); final, reachable from every state but cancelled.

    skipped: the shop's status is not imported (pending payment, failed, a custom status…). Every state an
    order not yet in the ERP can be in may become skipped when the shop moves it there: received,
    quarantined (the shop gave up on it before anyone fixed it), validated and submitted (an ERP order an
    earlier attempt may have created is adopted by its reference once the order is imported again). Its
    stock holds are released (connector/holds.py). Conflict stays until a person resolves it.

    attention: imported, and the shop's order changed in a way the ERP cannot follow by itself (amended or
    trashed after shipment, restored after its ERP order was cancelled, a refused amendment or credit note):
    a person must look. in_erp, written_back and cancelled can become attention; it goes back to
    written_back or cancelled once nothing is left to look at (connector/sync/order_life.py).

    written_back ──► received: the shop's order lacks our ERP number (a restored or replaced shop reuses
    the id), so it is imported again through lookup-before-create.

    cancelled before import (no ERP order: erp_order_id is None) ──► validated / quarantined / skipped: the
    shop re-opened the order it ended before we imported it (paid after all, restored from the trash, …).
    Nothing of it is in the ERP, so it is imported like a new order (lookup-before-create) or skipped or
    quarantined like one; it holds its stock again meanwhile. A cancelled order WITH an ERP order is not
    revived: its ERP order stays cancelled and a restore makes it attention. `check(..., bound=True)` (the
    default) refuses these moves; the importer passes `bound=False` for a row without an ERP order.
"""
from __future__ import annotations

RECEIVED, SKIPPED, VALIDATED, QUARANTINED = "received", "skipped", "validated", "quarantined"
SUBMITTED, IN_ERP, WRITTEN_BACK, CANCELLED, CONFLICT = "submitted", "in_erp", "written_back", "cancelled", "conflict"
GONE, ATTENTION = "gone", "attention"

TRANSITIONS: dict[str, set[str]] = {
    RECEIVED: {VALIDATED, QUARANTINED, SKIPPED, CANCELLED},
    SKIPPED: {VALIDATED, QUARANTINED, SKIPPED, CANCELLED},
    QUARANTINED: {VALIDATED, QUARANTINED, SKIPPED, CANCELLED},
    VALIDATED: {SUBMITTED, IN_ERP, CONFLICT, QUARANTINED, SKIPPED, CANCELLED},
    SUBMITTED: {IN_ERP, CONFLICT, SUBMITTED, QUARANTINED, SKIPPED, CANCELLED},
    IN_ERP: {WRITTEN_BACK, CANCELLED, ATTENTION},
    WRITTEN_BACK: {CANCELLED, RECEIVED, ATTENTION},
    CONFLICT: {IN_ERP, CONFLICT},
    CANCELLED: {ATTENTION, VALIDATED, QUARANTINED, SKIPPED},  # the last three only unbound: see REOPENED
    ATTENTION: {ATTENTION, WRITTEN_BACK, CANCELLED},
    GONE: set(),
}
for _state, _next in TRANSITIONS.items():
    if _state not in (CANCELLED, GONE):  # a cancelled order keeps its cancelled ERP order
        _next.add(GONE)
REOPENED = {VALIDATED, QUARANTINED, SKIPPED}  # cancelled before import, then re-opened in the shop (unbound only)
IN_FLIGHT = {VALIDATED, SUBMITTED}
NOT_IN_ERP = {RECEIVED, SKIPPED, QUARANTINED, VALIDATED, SUBMITTED}  # what the importer skips or imports
IMPORTED = {IN_ERP, WRITTEN_BACK}
FOLLOWED = {WRITTEN_BACK, CANCELLED, ATTENTION}  # in the ERP and written back: order_life follows the shop


class IllegalTransition(Exception):
    """A state change TRANSITIONS does not allow: a bug in the caller, never a data problem."""
    pass


def check(current: str, new: str, *, bound: bool = True) -> None:
    """Return quietly if `current` may become `new`; raise IllegalTransition otherwise (KeyError for an
    unknown `current`). `bound`: the order has an ERP order (erp_order_id set); only a cancelled order
    without one may be re-opened (cancelled → validated, quarantined or skipped)."""
    if new not in TRANSITIONS[current] or (current == CANCELLED and new in REOPENED and bound):
        raise IllegalTransition(f"order state {current} cannot become {new}"
                                + (" (it has an ERP order)" if new in TRANSITIONS[current] else ""))
