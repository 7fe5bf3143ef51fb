import pytest

from connector.sync import order_state as st


def test_the_happy_path_is_allowed():
    path = [st.RECEIVED, st.VALIDATED, st.SUBMITTED, st.IN_ERP, st.WRITTEN_BACK, st.CANCELLED]
    for a, b in zip(path, path[1:]):
        st.check(a, b)


@pytest.mark.parametrize("a, b", [(st.RECEIVED, st.IN_ERP), (st.QUARANTINED, st.SUBMITTED),
                                  (st.WRITTEN_BACK, st.SUBMITTED), (st.WRITTEN_BACK, st.IN_ERP), (st.CANCELLED, st.VALIDATED)])
def test_shortcuts_are_refused(a, b):
    with pytest.raises(st.IllegalTransition):
        st.check(a, b)


@pytest.mark.parametrize("state", sorted(st.NOT_IN_ERP))
def test_every_state_of_an_order_not_in_the_erp_may_be_skipped_when_the_shop_moves_it_out(state):
    st.check(state, st.SKIPPED)  # a quarantined order whose shop status becomes `pending` or `failed`


@pytest.mark.parametrize("state", [st.IN_ERP, st.WRITTEN_BACK, st.CANCELLED, st.ATTENTION, st.CONFLICT, st.GONE])
def test_an_order_in_the_erp_or_needing_a_person_is_never_skipped(state):
    with pytest.raises(st.IllegalTransition):
        st.check(state, st.SKIPPED)


def test_every_state_is_in_the_table_and_every_target_is_a_state():
    states = set(st.TRANSITIONS)
    assert st.NOT_IN_ERP | st.IMPORTED | st.FOLLOWED | {st.CONFLICT, st.GONE} == states
    assert all(targets <= states for targets in st.TRANSITIONS.values())


@pytest.mark.parametrize("new", [st.VALIDATED, st.QUARANTINED, st.SKIPPED])
def test_only_an_order_cancelled_before_import_may_be_reopened(new):
    st.check(st.CANCELLED, new, bound=False)  # no ERP order: the shop re-opened it, import it like a new one
    with pytest.raises(st.IllegalTransition):
        st.check(st.CANCELLED, new, bound=True)  # its ERP order is cancelled: not revived
    with pytest.raises(st.IllegalTransition):
        st.check(st.CANCELLED, new)


def test_a_cancelled_order_never_jumps_into_the_erp_unvalidated():
    for new in (st.SUBMITTED, st.IN_ERP, st.WRITTEN_BACK, st.RECEIVED):
        with pytest.raises(st.IllegalTransition):
            st.check(st.CANCELLED, new, bound=False)
