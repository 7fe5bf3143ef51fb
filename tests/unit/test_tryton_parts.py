"""Pure parts of the Tryton adapter: settings, JSON values, error classes, cursors, the `make run` process list."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from connector.erp import tryton_keyset as keyset
from connector.erp.tryton_rpc import classify, decode, encode
from connector.errors import ConfigError, InvalidDataError, PermanentError, TransientError
from connector.settings import load
from ops.fleet import procfile

PRODUCTION = {"WOOERP_ENV": "production", "REDIS_URL": "redis://r:6379/0", "DATABASE_URL": "postgresql://db/x",
              "WOO_URL": "https://shop", "WOO_CONSUMER_KEY": "ck", "WOO_CONSUMER_SECRET": "cs",
              "WOO_WEBHOOK_SECRET": "whs"}


def test_tryton_settings_default_to_the_demo_server_and_hide_the_password():
    s = load({"ERP_KIND": "tryton", "TRYTON_PASSWORD": "very-secret-pw", "TRYTON_WAREHOUSES": "MAIN, STORE2"})
    assert (s.erp_kind, s.tryton_url, s.tryton_database, s.tryton_user) == \
        ("tryton", "http://127.0.0.1:8071", "wooerp", "wooerp")
    assert s.tryton_warehouses == ("MAIN", "STORE2") and s.tryton_stock_basis == "forecast" and s.tryton_confirm_sales
    assert "very-secret-pw" not in str(s.redacted())
    assert load({}).erp_kind == "rest" and load({}).tryton_warehouses == ()


@pytest.mark.parametrize("env, variable", [
    ({"ERP_KIND": "odoo"}, "ERP_KIND"),
    ({"ERP_KIND": "tryton", "TRYTON_URL": "tryton:8000"}, "TRYTON_URL"),
    ({"TRYTON_STOCK_BASIS": "guess"}, "TRYTON_STOCK_BASIS"),
    ({**PRODUCTION, "ERP_KIND": "tryton"}, "TRYTON_URL"),
    ({**PRODUCTION, "ERP_KIND": "rest"}, "ERP_URL"),
])
def test_bad_or_missing_tryton_settings_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as e:
        load(env)
    assert e.value.variable == variable


def test_production_with_tryton_needs_no_rest_erp_settings():
    s = load({**PRODUCTION, "ERP_KIND": "tryton", "TRYTON_URL": "https://erp", "TRYTON_DATABASE": "prod",
              "TRYTON_USER": "shop", "TRYTON_PASSWORD": "pw-123456"})
    assert s.tryton_url == "https://erp"


def test_make_run_starts_trytond_instead_of_the_erp_sandbox():
    names = [name for name, _ in procfile(load({"ERP_KIND": "tryton"}), {"ERP_KIND": "tryton"})]
    assert "tryton" in names and "erp" not in names
    commands = dict(procfile(load({"ERP_KIND": "tryton"}), {"ERP_KIND": "tryton"}))
    assert "-m sandbox.tryton --port 8071" in commands["tryton"]
    assert "tryton" not in [n for n, _ in procfile(load({"ERP_KIND": "tryton"}),
                                                   {"ERP_KIND": "tryton", "TRYTON_URL": "http://erp:8000"})]
    assert "erp" in [n for n, _ in procfile(load({}), {})]


def test_values_travel_as_tryton_json_and_back():
    value = {"when": dt.datetime(2026, 1, 2, 3, 4, 5, 6000), "day": dt.date(2026, 1, 2), "price": Decimal("1.50"),
             "list": [Decimal("2")]}
    wire = encode(value)
    assert wire["price"] == {"__class__": "Decimal", "decimal": "1.50"}
    assert wire["when"]["__class__"] == "datetime" and wire["day"]["__class__"] == "date"
    assert decode(wire) == value


@pytest.mark.parametrize("error, family", [
    (["UserError", ["The product is inactive.", "", None]], InvalidDataError),
    (["UserWarning", ["key", "Stock is low.", ""]], InvalidDataError),
    (["ConcurrencyException", "Records were modified in the meanwhile"], TransientError),
    (["database is locked", "traceback…"], TransientError),
    (["'sale.nope'", ""], PermanentError),
])
def test_json_rpc_errors_are_classified(error, family):
    assert type(classify("model.sale.sale.quote", error)) is family


def test_cursors_round_trip_and_a_bad_one_is_refused():
    event = keyset.Event(dt.datetime(2026, 1, 2, 3, 4, 5, 123456), 3, 42, "product.product", {})
    assert keyset.decode_cursor(keyset.encode_cursor(event)) == (event.at, 3, 42)
    with pytest.raises(PermanentError):
        keyset.decode_cursor("not-a-cursor")
    with pytest.raises(PermanentError):
        keyset.parse_since("yesterday")
    assert keyset.parse_since("2026-01-02T03:04:05.123Z") == dt.datetime(2026, 1, 2, 3, 4, 5, 123000)
    assert keyset.timestamp(dt.datetime(2026, 1, 2, 3, 4, 5, 123456)) == "2026-01-02T03:04:05.123Z"
    assert keyset.timestamp(dt.date(2026, 1, 2)) == "2026-01-02T00:00:00.000Z"


def test_a_login_cut_short_by_a_503_logs_in_again_on_the_next_call():
    import json

    import responses

    from connector.erp.tryton_rpc import TrytonRpc
    calls = []

    def answer(request):
        method = json.loads(request.body)["method"]
        calls.append(method)
        if method == "model.res.user.get_preferences" and calls.count(method) == 1:
            return 503, {}, "busy"
        result = {"common.db.login": [1, "key"], "model.res.user.get_preferences": {"language": "en"}}.get(method, [])
        return 200, {}, json.dumps({"id": 1, "result": result})
    rpc = TrytonRpc("http://tryton.test", "demo", "admin", "secret", timeout=5)
    with responses.RequestsMock() as mocked:
        mocked.add_callback(responses.POST, "http://tryton.test/demo/rpc/", callback=answer)
        with pytest.raises(TransientError):
            rpc.model("product.product", "search", [], 0, None, None)
        assert rpc.model("product.product", "search", [], 0, None, None) == []
    assert calls == ["common.db.login", "model.res.user.get_preferences", "common.db.login",
                     "model.res.user.get_preferences", "model.product.product.search"]
