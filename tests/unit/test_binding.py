"""The Binder: bindings are created, updated, unbound and looked up by kind; two writers inserting the
same binding at once both succeed and the later values win."""
from __future__ import annotations

from sqlalchemy import event

from connector import binding
from connector.db import Database


def test_upsert_creates_then_updates_only_the_columns_given(db):
    binding.upsert(db, binding.PRODUCT, {"P-1": {"sku": "A", "woo_id": 11, "sync_hash": "h1"}})
    binding.upsert(db, binding.PRODUCT, {"P-1": {"sync_hash": "h2"}})
    got = binding.get(db, binding.PRODUCT, ["P-1", "P-2"])
    assert list(got) == ["P-1"]
    assert (got["P-1"].sku, got["P-1"].woo_id, got["P-1"].sync_hash) == ("A", 11, "h2")


def test_kinds_are_separate_and_lookups_see_only_bound_records(db):
    binding.upsert(db, binding.PRODUCT, {"P-1": {"sku": "A", "woo_id": 11}, "P-2": {"sku": "B"}})
    binding.upsert(db, binding.STOCK, {"A": {"sku": "A", "woo_id": 11, "sync_hash": "5"}})
    assert binding.woo_ids(db, binding.PRODUCT, ["P-1", "P-2"]) == {"P-1": 11}
    assert set(binding.by_sku(db, ["A", "B"])) == {"A", "B"}
    assert set(binding.by_sku(db, ["A", "B"], bound_only=True)) == {"A"}
    binding.unbind(db, binding.PRODUCT, "P-1")
    assert binding.woo_ids(db, binding.PRODUCT, ["P-1"]) == {}
    assert binding.get(db, binding.STOCK, ["A"])["A"].sync_hash == "5"


def test_a_concurrent_insert_of_the_same_binding_is_settled_as_an_update(db, database_url):
    other = Database(database_url)

    def the_other_writer_inserts_first(session, _flush_context, _instances):
        binding.upsert(other, binding.STOCK, {"A": {"sku": "A", "woo_id": 1, "sync_hash": "3"}})

    event.listen(db.sessions.class_, "before_flush", the_other_writer_inserts_first, once=True)
    try:
        binding.upsert(db, binding.STOCK, {"A": {"sku": "A", "woo_id": 1, "sync_hash": "4"}})
    finally:
        other.engine.dispose()
    assert binding.get(db, binding.STOCK, ["A"])["A"].sync_hash == "4"


def test_applied_shipments_tell_applied_from_quarantined(db):
    binding.record_shipment(db, "SH-1", 8, "2026-01-01T00:00:00.000Z")
    binding.record_shipment(db, "SH-2", 9, "2026-01-02T00:00:00.000Z", reason="order gone")
    assert binding.applied_shipments(db, ["SH-1", "SH-2", "SH-3"]) == {"SH-1": None,
                                                                       "SH-2": "2026-01-02T00:00:00.000Z"}
