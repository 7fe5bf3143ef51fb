"""Every public function and class in connector/ tells its caller what it needs in a docstring (shapes, units,
errors raised, side effects): the rule of issue 14, held for code still to be written.

Public: no leading underscore, at module level or inside a public class (methods and properties included).
Not checked: connector/migrations (Alembic revisions; each module's docstring says what it changes, and
`upgrade`/`downgrade` are Alembic's hooks).
"""
from __future__ import annotations

import ast
from pathlib import Path

CONNECTOR = Path(__file__).resolve().parents[2] / "connector"

# Documented by the branch that reworks them (issue 14): the lead empties this at merge. Exact: a name
# listed here that has a docstring by now, or no longer exists, fails the test too, so the list only shrinks.
NOT_YET_DOCUMENTED = {
}


def public_definitions(tree: ast.Module):
    """(qualified name, line, has a docstring) of each public function and class, nested in public classes."""
    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and not node.name.startswith("_"):
                yield prefix + node.name, node.lineno, ast.get_docstring(node) is not None
                if isinstance(node, ast.ClassDef):
                    yield from walk(node.body, f"{prefix}{node.name}.")
    yield from walk(tree.body, "")


def modules():
    for path in sorted(CONNECTOR.rglob("*.py")):
        relative = path.relative_to(CONNECTOR).as_posix()
        if not relative.startswith("migrations/"):
            yield relative, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def test_every_public_function_and_class_in_connector_has_a_docstring():
    undocumented, stale, seen = [], [], set()
    for relative, tree in modules():
        seen.add(relative)
        allowed = NOT_YET_DOCUMENTED.get(relative, set())
        found = set()
        for name, line, documented in public_definitions(tree):
            found.add(name)
            if name in allowed:
                if documented:
                    stale.append(f"connector/{relative}: {name} is documented now; drop it from NOT_YET_DOCUMENTED")
            elif not documented:
                undocumented.append(f"connector/{relative}:{line}: {name}")
        stale += [f"connector/{relative}: {name} no longer exists; drop it from NOT_YET_DOCUMENTED"
                  for name in sorted(allowed - found)]
    stale += [f"connector/{f} no longer exists; drop it from NOT_YET_DOCUMENTED"
              for f in sorted(set(NOT_YET_DOCUMENTED) - seen)]
    assert not undocumented, ("public names without a docstring (say what a caller needs: shapes, units, "
                              "errors, side effects):\n" + "\n".join(undocumented))
    assert not stale, "\n".join(stale)

