"""The per-order state machine. Only the transitions listed here are allowed; anything else is a bug.

    received ──► validated ──► submitted ──► in_erp ──► written_back
        │  ▲         │             │            │            │
        ▼  │         ▼             ▼            └──► cancelled ◄┘
      skipped    quarantined     conflict (ERP already holds several orders with our reference)

    written_back ──► received: the shop's order lacks our ERP number (a restored or replaced shop reuses
    the id), so it is imported again through lookup-before-create.
"""
from __future__ import annotations

RECEIVED, SKIPPED, VALIDATED, QUARANTINED = "received", "skipped", "validated", "quarantined"
SUBMITTED, IN_ERP, WRITTEN_BACK, CANCELLED, CONFLICT = "submitted", "in_erp", "written_back", "cancelled", "conflict"

TRANSITIONS: dict[str, set[str]] = {
    RECEIVED: {VALIDATED, QUARANTINED, SKIPPED, CANCELLED},
    SKIPPED: {VALIDATED, QUARANTINED, SKIPPED, CANCELLED},
    QUARANTINED: {VALIDATED, QUARANTINED, CANCELLED},
    VALIDATED: {SUBMITTED, IN_ERP, CONFLICT, QUARANTINED},
    SUBMITTED: {IN_ERP, CONFLICT, SUBMITTED},
    IN_ERP: {WRITTEN_BACK, CANCELLED},
    WRITTEN_BACK: {CANCELLED, RECEIVED},
    CONFLICT: {IN_ERP, CONFLICT},
    CANCELLED: set(),
}
IN_FLIGHT = {VALIDATED, SUBMITTED}
IMPORTED = {IN_ERP, WRITTEN_BACK}
DONE = {WRITTEN_BACK, CANCELLED}


class IllegalTransition(Exception):
    pass


def check(current: str, new: str) -> None:
    if new not in TRANSITIONS[current]:
        raise IllegalTransition(f"order state {current} cannot become {new}")
