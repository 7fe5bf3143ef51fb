import subprocess
import sys

import pytest

from connector.errors import ConfigError
from connector.settings import load, load_checked


def test_defaults_run_the_embedded_fleet():
    s = load({})
    assert s.broker_url == "redis://127.0.0.1:6390/0"
    assert s.database_url.startswith("sqlite:///")
    assert s.web_warehouses == ("MAIN", "STORE2")
    assert s.import_statuses == ("processing", "on-hold", "completed")


@pytest.mark.parametrize("env, variable", [
    ({"WOO_URL": "not-a-url"}, "WOO_URL"),
    ({"ERP_URL": "ftp://erp"}, "ERP_URL"),
    ({"REDIS_URL": "http://127.0.0.1:6379"}, "REDIS_URL"),
    ({"PRODUCT_POLL_SECONDS": "soon"}, "PRODUCT_POLL_SECONDS"),
    ({"WEB_WAREHOUSES": " , "}, "WEB_WAREHOUSES"),
    ({"WOOERP_ENV": "production"}, "REDIS_URL"),
])
def test_bad_values_name_the_variable(env, variable):
    with pytest.raises(ConfigError) as e:
        load(env)
    assert e.value.variable == variable


def test_backoff_must_fit_inside_the_visibility_timeout():
    with pytest.raises(ConfigError) as e:
        load_checked({"VISIBILITY_TIMEOUT_SECONDS": "100", "RETRY_BACKOFF_MAX_SECONDS": "60"})
    assert e.value.variable == "RETRY_BACKOFF_MAX_SECONDS"


def test_redacted_settings_hide_secrets():
    s = load({"ERP_TOKEN": "tok-very-secret", "DATABASE_URL": "postgresql://u:pw-secret@db:5432/x"})
    text = str(s.redacted())
    assert "tok-very-secret" not in text and "pw-secret" not in text


def test_cli_prints_one_line_and_exits_2_on_a_bad_url():
    p = subprocess.run([sys.executable, "-m", "ops.cli", "check-config"], capture_output=True, text=True,
                       env={"WOO_URL": "not-a-url", "PATH": "/usr/bin:/bin"})
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and "WOO_URL" in p.stderr
    assert "Traceback" not in p.stderr


def test_production_worker_refuses_to_start_without_a_broker():
    # importing workers.app reads no settings (issue 14): a worker reads them when it starts
    p = subprocess.run([sys.executable, "-m", "celery", "-A", "workers.app", "worker"], capture_output=True, text=True,
                       env={"WOOERP_ENV": "production", "PATH": "/usr/bin:/bin"})
    assert p.returncode == 2
    assert "REDIS_URL" in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("env, variable, says", [
    ({"WOO_RATE_LIMIT": "nan"}, "WOO_RATE_LIMIT", "finite"),
    ({"ERP_RATE_LIMIT": "inf"}, "ERP_RATE_LIMIT", "finite"),
    ({"WOO_RATE_BURST": "-inf"}, "WOO_RATE_BURST", "finite"),
    ({"ORDER_POLL_SECONDS": "NaN"}, "ORDER_POLL_SECONDS", "finite"),
    ({"SQLITE_BUSY_TIMEOUT_SECONDS": "abc"}, "SQLITE_BUSY_TIMEOUT_SECONDS", "number"),
    ({"SQLITE_BUSY_TIMEOUT_SECONDS": "-1"}, "SQLITE_BUSY_TIMEOUT_SECONDS", "at least"),
    ({"METRICS_PORT": "99999"}, "METRICS_PORT", "at most 65535"),
    ({"IMPORT_STATUSES": "processing,cancelled"}, "IMPORT_STATUSES", "cancelled"),
    ({"IMPORT_STATUSES": "refunded"}, "IMPORT_STATUSES", "refunded"),
    ({"IMPORT_STATUSES": "trash"}, "IMPORT_STATUSES", "trash"),
    ({"CURRENCIES": "euro"}, "CURRENCIES", "ISO 4217"),
    ({"CURRENCIES": "EUR,usd"}, "CURRENCIES", "'usd'"),
])
def test_values_that_would_break_at_run_time_are_refused_at_start_up(env, variable, says):
    with pytest.raises(ConfigError) as e:
        load_checked(env)
    assert e.value.variable == variable and says in e.value.problem


def test_limits_are_accepted_at_their_edges():
    s = load({"METRICS_PORT": "65535", "SQLITE_BUSY_TIMEOUT_SECONDS": "0.5", "CURRENCIES": "EUR,CHF",
              "IMPORT_STATUSES": "processing"})
    assert (s.metrics_port, s.sqlite_busy_timeout, s.currencies) == (65535, 0.5, ("EUR", "CHF"))
    assert load({"METRICS_PORT": "0"}).metrics_port == 0  # metrics off


def test_a_bad_busy_timeout_stops_the_database_layer_naming_the_variable(monkeypatch, tmp_path):
    from connector.db import make_engine
    monkeypatch.setenv("SQLITE_BUSY_TIMEOUT_SECONDS", "abc")
    with pytest.raises(ConfigError) as e:
        make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    assert e.value.variable == "SQLITE_BUSY_TIMEOUT_SECONDS"


@pytest.mark.parametrize("variable, value", [("WOO_RATE_LIMIT", "nan"), ("SQLITE_BUSY_TIMEOUT_SECONDS", "abc")])
def test_check_config_refuses_run_time_breakers_with_exit_2(variable, value):
    p = subprocess.run([sys.executable, "-m", "ops.cli", "check-config"], capture_output=True, text=True,
                       env={variable: value, "PATH": "/usr/bin:/bin"})
    assert p.returncode == 2 and variable in p.stderr and "Traceback" not in p.stderr
