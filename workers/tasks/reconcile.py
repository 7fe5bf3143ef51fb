"""The daily reconciliation (on the `catalog` queue): the same run as `wooerp reconcile`, logged as one
structured event with the counts and the first keys of each kind (connector.reconcile_output)."""
from __future__ import annotations

from connector import reconcile_output
from workers.app import app


@app.task(name="wooerp.catalog.reconcile", bind=True)
def reconcile(self) -> dict:
    return reconcile_output.run_and_log(self.services)
