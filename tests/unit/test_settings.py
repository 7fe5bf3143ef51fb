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
