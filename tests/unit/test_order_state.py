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
