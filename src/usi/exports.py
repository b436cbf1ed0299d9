"""A package's public names, written once, loaded on first use.

Each public package lists what it exports in ONE place: the ``from … import name as name``
lines of its ``__init__.pyi``. Type checkers and editors read that stub (so every name keeps
its real type); at run time :func:`lazy_exports` reads the same lines and builds the
package's ``__getattr__`` (PEP 562), ``__dir__`` and ``__all__`` from them. A name is
imported when first used, so ``usi --help`` or a mistyped flag never pays for pandas,
scipy or τ²; before this, each package spelled every name three times (a ``TYPE_CHECKING``
import, a name → module table and ``__all__``), and the three copies drifted.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Exports = dict[str, tuple[str, str]]
"""Public name → (module, name in that module)."""


def read_stub(package: str, stub: Path) -> Exports:
    """The names the stub ``stub`` of ``package`` re-exports, in the stub's order.

    Only ``from module import name as name`` lines count (the stub's explicit re-export form);
    relative modules resolve against ``package``. Anything else in a stub is a mistake here.
    """
    exports: Exports = {}
    for node in ast.parse(stub.read_text(encoding="utf-8"), str(stub)).body:
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                exports[alias.asname or alias.name] = (module, alias.name)
        elif not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)):
            raise ValueError(f"{stub}:{node.lineno}: an export stub holds only re-exports")
    return exports


def lazy_exports(
    package: str, init_file: str
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``(__getattr__, __dir__, __all__)`` of ``package`` from the ``__init__.pyi`` beside
    its ``__init__.py`` (``init_file``: the package's ``__file__``)."""
    exports = read_stub(package, Path(init_file).with_suffix(".pyi"))

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(target[0]), target[1])
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__, list(exports)
