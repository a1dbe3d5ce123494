"""Import direction: plugins see only the core's public helpers; only leakwatch/db touches asyncpg."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PLUGIN_MAY_IMPORT = {"leakwatch.models", "leakwatch.protocols", "leakwatch.index", "leakwatch.keys", "leakwatch.http",
                     "leakwatch.normalise", "leakwatch.population", "matchers", "sources"}


def imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def test_plugins_import_only_the_public_core():
    """matchers/ and sources/ import leakwatch.models, protocols and helpers, never db, engine or cli."""
    for path in list((ROOT / "matchers").glob("*.py")) + list((ROOT / "sources").glob("*.py")):
        for mod in imports(path):
            if mod.startswith("leakwatch"):
                assert mod in PLUGIN_MAY_IMPORT, f"{path.name} imports {mod}"


def test_only_the_db_package_imports_asyncpg():
    """asyncpg stays behind leakwatch/db."""
    for path in (ROOT / "leakwatch").rglob("*.py"):
        if "db" in path.relative_to(ROOT / "leakwatch").parts[:1]:
            continue
        assert not any(m.split(".")[0] == "asyncpg" for m in imports(path)), f"{path} imports asyncpg"


def test_core_never_imports_plugins_by_name():
    """The core finds matchers and sources through entry points only."""
    for path in (ROOT / "leakwatch").rglob("*.py"):
        for mod in imports(path):
            assert mod.split(".")[0] not in ("matchers", "sources"), f"{path} imports {mod}"


def test_only_the_alerts_module_may_import_telegram():
    """python-telegram-bot stays behind one module."""
    for path in (ROOT / "leakwatch").rglob("*.py"):
        if path.stem == "alerts":
            continue
        assert "telegram" not in {m.split(".")[0] for m in imports(path)}, f"{path} imports telegram"
