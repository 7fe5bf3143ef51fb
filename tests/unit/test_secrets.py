"""Secrets: what production refuses, the webhook secrets WooCommerce would change, and log masking."""
from __future__ import annotations

import io
import json
import logging
import subprocess
import sys

import pytest

from connector import logs
from connector.errors import ConfigError
from connector.settings import load, load_checked

STRONG = {"WOOERP_ENV": "production", "REDIS_URL": "redis://:redis-password-0123456@r:6379/0",
          "DATABASE_URL": "postgresql://wooerp:db-password-01234567@db/wooerp", "WOO_URL": "https://shop",
          "WOO_CONSUMER_KEY": "ck_" + "1f" * 20, "WOO_CONSUMER_SECRET": "cs_" + "2e" * 20,
          "WOO_WEBHOOK_SECRET": "webhook-secret-3d3d3d3d", "ERP_URL": "https://erp",
          "ERP_TOKEN": "erp-token-4c4c4c4c4c4c", "FLOWER_PASSWORD": "flower-password-5b5b"}


def test_strong_production_settings_load():
    assert load_checked(STRONG).env == "production"


@pytest.mark.parametrize("variable, value", [
    ("FLOWER_PASSWORD", None),  # unset: the default password
    ("FLOWER_PASSWORD", "wooerp-dev"),
    ("WOO_WEBHOOK_SECRET", "wooerp-sandbox-webhook-secret"),
    ("ERP_TOKEN", "erp-sandbox-token"),
    ("WOO_CONSUMER_SECRET", "cs_" + "5b" * 20),
    ("WOO_CONSUMER_KEY", "ck_" + "5a" * 20),
    ("WOO_WEBHOOK_SECRET", "CHANGE-ME"),
    ("ERP_TOKEN", "CHANGE-ME-to-something-long"),
    ("WOO_CONSUMER_SECRET", "x"),
    ("FLOWER_PASSWORD", "fifteen-chars-x"),
    ("DATABASE_URL", "postgresql://wooerp:CHANGE-ME@postgres:5432/wooerp"),
    ("REDIS_URL", "redis://:short@r:6379/0"),
])
def test_production_refuses_default_sandbox_placeholder_and_short_secrets(variable, value):
    env = {k: v for k, v in STRONG.items() if k != variable}
    if value is not None:
        env[variable] = value
    with pytest.raises(ConfigError) as e:
        load_checked(env)
    assert e.value.variable == variable


def test_production_refuses_the_sandbox_tryton_password():
    env = {**STRONG, "ERP_KIND": "tryton", "TRYTON_URL": "https://erp", "TRYTON_DATABASE": "prod",
           "TRYTON_USER": "sync", "TRYTON_PASSWORD": "tryton-sandbox-password"}
    with pytest.raises(ConfigError) as e:
        load_checked(env)
    assert e.value.variable == "TRYTON_PASSWORD"


def test_a_weak_production_secret_is_one_line_naming_it_and_exit_2():
    env = {**STRONG, "FLOWER_PASSWORD": "wooerp-dev", "PATH": "/usr/bin:/bin"}
    p = subprocess.run([sys.executable, "-m", "ops.cli", "check-config"], capture_output=True, text=True, env=env)
    assert p.returncode == 2 and p.stderr.strip().count("\n") == 0
    assert "FLOWER_PASSWORD" in p.stderr and "wooerp-dev" not in p.stderr and "Traceback" not in p.stderr


@pytest.mark.parametrize("secret", ["k&amp;9-secret", "a&lt;b-secret", "q&#039;s-secret", "q&#x27;s-secret",
                                    "tag<b>secret", "pct%41secret", "back\\slash", "two  spaces", "tab\tsecret",
                                    "line\nbreak"])
def test_a_webhook_secret_woocommerce_would_change_is_refused(secret):
    with pytest.raises(ConfigError) as e:
        load_checked({"WOO_WEBHOOK_SECRET": secret})
    assert e.value.variable == "WOO_WEBHOOK_SECRET"


@pytest.mark.parametrize("secret", ["plain-secret-123", "one space ok", "amp & alone", "p%zzle", "quote\"d'",
                                    "\u00e9t\u00e9-secret", "!@#$^*()_+=[]{};:,./?|~"])
def test_a_webhook_secret_woocommerce_keeps_is_accepted(secret):
    assert load_checked({"WOO_WEBHOOK_SECRET": secret}).woo_webhook_secret == secret


def test_surrounding_whitespace_of_a_webhook_secret_is_trimmed_as_woocommerce_trims_it():
    assert load_checked({"WOO_WEBHOOK_SECRET": "  padded-secret-123\n"}).woo_webhook_secret == "padded-secret-123"


def test_settings_list_every_secret():
    s = load({**STRONG, "TRYTON_PASSWORD": "tryton-password-xyz"})
    assert set(s.secrets()) >= {STRONG["WOO_CONSUMER_SECRET"], STRONG["WOO_WEBHOOK_SECRET"], STRONG["ERP_TOKEN"],
                                STRONG["FLOWER_PASSWORD"], "tryton-password-xyz", "redis-password-0123456",
                                "db-password-01234567"}


SECRET = 'se"cr\u00e9t-v\u00e4lue/+&='


@pytest.fixture
def captured():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.JsonFormatter())
    logger = logging.getLogger("wooerp.test.masking")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    logs.register_secrets(SECRET)
    yield logger, stream
    logger.removeHandler(handler)


@pytest.mark.parametrize("leak", [
    "jane.doe@example.com", "jane.doe%40example.com", "JANE%40EXAMPLE.COM", "j\u00f6rg.m\u00fcller@beispiel.de",
    "\u7528\u6237@\u4f8b\u5b50.\u5e7f\u544a", SECRET, "se%22cr%C3%A9t-v%C3%A4lue%2F%2B%26%3D",
])
def test_masking_happens_before_encoding(captured, leak):
    logger, stream = captured
    logs.event(logger, f"message with {leak}", field=leak, nested={"list": [leak], leak: 1})
    try:
        raise ValueError(f"failed for {leak}")
    except ValueError:
        logger.exception("with traceback %s", leak)
    out = stream.getvalue()
    decoded = " ".join(json.dumps(json.loads(line), ensure_ascii=False) for line in out.splitlines())
    for text in (out, decoded):
        assert leak not in text
        assert leak.split("@")[0].split("%40")[0].split("%40".upper())[0] not in text or len(leak) < 6
    assert "***" in out
