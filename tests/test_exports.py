"""Each package's public names: written once (its ``__init__.pyi``), loaded on first use."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import pytest

from usi.exports import lazy_exports, read_stub

SRC = Path(__file__).resolve().parents[1] / "src"
STUBS = sorted(SRC.rglob("__init__.pyi"))
PACKAGES = [".".join(p.parent.relative_to(SRC).parts) for p in STUBS]


def test_the_public_packages_have_stubs() -> None:
    assert PACKAGES == [
        "usi",
        "usi.audit",
        "usi.data",
        "usi.fingerprint",
        "usi.metrics",
        "usi.report",
        "usi.run",
    ]


@pytest.mark.parametrize("package", PACKAGES)
def test_every_name_is_the_object_its_module_defines(package: str) -> None:
    stub = SRC.joinpath(*package.split("."), "__init__.pyi")
    exports = read_stub(package, stub)
    module = importlib.import_module(package)
    assert module.__all__ == list(exports)
    for name, (source, original) in exports.items():
        assert getattr(module, name) is getattr(importlib.import_module(source), original)
    assert set(exports) <= set(dir(module))
    with pytest.raises(AttributeError, match=f"module '{package}' has no attribute 'nope'"):
        module.nope  # noqa: B018


def test_importing_a_package_imports_none_of_its_names() -> None:
    code = (
        "import sys, usi, usi.metrics, usi.data, usi.report, usi.run, usi.audit\n"
        "print(sorted(m for m in ('pandas', 'scipy', 'tau2', 'pydantic', 'matplotlib')"
        " if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_stub_is_read_in_order_with_relative_modules(tmp_path: Path) -> None:
    stub = tmp_path / "__init__.pyi"
    stub.write_text(
        '"""doc"""\n'
        "from pkg.sub.a import x as x, y as why\n"
        "from .b import z as z\n"
        "from .. import top as top\n"
    )
    assert read_stub("pkg.sub", stub) == {
        "x": ("pkg.sub.a", "x"),
        "why": ("pkg.sub.a", "y"),
        "z": ("pkg.sub.b", "z"),
        "top": ("pkg", "top"),
    }


def test_a_stub_with_anything_but_re_exports_is_refused(tmp_path: Path) -> None:
    stub = tmp_path / "__init__.pyi"
    stub.write_text("from a import b as b\nX: int\n")
    with pytest.raises(ValueError, match=r"__init__.pyi:2: an export stub holds only re-exports"):
        read_stub("pkg", stub)


def test_a_loaded_name_is_cached_on_the_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "lazypkg"
    package.mkdir()
    (package / "impl.py").write_text("LOADS = []\nLOADS.append(1)\nVALUE = object()\n")
    (package / "__init__.pyi").write_text("from lazypkg.impl import VALUE as VALUE\n")
    (package / "__init__.py").write_text(
        "from usi.exports import lazy_exports\n"
        "__getattr__, __dir__, __all__ = lazy_exports(__name__, __file__)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    lazypkg = importlib.import_module("lazypkg")
    assert "lazypkg.impl" not in sys.modules
    first = lazypkg.VALUE
    assert "lazypkg.impl" in sys.modules
    assert vars(lazypkg)["VALUE"] is first is lazypkg.VALUE
    assert sys.modules["lazypkg.impl"].LOADS == [1]
    assert lazypkg.__all__ == ["VALUE"]
    assert lazy_exports("lazypkg", str(package / "__init__.py"))[2] == ["VALUE"]
