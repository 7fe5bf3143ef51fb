"""The shop refusing the API key's permission is classified once, at the adapter boundary, as a permanent
AccessDenied whose message starts with what to change; other 401s stay plain permanent errors."""
import pytest
import responses

from connector.errors import AccessDenied, PermanentError, TransientError
from connector.woo.client import WooClient

WOO = "https://shop.example.com"
API = f"{WOO}/wp-json/wc/v3"
READ_ONLY = ("the API key has read-only permission; give it Read/Write in WooCommerce → Settings → Advanced → "
             "REST API")


@pytest.fixture
def seen():
    return []


@pytest.fixture
def woo(seen):
    return WooClient(WOO, "ck_x", "cs_y", timeout=5, on_denied=lambda exc, request: seen.append((exc, request)))


def error(code: str, message: str) -> dict:
    return {"code": code, "message": message, "data": {"status": 401}}


@responses.activate
def test_a_read_only_key_writing_says_to_give_it_read_write(woo, seen):
    responses.put(f"{API}/orders/5", status=401, json=error(
        "woocommerce_rest_authentication_error", "The API key provided does not have write permissions."))
    with pytest.raises(AccessDenied) as e:
        woo.update_order(5, {"status": "completed"})
    assert str(e.value).startswith(READ_ONLY) and e.value.need == "write" and e.value.status == 401
    assert isinstance(e.value, PermanentError)
    assert [(x.need, request) for x, request in seen] == [("write", "PUT orders/5")]  # counted once


@responses.activate
def test_a_write_only_key_reading_says_so(woo, seen):
    responses.get(f"{API}/orders/5", status=401, json=error(
        "woocommerce_rest_authentication_error", "The API key provided does not have read permissions."))
    with pytest.raises(AccessDenied) as e:
        woo.get_order(5)
    assert str(e.value).startswith("the API key has write-only permission; give it Read/Write") and e.value.need == "read"


@pytest.mark.parametrize("method, call, code, status, need", [
    ("GET", lambda w: w.get_order(5), "woocommerce_rest_cannot_view", 401, "read"),
    ("GET", lambda w: w.get_order(5), "woocommerce_rest_cannot_view", 403, "read"),
    ("PUT", lambda w: w.update_order(5, {}), "woocommerce_rest_cannot_edit", 403, "write"),
    ("POST", lambda w: w.add_order_note(5, "x"), "woocommerce_rest_cannot_create", 401, "write"),
    ("POST", lambda w: w.batch_products(update=[{"id": 1}]), "woocommerce_rest_cannot_batch", 403, "write"),
])
def test_the_cannot_codes_are_a_permission_refusal_with_the_fix(woo, seen, method, call, code, status, need):
    path = {"GET": "orders/5", "PUT": "orders/5"}.get(method) or (
        "orders/5/notes" if code.endswith("create") else "products/batch")
    with responses.RequestsMock() as mock:
        mock.add(method, f"{API}/{path}", status=status, json={"code": code, "message": "Sorry, you cannot."})
        with pytest.raises(AccessDenied) as e:
            call(woo)
    assert e.value.need == need and e.value.code == code
    assert "Read/Write in WooCommerce → Settings → Advanced → REST API" in e.value.reason
    assert str(e.value).startswith(e.value.reason) and code in str(e.value)
    assert len(seen) == 1


@pytest.mark.parametrize("status, body, family", [
    (401, error("woocommerce_rest_authentication_error", "Consumer secret is invalid."), PermanentError),
    (401, error("woocommerce_rest_authentication_error", "Invalid signature - provided signature does not match."),
     PermanentError),
    (500, {"code": "woocommerce_rest_cannot_create_order_refund", "message": "Invalid refund amount."},
     TransientError),
    (403, None, PermanentError),  # a firewall's HTML page: nothing says it is the key
    (403, {"code": "woocommerce_rest_cannot_edit", "message": "Parent product does not match current variation."},
     PermanentError),
])
def test_other_refusals_are_not_called_a_permission_problem(woo, seen, status, body, family):
    with responses.RequestsMock() as mock:
        if body is None:
            mock.get(f"{API}/orders/5", status=status, body="<html>Forbidden</html>")
        else:
            mock.get(f"{API}/orders/5", status=status, json=body)
        with pytest.raises(family) as e:
            woo.get_order(5)
    assert not isinstance(e.value, AccessDenied) and seen == []
