"""The ERP sandbox's reservation rules in process, including the restocking hook credit notes will use."""
from collections import Counter

from sandbox.erp import reservations
from sandbox.erp.store import Store, stock_id


def _store() -> Store:
    store = Store()
    for code in ("MAIN", "STORE2", "RETURNS"):
        store.inventory.put(stock_id("A", code), {"sku": "A", "warehouse": code, "on_hand": 3, "reserved": 1,
                                                  "safety_stock": 0})
    return store


def test_warehouse_choice_first_sellable_with_enough_else_first_sellable():
    store = _store()
    assert reservations.choose_warehouse(store, [{"sku": "A", "quantity": 2}]) == "MAIN"
    store.inventory.get(stock_id("A", "MAIN"))["reserved"] = 2
    assert reservations.choose_warehouse(store, [{"sku": "A", "quantity": 2}]) == "STORE2"
    assert reservations.choose_warehouse(store, [{"sku": "A", "quantity": 9}]) == "MAIN"
    assert reservations.choose_warehouse(store, [{"sku": "A", "quantity": 9}], "RETURNS") == "RETURNS"


def test_restock_adds_to_on_hand_and_every_change_bumps_the_row():
    store = _store()
    row_id = stock_id("A", "STORE2")
    stamp = store.inventory.view(row_id)["modified_at"]
    reservations.restock(store, "STORE2", Counter({"A": 2}))
    after = store.inventory.view(row_id)
    assert (after["on_hand"], after["reserved"]) == (5, 1) and after["modified_at"] > stamp
    reservations.ship_out(store, "STORE2", Counter({"A": 5}))
    assert (store.inventory.get(row_id)["on_hand"], store.inventory.get(row_id)["reserved"]) == (0, 0)


def test_reservation_stamp_is_later_than_every_earlier_row_version():
    store = _store()
    store.inventory.last_stamp += 10_000  # stamps ahead of the wall clock (many writes in one ms)
    stamp = reservations.reservation_stamp(store)
    reservations.reserve(store, "MAIN", Counter({"A": 1}), stamp)
    assert store.inventory._stamps[stock_id("A", "MAIN")] >= stamp > max(
        store.inventory._stamps[stock_id("A", c)] for c in ("STORE2", "RETURNS"))
