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


def calls_on(name: str) -> dict[str, str]:
    """Every method the code in connector/ and ops/ calls on an object named `name` (`woo.x(…)`,
    `self.woo.x(…)`, `services.woo.x(…)`), with one place it is called from."""
    import ast
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    found = {}
    for path in [*sorted((root / "connector").rglob("*.py")), *sorted((root / "ops").rglob("*.py"))]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value
                if (isinstance(owner, ast.Name) and owner.id == name) or \
                        (isinstance(owner, ast.Attribute) and owner.attr == name):
                    found.setdefault(node.func.attr, f"{path.relative_to(root)}:{node.lineno}")
    return found


@pytest.mark.parametrize("name, port", [("woo", ShopPort), ("erp", ErpAdapter)])
def test_the_use_cases_call_only_what_the_port_promises(name, port):
    # an in-memory fake written to the port must be enough for every use-case
    called = calls_on(name)
    assert called, f"no calls on {name} found: the scan is broken"
    missing = {m: where for m, where in called.items()
               if m not in methods(port) and not hasattr(dict, m)}  # `erp` is also a record's name
    assert not missing, f"called on {name} but not in {port.__name__}: {missing}"
