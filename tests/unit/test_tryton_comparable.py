"""What Tryton keeps of an order (`TrytonErp.comparable`): an order written the way create_sales_order writes
it to Tryton and read back the way the adapter reads sales compares equal to the shop's order, for any
amounts (so order_life never amends an unchanged order, reconcile never reports it), and a change of the
shop's order shows. Tryton's side is the sale row its JSON-RPC `search_read` answers, built here from the
lines the adapter writes (exact_lines, the charges); no server."""
from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings, strategies as st

from connector.erp.tryton import TrytonErp, exact_lines
from connector.sync.order_life import AMENDED, _norm

SKUS = ("MUG-RED", "MUG-BLUE", "CAP-GREY")
ADDRESS = {"line1": "Hauptstr. 1", "line2": "Hinterhaus", "city": "Berlin", "postcode": "10115", "state": "BE",
           "country": "de"}


def _money(cents: int) -> str:
    return str(Decimal(cents) / 100)


@st.composite
def orders(draw) -> dict:
    lines = []
    for sku in draw(st.lists(st.sampled_from(SKUS), min_size=1, max_size=3, unique=True)):
        quantity, cents = draw(st.integers(1, 60)), draw(st.integers(0, 500_000))
        lines.append({"sku": sku, "quantity": quantity, "unit_price": str(Decimal(cents) / 100 / quantity),
                      "amount": _money(cents), "tax_rate": "19.00", "description": f"{sku} (shop name)"})
    shipping = draw(st.integers(0, 2_000))
    fees = [{"name": f"Fee {i}", "amount": _money(c)} for i, c in enumerate(draw(st.lists(st.integers(-500, 500),
                                                                                           max_size=2)))]
    discounts = [{"code": f"C{i}", "amount": _money(c)} for i, c in enumerate(draw(st.lists(st.integers(0, 900),
                                                                                              max_size=2)))]
    net = sum(Decimal(li["amount"]) for li in lines) + Decimal(shipping) / 100 + \
        sum((Decimal(f["amount"]) for f in fees), Decimal(0)) - sum((Decimal(d["amount"]) for d in discounts), Decimal(0))
    return {"billing_address": ADDRESS, "shipping_address": dict(ADDRESS, line2=""), "lines": lines,
            "shipping": {"method": "flat_rate", "amount": _money(shipping), "tax": "0.57"}, "fees": fees,
            "discounts": discounts, "totals": {"net": str(net), "tax": "9.99", "gross": str(net + Decimal("9.99"))},
            "note": draw(st.sampled_from(["", "ring twice", "line one\nline two"])),
            "payment": {"method": "stripe", "transaction_id": "ch_1"}}


def _as_tryton_answers(order: dict) -> dict:
    """The sale row trytond answers for the sale create_sales_order makes of `order`."""
    lines = [{"type": "line", "product.": {"code": line["sku"]}, "quantity": float(quantity), "unit_price": price,
              "description": line["description"]} for line in order["lines"] for quantity, price in exact_lines(line)]
    lines += [{"type": "line", "product.": None, "quantity": 1.0, "unit_price": Decimal(amount), "description": text}
              for text, amount in TrytonErp._charges(order)]
    net = sum((Decimal(str(li["quantity"])) * Decimal(li["unit_price"])).quantize(Decimal("0.01")) for li in lines)

    def address(a):
        street = "\n".join(p for p in (a["line1"], a["line2"]) if p)
        return {"street_unstructured": street, "postal_code": a["postcode"], "city": a["city"],
                "country.": {"code": a["country"].upper()}}
    return {"id": 7, "number": "SO7", "reference": "WC-ORDER-7", "state": "processing", "shipment_state": "waiting",
            "party": 3, "currency.": {"code": "EUR"}, "create_date": None, "write_date": None, "revision": 2,
            "origin": None, "comment": TrytonErp._comment(order), "untaxed_amount": net, "tax_amount": 0,
            "total_amount": net, "lines.": lines, "warehouse.": {"code": "MAIN"},
            "invoice_address.": address(order["billing_address"]), "shipment_address.": address(order["shipping_address"])}


class _Rpc:
    def __init__(self, row: dict):
        self.row = row

    def model(self, model, method, *args, **kw):
        if (model, method) == ("sale.amendment", "search"):  # the sale's refund amendments: none
            return []
        assert (model, method) == ("sale.sale", "search_read")
        return [self.row]


def _read_back(order: dict) -> dict:
    import datetime as dt
    row = _as_tryton_answers(order)
    row["create_date"] = dt.datetime(2026, 1, 5, 10, 0)
    return TrytonErp(_Rpc(row))._sale(7)


def _differ(erp: TrytonErp, shop: dict, sale: dict) -> list[str]:
    a, b = erp.comparable(shop), erp.comparable(sale)
    return [k for k in AMENDED if _norm(k, a.get(k)) != _norm(k, b.get(k))]


@settings(max_examples=200, deadline=None)
@given(order=orders())
def test_an_order_read_back_from_tryton_compares_equal_to_the_shops(order):
    sale = _read_back(order)
    assert _differ(TrytonErp(None), order, sale) == []
    assert sale["note"] == order["note"] and sale["revision"] == 2


@settings(max_examples=100, deadline=None)
@given(order=orders(), extra=st.integers(1, 5))
def test_a_changed_quantity_address_or_shipping_shows(order, extra):
    sale = _read_back(order)
    erp = TrytonErp(None)
    more = dict(order, lines=[dict(order["lines"][0], quantity=order["lines"][0]["quantity"] + extra,
                                   amount=str(Decimal(order["lines"][0]["amount"]) + extra))] + order["lines"][1:])
    assert "lines" in _differ(erp, more, sale)
    assert _differ(erp, dict(order, shipping_address=dict(ADDRESS, city="Hamburg")), sale) == ["shipping_address"]
    cheaper = dict(order, shipping={"method": "flat_rate", "amount": str(Decimal(order["shipping"]["amount"]) + 1)})
    assert _differ(erp, cheaper, sale) == ["shipping"]
