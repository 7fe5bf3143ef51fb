"""HTTP edge cases a sandbox cannot easily produce, classified into the connector's error families."""
import pytest
import requests
import responses

from connector.erp.rest import RestErp
from connector.errors import InvalidDataError, PermanentError, TransientError
from connector.logs import set_correlation_id
from connector.woo.client import WooClient

WOO = "https://shop.example.com"
ERP = "https://erp.example.com"


@pytest.fixture
def woo():
    return WooClient(WOO, "ck_x", "cs_y", timeout=5)


@responses.activate
def test_429_with_retry_after_is_transient_and_carries_the_wait(woo):
    responses.get(f"{WOO}/wp-json/wc/v3/orders/1", status=429, headers={"Retry-After": "7"}, body="slow down")
    with pytest.raises(TransientError) as e:
        woo.get_order(1)
    assert e.value.retry_after == 7 and e.value.status == 429


@responses.activate
def test_retry_after_as_http_date_is_understood(woo):
    responses.get(f"{WOO}/wp-json/wc/v3/orders/1", status=503, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(TransientError) as e:
        woo.get_order(1)
    assert e.value.retry_after == 0  # a date in the past: retry now


@responses.activate
def test_an_html_page_with_200_is_a_transient_host_fault(woo):
    responses.get(f"{WOO}/wp-json/wc/v3/orders/1", status=200, body="\ufeff<html>critical error</html>")
    with pytest.raises(TransientError):
        woo.get_order(1)


@responses.activate
def test_a_reset_connection_is_transient(woo):
    responses.get(f"{WOO}/wp-json/wc/v3/orders/1", body=requests.ConnectionError("reset by peer"))
    with pytest.raises(TransientError):
        woo.get_order(1)


@responses.activate
def test_unauthorised_is_permanent(woo):
    responses.get(f"{WOO}/wp-json/wc/v3/orders/1", status=401, json={"code": "woocommerce_rest_cannot_view"})
    with pytest.raises(PermanentError):
        woo.get_order(1)


@responses.activate
def test_erp_validation_failure_is_invalid_data_and_correlation_id_is_sent():
    responses.post(f"{ERP}/api/v1/sales-orders", status=422,
                   json={"error": {"code": "validation_failed", "message": "unknown SKU", "fields": {"lines": "x"}}})
    erp = RestErp(ERP, "token")
    token = set_correlation_id("cid-123")
    try:
        with pytest.raises(InvalidDataError) as e:
            erp.create_sales_order({"external_ref": "WC-ORDER-1"})
    finally:
        from connector.logs import reset_correlation_id
        reset_correlation_id(token)
    assert "unknown SKU" in str(e.value)
    sent = responses.calls[0].request
    assert sent.headers["X-Correlation-ID"] == "cid-123" and sent.headers["Authorization"] == "Bearer token"


@responses.activate
def test_more_than_100_batch_items_are_refused_before_any_call(woo):
    with pytest.raises(PermanentError):
        woo.batch_products(create=[{"sku": str(i)} for i in range(101)])
    assert len(responses.calls) == 0


# -- "gone" is WooCommerce's own answer only (F2): anything else answering 404 is worth another try ----------
@responses.activate
def test_a_proxys_html_404_is_transient_not_gone(woo):
    from connector.errors import NotFound
    responses.get(f"{WOO}/wp-json/wc/v3/orders/63", status=404, body="<html><h1>404 Not Found</h1>nginx</html>",
                  content_type="text/html")
    with pytest.raises(TransientError) as e:
        woo.get_order(63)
    assert not isinstance(e.value, NotFound) and e.value.status == 404


@responses.activate
def test_a_404_with_another_code_is_transient_not_gone(woo):
    responses.get(f"{WOO}/wp-json/wc/v3/orders/63", status=404,
                  json={"code": "rest_no_route", "message": "No route was found", "data": {"status": 404}})
    with pytest.raises(TransientError):
        woo.get_order(63)


@responses.activate
def test_woocommerces_invalid_id_answer_and_410_mean_gone(woo):
    from connector.errors import NotFound
    responses.get(f"{WOO}/wp-json/wc/v3/orders/63", status=404,
                  json={"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                        "data": {"status": 404}})
    responses.get(f"{WOO}/wp-json/wc/v3/orders/64", status=410, body="")
    with pytest.raises(NotFound) as e:
        woo.get_order(63)
    assert e.value.status == 404 and isinstance(e.value, PermanentError)
    with pytest.raises(NotFound):
        woo.get_order(64)


@responses.activate
def test_the_rest_erp_is_sent_the_credit_note_of_its_contract_with_tax_never_the_net_figures():
    """The net figures the connector adds for ERPs that book sales net (Tryton) are not part of contract v1.1."""
    responses.post(f"{ERP}/api/v1/credit-notes", status=201, json={"id": "CN-1", "number": "CN-2026-1"})
    RestErp(ERP, "token").create_credit_note({
        "external_ref": "WC-REFUND-7", "sales_order_id": "SO-1", "reason": "", "restock": False,
        "lines": [{"sku": "A", "quantity": 1, "amount": "14.88", "net": "12.50"}], "amount": "14.88",
        "net_amount": "12.50"})
    import json
    assert json.loads(responses.calls[0].request.body) == {
        "external_ref": "WC-REFUND-7", "sales_order_id": "SO-1", "reason": "", "restock": False,
        "lines": [{"sku": "A", "quantity": 1, "amount": "14.88"}], "amount": "14.88"}
