"""An API key without the permission a request needs, against the real shop sandbox: the refusal carries
its fix, is counted for Prometheus (by the keeper's collector, from Redis) and shown by `wooerp status`."""
from __future__ import annotations

import pytest

from connector import shop_access
from connector.broker import redis_client
from connector.errors import AccessDenied
from connector.services import Services
from connector.settings import load
from ops.cli import entry
from sandbox.woo.admin import WooSandboxAdmin

READ_ONLY = ("the API key has read-only permission; give it Read/Write in WooCommerce → Settings → Advanced → "
             "REST API")


@pytest.fixture
def shop(sandboxes, redis_url, db, database_url, monkeypatch):
    woo_url = sandboxes[0]
    admin = WooSandboxAdmin(woo_url)
    admin.reset()
    redis_client(redis_url).delete(shop_access.COUNTS, shop_access.LAST)

    def with_key(permissions: str) -> dict:
        key = admin.create_key(permissions)
        env = {"WOO_URL": woo_url, "WOO_CONSUMER_KEY": key["consumer_key"],
               "WOO_CONSUMER_SECRET": key["consumer_secret"], "REDIS_URL": redis_url, "DATABASE_URL": database_url}
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("WOOERP_ENV", raising=False)
        return env
    yield admin, with_key
    redis_client(redis_url).delete(shop_access.COUNTS, shop_access.LAST)  # other tests' status stays clean


def status_lines(capsys) -> list[str]:
    with pytest.raises(SystemExit) as e:
        entry(["status"])
    assert e.value.code == 0
    return capsys.readouterr().out.splitlines()


def written(redis_url) -> dict:
    (family,) = shop_access.AccessDeniedCollector(redis_url).collect()
    return {s.labels["need"]: s.value for s in family.samples if s.name.endswith("_total")}


def test_a_read_only_key_writing_an_order_is_refused_counted_and_shown(shop, redis_url, capsys):
    _, with_key = shop
    services = Services(load(with_key("read")))
    order_id = 1  # the key's permission is checked before the order is looked up, as in WooCommerce
    with pytest.raises(AccessDenied) as e:
        services.woo.add_order_note(order_id, "ERP order SO-1")
    assert str(e.value).startswith(READ_ONLY) and e.value.need == "write"
    assert written(redis_url) == {"read": 0, "write": 1}
    (line,) = [ln for ln in status_lines(capsys) if ln.startswith("shop access")]
    assert "REFUSED (1 write in all)" in line and f"POST orders/{order_id}/notes" in line and READ_ONLY in line


def test_a_write_only_key_cannot_even_list_the_webhooks_and_status_says_why(shop, redis_url, capsys):
    _, with_key = shop
    with_key("write")
    lines = status_lines(capsys)
    (hooks,) = [ln for ln in lines if ln.startswith("webhooks")]
    assert "the API key has write-only permission; give it Read/Write" in hooks
    (line,) = [ln for ln in lines if ln.startswith("shop access")]
    assert "1 read" in line and "GET webhooks" in line
    assert written(redis_url)["read"] == 1


def test_a_key_with_read_write_shows_no_refusal(shop, capsys):
    _, with_key = shop
    with_key("read_write")
    assert not [ln for ln in status_lines(capsys) if ln.startswith("shop access")]
