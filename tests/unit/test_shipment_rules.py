"""Shipment rules without I/O: when an order counts as fully shipped, the note, the checks on ERP data."""
import pytest

from connector.errors import InvalidDataError
from connector.sync.shipments import (META_PREFIX, fully_shipped, meta_value, note_text, order_id_from_ref,
                                      validate)


def shipment(sid="SH-1", **lines):
    return {"id": sid, "carrier": "DHL", "tracking_number": "0034", "shipped_at": "2026-01-01T00:00:00.000Z",
            "lines": [{"sku": sku.replace("_", "-"), "quantity": qty} for sku, qty in lines.items()]}


def order(*shipments, status="processing", **ordered):
    return {"status": status, "line_items": [{"sku": sku.replace("_", "-"), "quantity": qty}
                                             for sku, qty in ordered.items()],
            "meta_data": [{"key": "_erp_order_number", "value": "SO-1"}] +
                         [{"key": META_PREFIX + s["id"], "value": meta_value(s)} for s in shipments]}


def test_an_order_is_fully_shipped_when_every_sku_quantity_is_covered_across_shipments():
    assert not fully_shipped(order(shipment("SH-1", SKU_A=1), SKU_A=2, SKU_B=1))
    assert not fully_shipped(order(shipment("SH-1", SKU_A=1), shipment("SH-2", SKU_A=1), SKU_A=2, SKU_B=1))
    assert fully_shipped(order(shipment("SH-1", SKU_A=1), shipment("SH-2", SKU_A=1, SKU_B=1), SKU_A=2, SKU_B=1))


def test_units_a_refund_restocked_need_not_ship_when_counted_less_restocked():
    # 2 × A ordered, one refunded and restocked before shipping: the ERP withdraws it and ships the rest
    o = order(shipment("SH-1", SKU_A=1, SKU_B=1), SKU_A=2, SKU_B=1)
    o["line_items"][0]["meta_data"] = [{"key": "_restock_refunded_items", "value": "1"}]
    assert not fully_shipped(o)
    assert fully_shipped(o, less_restocked=True)
    o["line_items"][1]["meta_data"] = [{"key": "_refunded_not_restocked", "value": "1"}]  # other meta: no effect
    assert fully_shipped(o, less_restocked=True)
    assert not fully_shipped(order(shipment("SH-1", SKU_B=1), SKU_A=2, SKU_B=1), less_restocked=True)


def test_an_order_with_a_line_without_sku_is_never_completed_by_shipments():
    o = order(shipment("SH-1", SKU_A=5), SKU_A=1)
    o["line_items"].append({"sku": None, "quantity": 1})
    assert not fully_shipped(o)


def test_the_note_names_quantities_carrier_tracking_and_the_shipment():
    assert note_text(shipment("SH-000311", TSHIRT_RED_M=1, CAP=2)) == \
        "Shipped 1 × TSHIRT-RED-M, 2 × CAP via DHL, tracking 0034 (ERP shipment SH-000311)."


@pytest.mark.parametrize("lines", [[], None, [{"sku": "A", "quantity": 0}], [{"sku": "", "quantity": 1}],
                                   [{"sku": "A", "quantity": "1"}], [{"sku": "A", "quantity": True}]])
def test_a_shipment_with_bad_lines_is_invalid_data(lines):
    with pytest.raises(InvalidDataError):
        validate({"id": "SH-1", "lines": lines})


def test_our_order_reference_gives_the_woo_order_id():
    assert order_id_from_ref("WC-ORDER-1234") == 1234
    assert order_id_from_ref("PO-77") is None and order_id_from_ref(None) is None
