"""`wooerp reconcile`: compare ERP and shop now and report what disagrees (nothing is repaired).

Prints the summary, writes the CSV, records the counts for the metrics. Exit status: 0 clean, 1 when
discrepancies were found, 2 for a configuration error, 3 when a system could not be read.
"""
from __future__ import annotations

import sys

import click

from connector.errors import SyncError
from connector.reconcile_output import run, summary
from connector.schema import require as require_schema
from connector.services import Services
from connector.settings import load_or_exit

@click.command()
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the CSV here (default: RECONCILE_DIR/reconcile-<UTC time>.csv).")
@click.option("--examples", type=click.IntRange(0), default=5, show_default=True,
              help="Discrepancies shown per kind in the summary.")
def reconcile(csv_path: str | None, examples: int) -> None:
    """Compare ERP and shop: missing products, prices, stock, orders without ERP number, duplicate ERP orders.

    Exit status 0 when clean, 1 when discrepancies were found, 3 when the shop or the ERP could not be read.
    """
    try:
        services = Services(load_or_exit())
        require_schema(services.db, tolerate_outage=False)  # un-migrated: one line and exit status 2
        report, path = run(services, csv_path)
    except SyncError as e:
        click.echo(f"reconciliation failed: {e}", err=True)
        sys.exit(3)
    except Exception as e:  # a database or file error: never reported as "discrepancies found"
        click.echo(f"reconciliation failed: {type(e).__name__}: {e}", err=True)
        sys.exit(3)
    click.echo(summary(report, path, examples))
    sys.exit(0 if report.clean else 1)
