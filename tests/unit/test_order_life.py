"""The credit note a shop refund becomes (connector/sync/order_life.py): exact money, restock only for units the
shop restocked, and the field comparison that decides whether an amendment is due."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

from hypothesis import given, strategies as st

from connector.sync.order_life import _norm, attribute_restock, credit_note, refund_goods, refund_net

cents = st.integers(min_value=0, max_value=10_000_00).map(lambda c: Decimal(c) / 100)


def refund(rid=7, amount="0.00", lines=()):
    return {"id": rid, "amount": str(amount), "reason": "r",
            "line_items": [{"sku": sku, "quantity": -qty, "total": str(-total), "total_tax": str(-tax)}
                           for sku, qty, total, tax in lines]}


@given(st.lists(st.tuples(st.sampled_from(["A", "B", "C"]), st.integers(1, 5), cents, cents), max_size=4), cents)
def test_the_lines_always_add_up_to_the_refunded_amount(lines, extra):
    amount = sum((total + tax for _, _, total, tax in lines), Decimal(0)) + extra
    note = credit_note(refund(amount=amount, lines=lines), "SO-1", Counter())
    assert note["external_ref"] == "WC-REFUND-7" and Decimal(note["amount"]) == amount
    assert Decimal(note["net_amount"]) == amount - sum((tax for _, _, _, tax in lines), Decimal(0))
    if lines:
        assert sum(Decimal(ln["amount"]) for ln in note["lines"]) == amount
        assert [Decimal(ln["net"]) for ln in note["lines"]] == [total for _, _, total, _ in lines]
        assert [(ln["sku"], ln["quantity"]) for ln in note["lines"]] == [(s, q) for s, q, _, _ in lines]
    else:
        assert note["lines"] == []


def test_shipping_refunded_with_goods_goes_onto_the_last_line_and_is_named():
    note = credit_note(refund(amount="17.85", lines=[("A", 1, Decimal("10.00"), Decimal("1.90"))]), "SO-1",
                       Counter())
    assert note["lines"] == [{"sku": "A", "quantity": 1, "amount": "17.85", "net": "10.00"}]
    assert "incl. 5.95 not on goods lines" in note["reason"]


def test_restock_only_when_the_shop_restocked_every_unit_of_the_refund():
    goods = refund(amount="20.00", lines=[("A", 2, Decimal("20.00"), Decimal(0))])
    assert credit_note(goods, "SO-1", Counter(A=2))["restock"] is True
    assert credit_note(goods, "SO-1", Counter(A=1))["restock"] is False
    assert credit_note(refund(amount="5.00"), "SO-1", Counter(A=9))["restock"] is False  # no goods, nothing back


def test_fields_compare_as_both_sides_store_them():
    assert _norm("shipping_address", {"line1": "X", "line2": ""}) == _norm("shipping_address", {"line1": "X"})
    assert _norm("totals", {"gross": "10.0"}) == _norm("totals", {"gross": "10.00"})
    assert _norm("note", None) == _norm("note", "")
    assert _norm("lines", [{"sku": "A", "quantity": 2}]) != _norm("lines", [{"sku": "A", "quantity": 3}])


def test_a_second_trashing_after_a_restore_is_a_new_change_and_its_duplicate_is_not():
    from connector.webhooks import judge, signature
    body = b'{"id":42}'

    def verdict(delivery_id):
        headers = {"X-WC-Webhook-Signature": signature(body, "s"), "X-WC-Webhook-Topic": "order.deleted",
                   "X-WC-Webhook-Delivery-ID": delivery_id, "X-WC-Webhook-ID": "1"}
        return judge(body, headers, secret="s", topics=("order.deleted",), max_bytes=10_000)
    first, duplicate, later = verdict("d1"), verdict("d1"), verdict("d2")
    assert first.accepted and first.change_key == duplicate.change_key != later.change_key


@given(st.lists(st.tuples(st.dictionaries(st.sampled_from(["A", "B"]), st.integers(1, 3), min_size=1, max_size=2),
                          st.booleans()), min_size=1, max_size=5))
def test_restock_attribution_always_restocks_what_the_shop_restocked_and_is_the_truth_when_only_it_fits(drawn):
    """WooCommerce keeps one restocked count per order item; the refunds credited in one run get the restock so
    that the totals per SKU are the shop's, the one possible answer when only one fits, else by creation order,
    said so on each note concerned."""
    refunds = [{"id": 100 + i, "amount": "0", "line_items": [{"sku": sku, "quantity": -q, "total": "0"}
                                                              for sku, q in goods.items()]}
               for i, (goods, _) in enumerate(drawn)]
    truth = {r["id"] for r, (_, restocked) in zip(refunds, drawn) if restocked}
    shop = sum((refund_goods(r) for r in refunds if r["id"] in truth), Counter())
    chosen, ambiguous = attribute_restock(list(reversed(refunds)), shop)  # the order given does not matter
    assert sum((refund_goods(r) for r in refunds if r["id"] in chosen), Counter()) == shop
    if not ambiguous:
        assert chosen == truth
    for rid, among in ambiguous.items():
        assert rid in among and len(among) > 1
        note = credit_note(next(r for r in refunds if r["id"] == rid), "SO-1", Counter(),
                           restock=rid in chosen, ambiguous=ambiguous)
        assert "by rule" in note["reason"] and note["restock"] is (rid in chosen)
    assert attribute_restock(refunds, shop) == (chosen, ambiguous)  # deterministic


def test_like_refunds_give_the_restock_to_the_earliest():
    one = {"id": 5, "line_items": [{"sku": "A", "quantity": -1}]}
    two = {"id": 6, "line_items": [{"sku": "A", "quantity": -1}]}
    assert attribute_restock([two, one], Counter(A=1)) == ({5}, {5: [5, 6], 6: [5, 6]})
    assert attribute_restock([two, one], Counter(A=2)) == ({5, 6}, {})
    assert attribute_restock([two, one], Counter()) == (set(), {})


def test_a_refunds_net_leaves_out_the_tax_of_its_goods_shipping_and_fees_only():
    """What an ERP booking sales net (Tryton) credits: 29.75 + 5.83 refunded, 4.75 + 0.93 of it tax."""
    taxed = dict(refund(amount="35.58", lines=[("A", 2, Decimal("25.00"), Decimal("4.75"))]),
                 shipping_lines=[{"total": "-4.90", "total_tax": "-0.93"}], fee_lines=[])
    assert refund_net(taxed) == Decimal("29.90")
    assert refund_net(refund(amount="5.00")) == Decimal("5.00")  # a free amount: the shop names no tax in it
