"""The adapters implement the ports the use-cases are written against: every method of the shop port
and of the ERP port exists on each adapter with the same parameters."""
from __future__ import annotations

import inspect

import pytest

from connector.erp.protocol import ErpAdapter
from connector.erp.rest import RestErp
from connector.erp.tryton import TrytonErp
from connector.woo.client import WooClient
from connector.woo.port import ShopPort


def methods(protocol) -> list[str]:
    return [n for n, v in vars(protocol).items() if callable(v) and not n.startswith("_")]


@pytest.mark.parametrize("port, adapter", [(ShopPort, WooClient), (ErpAdapter, RestErp), (ErpAdapter, TrytonErp)])
def test_each_adapter_has_every_method_of_its_port_with_the_same_parameters(port, adapter):
    assert methods(port)
    for name in methods(port):
        wanted = list(inspect.signature(getattr(port, name)).parameters)
        assert list(inspect.signature(getattr(adapter, name)).parameters) == wanted, f"{adapter.__name__}.{name}"
