"""`make run` prints its banner only when the demo order went all the way to the ERP; otherwise one line
says where it stopped."""
from types import SimpleNamespace

from connector.db import utcnow
from connector.models import OrderSync
from connector.sync import order_state as st
from ops.bootstrap import _demo_order_imported


def order(db, order_id, state, reason=None):
    with db.session() as s:
        s.add(OrderSync(woo_order_id=order_id, state=state, reason=reason, attempts=1, created_at=utcnow(),
                        updated_at=utcnow()))


def test_the_demo_order_counts_only_once_written_back_and_a_quarantine_is_said_in_one_line(db):
    services = SimpleNamespace(db=db)
    order(db, 44, st.WRITTEN_BACK)
    assert _demo_order_imported(services, 44, timeout=5) is None
    order(db, 45, st.QUARANTINED, "line 1 'A,B': SKU A,B is unknown in the ERP")
    said = _demo_order_imported(services, 45, timeout=5)
    assert said.startswith("demo order #45 did not reach the ERP (it is quarantined: line 1 'A,B'") and "\n" not in said
    assert "no worker has taken it yet" in _demo_order_imported(services, 46, timeout=0.5)
