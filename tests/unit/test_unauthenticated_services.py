"""Production with a broker or database that takes no password: allowed (trust or network authentication
on a private network is legitimate), but said once at start in one structured line that names the variable
and host and nothing secret; not said for a unix socket, loopback, a URL with a password, or development."""
from __future__ import annotations

import io
import json
import logging

import pytest

from connector import logs
from connector.settings import load_checked
from connector.startup import warn_unauthenticated
from tests.unit.test_secrets import STRONG

PASSWORDED_REDIS = STRONG["REDIS_URL"]
PASSWORDED_DB = STRONG["DATABASE_URL"]


def warnings_for(monkeypatch, **env: str) -> list[dict]:
    settings = load_checked({**STRONG, **env})
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("wooerp.startup")
    monkeypatch.setattr(logger, "handlers", [handler])
    monkeypatch.setattr(logger, "propagate", False)
    logger.setLevel(logging.INFO)
    returned = warn_unauthenticated(settings, process="worker")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["variable"] for line in lines] == returned
    return lines


@pytest.mark.parametrize("variable, url, host", [
    ("REDIS_URL", "redis://redis.internal:6379/0", "redis.internal"),
    ("REDIS_URL", "rediss://ops-user@10.0.3.7:6380/2", "10.0.3.7"),
    ("DATABASE_URL", "postgresql://wooerp@db.internal:5432/wooerp?sslmode=require", "db.internal"),
    ("DATABASE_URL", "postgresql+psycopg2://wooerp@[fd00::5]/wooerp", "fd00::5"),
])
def test_a_passwordless_service_on_the_network_is_warned_about_once(monkeypatch, variable, url, host):
    (line,) = warnings_for(monkeypatch, **{variable: url})
    assert line["level"] == "warning" and line["variable"] == variable and line["host"] == host
    assert "no password" in line["msg"]
    text = json.dumps(line)
    assert "wooerp@" not in text and "ops-user" not in text and "sslmode" not in text  # never the URL


@pytest.mark.parametrize("variable, url", [
    ("REDIS_URL", "redis://127.0.0.1:6379/0"),
    ("REDIS_URL", "redis://localhost:6379/0"),
    ("REDIS_URL", "redis://[::1]:6379/0"),
    ("DATABASE_URL", "postgresql://wooerp@/wooerp?host=/run/postgresql"),
    ("DATABASE_URL", "postgresql://wooerp@127.0.0.2/wooerp"),
    ("DATABASE_URL", "postgresql://wooerp@db.internal/wooerp?password=db-password-01234567"),
    ("DATABASE_URL", "sqlite:////var/lib/wooerp/wooerp.db"),
])
def test_a_local_or_passworded_service_is_not_warned_about(monkeypatch, variable, url):
    assert warnings_for(monkeypatch, **{variable: url}) == []


def test_development_is_not_warned_about(monkeypatch):
    settings = load_checked({"REDIS_URL": "redis://redis.internal:6379/0"})
    assert warn_unauthenticated(settings) == []


def test_a_password_given_as_a_query_parameter_is_masked_and_checked():
    url = "postgresql://wooerp@db.internal/wooerp?password=db-password-01234567"
    settings = load_checked({**STRONG, "DATABASE_URL": url})
    assert "db-password-01234567" in settings.secrets()
    assert "db-password-01234567" not in json.dumps(settings.redacted())
    with pytest.raises(Exception) as e:
        load_checked({**STRONG, "DATABASE_URL": "postgresql://wooerp@db.internal/wooerp?password=short"})
    assert getattr(e.value, "variable", None) == "DATABASE_URL"
