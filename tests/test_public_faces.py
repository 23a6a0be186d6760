"""Each package's public face is its `__init__`: it declares `__all__`, every name in it exists, and
no module outside a package imports the package's private (`_name`) modules."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import zhixiang

SOURCE = Path(zhixiang.__file__).parent
PACKAGES = sorted(
    ".".join(("zhixiang", *init.parent.relative_to(SOURCE).parts)).rstrip(".")
    for init in SOURCE.rglob("__init__.py")
)

# Imports of another package's private modules that exist today; their owners move them onto the
# package's public face and delete the entry. Nothing may be added here.
KNOWN_PRIVATE_IMPORTS: set[tuple[str, str]] = set()


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(("zhixiang", *(parts[:-1] if parts[-1] == "__init__" else parts)))


def _imported(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)  # `from zhixiang.x import _y` imports the module `zhixiang.x._y`
            names.update(f"{node.module}.{a.name}" for a in node.names if a.name.startswith("_"))
    return {n for n in names if n.startswith("zhixiang.")}


def _private_owner(module: str) -> str | None:
    """The package that keeps `module` private (`zhixiang.tickets` for `zhixiang.tickets._store`)."""
    parts = module.split(".")
    for i, part in enumerate(parts):
        if part.startswith("_") and not part.startswith("__"):
            return ".".join(parts[:i])
    return None


def private_imports() -> set[tuple[str, str]]:
    found = set()
    for path in SOURCE.rglob("*.py"):
        importer = _module_name(path)
        for module in _imported(ast.parse(path.read_text("utf-8"), str(path))):
            owner = _private_owner(module)
            if owner and not (importer == owner or importer.startswith(owner + ".")):
                found.add((importer, module))
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_declares_its_public_names_and_they_exist(package: str) -> None:
    module = importlib.import_module(package)
    exported = getattr(module, "__all__", None)
    assert exported is not None, f"{package}/__init__.py has no __all__"
    assert len(exported) == len(set(exported)), f"{package}.__all__ names something twice"
    missing = [name for name in exported if not hasattr(module, name)]
    assert missing == [], f"{package}.__all__ names what it does not define: {missing}"


def test_no_package_imports_another_packages_private_modules() -> None:
    new = private_imports() - KNOWN_PRIVATE_IMPORTS
    assert new == set(), (
        "import these from the package's __init__ (add them to its __all__) instead: "
        + ", ".join(f"{importer} → {module}" for importer, module in sorted(new))
    )


def test_the_check_sees_a_private_import() -> None:
    tree = ast.parse(
        "from zhixiang.tickets._store import TicketStore\n"
        "import zhixiang.rules._compile\n"
        "from zhixiang.datahub import _audit, read_entities\n"
    )
    modules = _imported(tree)
    assert {_private_owner(m) for m in modules} == {
        None,
        "zhixiang.tickets",
        "zhixiang.rules",
        "zhixiang.datahub",
    }
