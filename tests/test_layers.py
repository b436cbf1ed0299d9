"""The README's package map is the law: every import in ``src/usi`` is one the map allows.

The map (README, "Package map") names per package what it may import; the rows are in
layer order and a package may only name rows above it, so obeying the map means no cycle
between packages. Imports inside functions count (a local import reaching up is a hidden
cycle); imports under ``if TYPE_CHECKING:`` do not (they never run).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
EVERY_PACKAGE_ABOVE = "every package above"

PackageMap = dict[str, frozenset[str] | None]  # None: every package above


def read_map(readme: str) -> tuple[list[str], PackageMap]:
    """(rows in order, package → what it may import) from the README's "Package map" table."""
    section = readme.split("### Package map", 1)[1].split("\n## ", 1)[0]
    order: list[str] = []
    allowed: PackageMap = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 3 or not cells[0].startswith("`"):
            continue
        package = cells[0].strip("`")
        order.append(package)
        if cells[2] == EVERY_PACKAGE_ABOVE:
            allowed[package] = None
        else:
            allowed[package] = frozenset(re.findall(r"`([\w.]+)`", cells[2]))
    return order, allowed


def module_name(path: Path, src: Path) -> str:
    parts = list(path.relative_to(src).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def imported_modules(path: Path, src: Path, known: set[str]) -> Iterator[tuple[str, int]]:
    """Every module ``path`` imports, anywhere in the file except under ``if TYPE_CHECKING:``.

    ``from a import b`` imports the module ``a.b`` when ``known`` has one, else ``a`` itself.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = module_name(path, src)
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]

    def walk(node: ast.AST) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                for orelse in child.orelse:
                    yield from walk_one(orelse)
                continue
            yield from walk_one(child)

    def walk_one(node: ast.AST) -> Iterator[tuple[str, int]]:
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, *([node.module] if node.module else [])])
            else:
                module = node.module or ""
            for alias in node.names:
                sub = f"{module}.{alias.name}"
                yield (sub if sub in known else module), node.lineno
        yield from walk(node)

    yield from walk(tree)


def owner(module: str, packages: set[str]) -> str | None:
    """The map's package that owns ``module`` (the longest matching row), None if outside usi."""
    if module == "tau2" or module.startswith("tau2."):
        return "tau2"
    if module == "usi.__main__":
        return "usi.cli"
    matches = [p for p in packages if module == p or module.startswith(p + ".")]
    return max(matches, key=len, default=None)


def violations(src: Path, order: list[str], allowed: PackageMap) -> list[str]:
    """Every import the map does not allow, as ``module:line imports target``."""
    packages = set(order)
    rank = {package: i for i, package in enumerate(order)}
    found = []
    known = {module_name(path, src) for path in src.rglob("*.py")}
    # A package's export stub (usi.exports) is imported at run time, name by name.
    for path in sorted([*src.rglob("*.py"), *src.rglob("__init__.pyi")]):
        module = module_name(path, src)
        mine = owner(module, packages)
        if mine is None:
            found.append(f"{module}: in no row of the package map")
            continue
        for target, line in imported_modules(path, src, known):
            theirs = owner(target, packages | {"tau2"})
            if theirs is None or theirs == mine:
                continue
            may = allowed[mine]
            if may is None:
                ok = theirs == "tau2" or rank.get(theirs, len(order)) < rank[mine]
            else:
                ok = theirs in may
            if not ok:
                found.append(f"{module}:{line} imports {target} ({mine} may not import {theirs})")
    return found


def layering_errors(order: list[str], allowed: PackageMap) -> list[str]:
    """Rows that name a package below themselves (or one not in the map): what allows a cycle."""
    rank = {package: i for i, package in enumerate(order)}
    errors = []
    for package, may in allowed.items():
        for other in may or ():
            if other == "tau2":
                continue
            if other not in rank:
                errors.append(f"{package} names {other}, which has no row")
            elif rank[other] >= rank[package]:
                errors.append(f"{package} names {other}, which is not above it")
    return errors


@pytest.fixture(scope="module")
def package_map() -> tuple[list[str], PackageMap]:
    return read_map((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_map_has_a_row_for_every_package(package_map: tuple[list[str], PackageMap]) -> None:
    order, _ = package_map
    packages = {
        "usi." + p.name for p in (SRC / "usi").iterdir() if (p / "__init__.py").is_file()
    } | {"usi." + p.stem for p in (SRC / "usi").glob("*.py") if not p.stem.startswith("__")}
    assert packages - set(order) == set()
    assert set(order) - packages == {"usi"}


def test_every_row_names_only_rows_above_it(package_map: tuple[list[str], PackageMap]) -> None:
    assert layering_errors(*package_map) == []


def test_the_code_obeys_the_map(package_map: tuple[list[str], PackageMap]) -> None:
    assert violations(SRC, *package_map) == []


def test_tau2_is_imported_only_where_the_map_says(
    package_map: tuple[list[str], PackageMap],
) -> None:
    order, allowed = package_map
    importers = {p for p in order if allowed[p] is not None and "tau2" in (allowed[p] or ())}
    assert importers == {"usi.tau"}


# The checker itself: a broken checker (one that skipped function bodies, or read
# TYPE_CHECKING imports, or compared names instead of ranks) must fail these.

MAP = """### Package map

| package | owns | may import |
|---|---|---|
| `pkg.low` | the bottom | — |
| `pkg.mid` | the middle | `pkg.low` |
| `pkg.top` | the top | every package above |

## Next
"""


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    src = tmp_path / "src"
    for name, text in files.items():
        path = src / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return src


def _base() -> dict[str, str]:
    return {
        "pkg/__init__.py": "",
        "pkg/low/__init__.py": "",
        "pkg/mid/__init__.py": "from pkg.low import x\n",
        "pkg/top/__init__.py": "import pkg.mid\nfrom pkg.low import y\n",
    }


def test_the_checker_reads_the_map() -> None:
    order, allowed = read_map(MAP)
    assert order == ["pkg.low", "pkg.mid", "pkg.top"]
    assert allowed == {"pkg.low": frozenset(), "pkg.mid": frozenset({"pkg.low"}), "pkg.top": None}


def test_the_checker_passes_a_tree_that_obeys(tmp_path: Path) -> None:
    order, allowed = read_map(MAP)
    order.insert(0, "pkg")
    allowed["pkg"] = frozenset()
    assert violations(_tree(tmp_path, _base()), order, allowed) == []


def test_the_checker_sees_an_import_inside_a_function(tmp_path: Path) -> None:
    order, allowed = read_map(MAP)
    order.insert(0, "pkg")
    allowed["pkg"] = frozenset()
    files = _base() | {"pkg/low/deep.py": "def f():\n    if True:\n        from pkg.mid import z\n"}
    assert violations(_tree(tmp_path, files), order, allowed) == [
        "pkg.low.deep:3 imports pkg.mid (pkg.low may not import pkg.mid)"
    ]


def test_the_checker_skips_type_checking_but_not_its_else(tmp_path: Path) -> None:
    order, allowed = read_map(MAP)
    order.insert(0, "pkg")
    allowed["pkg"] = frozenset()
    text = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from pkg.top import T\nelse:\n    from pkg.mid import M\n"
    )
    files = _base() | {"pkg/low/types.py": text}
    assert violations(_tree(tmp_path, files), order, allowed) == [
        "pkg.low.types:5 imports pkg.mid (pkg.low may not import pkg.mid)"
    ]


def test_the_checker_resolves_relative_imports_and_modules_named_in_from(tmp_path: Path) -> None:
    order, allowed = read_map(MAP)
    order.insert(0, "pkg")
    allowed["pkg"] = frozenset()
    files = _base() | {
        "pkg/low/a.py": "from .. import mid\nfrom . import c\n",
        "pkg/low/c.py": "",
        "pkg/mid/b.py": "from ..top import t\n",
    }
    assert violations(_tree(tmp_path, files), order, allowed) == [
        "pkg.low.a:1 imports pkg.mid (pkg.low may not import pkg.mid)",
        "pkg.mid.b:1 imports pkg.top (pkg.mid may not import pkg.top)",
    ]


def test_a_row_naming_a_row_below_it_is_a_layering_error() -> None:
    order, allowed = read_map(
        MAP.replace("| `pkg.low` | the bottom | — |", "| `pkg.low` | x | `pkg.mid` |")
    )
    assert layering_errors(order, allowed) == ["pkg.low names pkg.mid, which is not above it"]
