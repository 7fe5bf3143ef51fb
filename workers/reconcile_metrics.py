"""Prometheus collector for the last reconciliation (register it where /metrics is served):

wooerp_reconcile_discrepancies{kind}             discrepancies of each kind found by the last run
wooerp_reconcile_last_run_timestamp_seconds      when the last run finished (0 before the first run)

Read at scrape time from Redis (`wooerp:reconcile:last`, written by every run in the fleet), or from
`last.json` in the report directory when Redis has none.
"""
from __future__ import annotations

from connector.reconcile import KINDS
from connector.reconcile_output import read_last


class ReconcileCollector:
    def __init__(self, broker_url: str | None, report_dir: str | None = None):
        self.broker_url, self.report_dir = broker_url, report_dir

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily
        last = read_last(self.broker_url, self.report_dir)
        finished = GaugeMetricFamily("wooerp_reconcile_last_run_timestamp_seconds",
                                     "Unix time the last reconciliation finished (0: never)")
        finished.add_metric([], float(last["finished_at"]) if last else 0.0)
        if last is None:
            return [finished]
        found = GaugeMetricFamily("wooerp_reconcile_discrepancies",
                                  "Discrepancies between ERP and shop found by the last reconciliation",
                                  labels=["kind"])
        for kind in KINDS:
            found.add_metric([kind], int(last.get("counts", {}).get(kind, 0)))
        return [found, finished]
