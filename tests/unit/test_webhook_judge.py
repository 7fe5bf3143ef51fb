import pytest
import json

from connector.webhooks import judge, signature

SECRET = "s3cret-for-tests"
TOPICS = ("order.created", "order.updated")


def headers(body: bytes, topic="order.created", sign=True):
    h = {"X-WC-Webhook-Topic": topic, "X-WC-Webhook-Delivery-ID": "abc"}
    if sign:
        h["X-WC-Webhook-Signature"] = signature(body, SECRET)
    return h


def verdict(body: bytes, h, max_bytes=10_000):
    return judge(body, h, secret=SECRET, topics=TOPICS, max_bytes=max_bytes)


def test_signed_order_is_accepted_with_its_change_key():
    body = json.dumps({"id": 42, "date_modified_gmt": "2026-11-20T10:00:00"}).encode()
    v = verdict(body, headers(body))
    assert v.accepted and v.resource_id == 42 and v.modified_gmt == "2026-11-20T10:00:00"


def test_signature_is_over_the_raw_bytes_not_reserialised_json():
    body = b'{"id": 42,   "x":"\\/"}'
    assert verdict(body, headers(body)).accepted
    assert verdict(body, headers(json.dumps(json.loads(body)).encode())).status == 401


def test_rejections_carry_status_and_reason():
    body = b'{"id": 1}'
    assert verdict(body, headers(body, sign=False)).status == 401
    assert verdict(body, {**headers(body), "X-WC-Webhook-Signature": "AAAA"}).status == 401
    assert verdict(b"x" * 20_000, headers(b"x" * 20_000)).status == 413
    assert verdict(b"not json", headers(b"not json")).status == 400
    assert verdict(b'{"id": "7"}', headers(b'{"id": "7"}')).status == 400
    assert verdict(body, headers(body, topic="product.updated")).status == 202


def test_ping_is_answered_200_without_a_signature():
    v = verdict(b"webhook_id=17", {})
    assert v.status == 200 and not v.accepted


def test_two_orders_in_the_same_second_have_different_keys_but_a_duplicate_has_the_same():
    a, b = b'{"id": 1}', b'{"id": 2}'
    same_delivery_id = {"X-WC-Webhook-Delivery-ID": "samesecond"}
    ka = verdict(a, {**headers(a), **same_delivery_id}).change_key
    kb = verdict(b, {**headers(b), **same_delivery_id}).change_key
    assert ka != kb
    assert ka == verdict(a, headers(a)).change_key


# Each shape below once reached the database after the order task was published (issue 16): the judge
# now refuses them with a 400 and a reason, so nothing is published or stored.
LONG = "x" * 33


@pytest.mark.parametrize("body, extra_headers, reason", [
    (b'{"id": 9223372036854775808}', {}, "integer 'id'"),
    (b'{"id": true}', {}, "integer 'id'"),
    (b'{"id": 0}', {}, "integer 'id'"),
    (b'{"id": 1.0}', {}, "integer 'id'"),
    (b'[1, 2]', {}, "not a JSON object"),
    (b'{"id": 1, "date_modified_gmt": {"a": 1}}', {}, "must be a string"),
    (b'{"id": 1, "date_modified_gmt": "' + LONG.encode() + b'"}', {}, "longer than 32"),
    (b'{"id": 1, "date_modified_gmt": "2026\\u0000"}', {}, "printable ASCII"),
    (b'{"id": 1}', {"X-WC-Webhook-ID": LONG}, "X-WC-Webhook-ID is longer than 32"),
    (b'{"id": 1}', {"X-WC-Webhook-Delivery-ID": "d" * 65}, "X-WC-Webhook-Delivery-ID is longer than 64"),
    (b'{"id": 1}', {"X-WC-Webhook-ID": "\u00e9t\u00e9"}, "printable ASCII"),
    (b"[" * 100_000 + b"]" * 100_000, {}, "nested too deeply"),
    (b'{"id": ' + b"9" * 5000 + b"}", {}, "not valid JSON"),
])
def test_what_the_database_would_refuse_is_a_400_before_anything_is_published(body, extra_headers, reason):
    v = verdict(body, {**headers(body), **extra_headers}, max_bytes=1_000_000)
    assert v.status == 400 and reason in v.reason and not v.accepted


def test_largest_bigint_id_and_a_32_character_date_are_accepted():
    body = b'{"id": 9223372036854775807, "date_modified_gmt": "' + b"2" * 32 + b'"}'
    v = verdict(body, {**headers(body), "X-WC-Webhook-ID": "7" * 32, "X-WC-Webhook-Delivery-ID": "d" * 64})
    assert v.accepted and v.resource_id == 2**63 - 1


@pytest.mark.parametrize("bad", ["\u00e9" * 44, "AAAA\u2603", " ", "\udcff"])
def test_a_non_ascii_signature_is_a_401_not_an_error(bad):
    body = b'{"id": 1}'
    v = verdict(body, {**headers(body), "X-WC-Webhook-Signature": bad})
    assert v.status == 401


def test_a_signed_rest_error_object_is_ignored_with_2xx_not_refused():
    """Finding 6: the order was deleted before the shop built the payload; a 400 would count toward
    WooCommerce disabling the webhook."""
    body = json.dumps({"code": "woocommerce_rest_shop_order_invalid_id", "message": "Invalid ID.",
                       "data": {"status": 404}}).encode()
    v = verdict(body, headers(body, topic="order.updated"))
    assert 200 <= v.status < 300 and not v.accepted
    assert "ignored" in v.reason and "woocommerce_rest_shop_order_invalid_id" in v.reason
    unsigned = verdict(body, headers(body, topic="order.updated", sign=False))
    assert unsigned.status == 401
    assert verdict(b'{"code": 1}', headers(b'{"code": 1}')).status == 400
