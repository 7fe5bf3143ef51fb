"""The pure parts of the metrics: outcome and error-reason labels of a task run, duration buckets, the
shim's delivery results and bounded topics, and the gunicorn hooks that own the shim's metric files."""
from __future__ import annotations

import os

import prometheus_client  # noqa: F401  (imported before any hook sets PROMETHEUS_MULTIPROC_DIR)
from celery.exceptions import Ignore, Retry

from connector.errors import InvalidDataError, PermanentError, TransientError
from shim import gunicorn_conf, metrics as shim_metrics
from workers import task_metrics as tm


class FakeTask:
    name = "wooerp.test.task"
    throws = ()


class Keeper(FakeTask):
    throws = (LookupError,)


def test_a_run_is_counted_under_one_outcome_with_the_error_it_had():
    boom = TransientError("ERP answered 503", status=503)
    assert tm.outcome_of(FakeTask, "SUCCESS", {"ok": 1}) == ("success", None)
    assert tm.outcome_of(FakeTask, "RETRY", Retry(exc=boom)) == ("retry", boom)
    refused = PermanentError("refused")
    assert tm.outcome_of(FakeTask, "FAILURE", refused) == ("failure", refused)
    assert tm.outcome_of(FakeTask, "IGNORED", Ignore()) == ("ignored", None)
    assert tm.outcome_of(Keeper, "FAILURE", LookupError("letter 7 open")) == ("expected_failure", None)


def test_error_reasons_are_class_names_with_an_http_status_never_a_message():
    assert tm.reason(TransientError("ERP answered 503: busy for order 4711", status=503)) == "TransientError:503"
    assert tm.reason(TransientError("ERP unreachable")) == "TransientError"
    assert tm.reason(InvalidDataError("sku X is unknown")) == "InvalidDataError"
    assert tm.reason(ConnectionError("secret-host:6379")) == "ConnectionError"


def test_a_duration_lands_in_the_smallest_bucket_that_holds_it():
    assert tm.bucket(0.01) == "0.05" and tm.bucket(0.05) == "0.05" and tm.bucket(0.051) == "0.1"
    assert tm.bucket(299) == "300.0" and tm.bucket(3600) == "+Inf"


def test_the_histogram_is_cumulated_per_task_when_scraped():
    from prometheus_client.core import HistogramMetricFamily
    raw = [(["a", "0.05"], 2.0), (["a", "1.0"], 1.0), (["a", "+Inf"], 1.0), (["a", "sum"], 900.5),
           (["b", "0.1"], 1.0), (["b", "sum"], 0.07)]
    samples = {(s.name, s.labels.get("task"), s.labels.get("le")): s.value
               for s in tm._histogram(HistogramMetricFamily, raw).samples}
    assert samples[("wooerp_task_duration_seconds_bucket", "a", "0.05")] == 2
    assert samples[("wooerp_task_duration_seconds_bucket", "a", "0.5")] == 2
    assert samples[("wooerp_task_duration_seconds_bucket", "a", "1.0")] == 3
    assert samples[("wooerp_task_duration_seconds_bucket", "a", "+Inf")] == 4
    assert samples[("wooerp_task_duration_seconds_count", "a", None)] == 4
    assert samples[("wooerp_task_duration_seconds_sum", "a", None)] == 900.5
    assert samples[("wooerp_task_duration_seconds_bucket", "b", "0.05")] == 0
    assert samples[("wooerp_task_duration_seconds_count", "b", None)] == 1


def test_shim_results_and_topics_are_bounded():
    assert [shim_metrics.refused(s) for s in (413, 401, 400, 202, 200, 418)] == \
        ["too_large", "bad_signature", "bad_request", "ignored_topic", "ping", "http_418"]
    topics = ("order.created", "order.updated")

    def value(topic, result):
        return shim_metrics.DELIVERIES.labels(topic, result)._value.get()
    before = value("other", "bad_signature"), value("order.created", "bad_signature")
    shim_metrics.count("'; DROP TABLE x; --", "bad_signature", topics)
    shim_metrics.count(None, "bad_signature", topics)
    shim_metrics.count("order.created", "bad_signature", topics)
    assert (value("other", "bad_signature"), value("order.created", "bad_signature")) == \
        (before[0] + 2, before[1] + 1)


def test_gunicorn_hooks_give_each_shim_instance_a_fresh_directory_and_remove_it(monkeypatch, tmp_path, database_url):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))  # inherited from somewhere: not reused
    monkeypatch.setenv("DATABASE_URL", database_url)  # migrated: the hook refuses a database that is not
    monkeypatch.setenv("IDENTITY_WAIT_SECONDS", "0")  # no shop or ERP answers here: the identity check goes on
    (tmp_path / "counter_1.db").write_bytes(b"old")
    gunicorn_conf.on_starting(server=None)
    path = os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert path != str(tmp_path) and os.path.isdir(path) and os.listdir(path) == []
    try:
        for name in ("gauge_livesum_41.db", "counter_41.db", "gauge_livesum_42.db"):
            open(os.path.join(path, name), "wb").close()
        gunicorn_conf.child_exit(server=None, worker=type("Worker", (), {"pid": 41})())
        assert sorted(os.listdir(path)) == ["counter_41.db", "gauge_livesum_42.db"]  # counts of the dead stay
    finally:
        gunicorn_conf.on_exit(server=None)
    assert not os.path.exists(path) and "PROMETHEUS_MULTIPROC_DIR" not in os.environ
    assert (tmp_path / "counter_1.db").exists()


def test_the_shim_counts_a_delivery_it_could_not_queue_and_one_it_failed_on(db, monkeypatch):
    from connector import webhooks
    from connector.settings import load
    from shim.app import create_app

    def broker_down(topic, order_id, cid):
        raise ConnectionError("broker down")
    settings = load({"DATABASE_URL": db.url, "WOO_WEBHOOK_SECRET": "unit-secret"})
    client = create_app(settings, publish=broker_down).test_client()

    def deliver(order_id: int) -> int:
        body = f'{{"id": {order_id}}}'.encode()
        return client.post("/webhooks/woocommerce", data=body, headers={
            "X-WC-Webhook-Topic": "order.created", "X-WC-Webhook-Signature": webhooks.signature(body, "unit-secret")
        }).status_code

    def value(result: str) -> float:
        return shim_metrics.DELIVERIES.labels("order.created", result)._value.get()
    before = value("accepted_unqueued"), value("error")
    assert deliver(11) == 200  # stored for the relay
    monkeypatch.setattr(webhooks, "record", lambda *a, **k: 1 / 0)
    assert deliver(12) == 500
    assert (value("accepted_unqueued"), value("error")) == (before[0] + 1, before[1] + 1)
    page = client.get("/metrics")
    assert page.status_code == 200 and page.content_type.startswith("text/plain")
    assert 'wooerp_webhook_deliveries_total{result="error",topic="order.created"}' in page.text
