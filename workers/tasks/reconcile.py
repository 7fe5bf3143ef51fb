"""The daily reconciliation (on the `catalog` queue): the same run as `wooerp reconcile`, logged as one
structured event with the counts and the first keys of each kind."""
from __future__ import annotations

import logging

from connector.logs import event
from connector.reconcile_output import EXAMPLES, run
from workers.app import app

log = logging.getLogger("wooerp.reconcile")


@app.task(name="wooerp.catalog.reconcile", bind=True)
def reconcile(self) -> dict:
    report, path = run(self.services)
    examples = {kind: [d.key for d in report.of(kind)[:EXAMPLES]] for kind, n in report.counts().items() if n}
    event(log, "reconciliation finished", logging.INFO if report.clean else logging.WARNING,
          clean=report.clean, discrepancies=report.counts(), examples=examples, checked=dict(report.checked),
          seconds=round(report.seconds, 1), csv=str(path))
    return {"clean": report.clean, "discrepancies": report.counts(), "csv": str(path)}
