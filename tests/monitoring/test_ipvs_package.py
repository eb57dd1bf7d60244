"""The kernel package's import structure: one direction, no circle, and pyroute2 and the netlink
driver kept out of the web process."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "monitoring" / "ipvs"


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def package_imports() -> dict[str, set[str]]:
    """Each module of monitoring.ipvs -> the modules of monitoring.ipvs it imports."""
    names = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    return {
        name: {
            module.removeprefix("monitoring.ipvs.")
            for module in imported_modules(PACKAGE / f"{name}.py")
            if module.removeprefix("monitoring.ipvs.") in names
        }
        for name in names
    }


def test_the_package_imports_have_no_circle():
    try:
        tuple(TopologicalSorter(package_imports()).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {exc.args[1]}") from None


def test_base_needs_only_the_tables_plain_types_and_no_driver_imports_the_chooser():
    graph = package_imports()
    assert graph["base"] == {"table"}
    assert sorted(name for name, imports in graph.items() if "drivers" in imports) == []


def test_only_the_addresses_module_imports_pyroute2():
    importers = sorted(
        str(path.relative_to(ROOT))
        for top in ("lvsadmin", "monitoring", "realservers", "virtualservers")
        for path in (ROOT / top).rglob("*.py")
        if any(m.split(".")[0] == "pyroute2" for m in imported_modules(path))
    )
    assert importers == ["monitoring/ipvs/addresses.py"]


def test_the_web_process_never_loads_the_kernel_driver():
    # A fresh interpreter: this test process may have imported anything already.
    code = (
        "import sys, django; django.setup();"
        "import lvsadmin.urls, monitoring.ipvs.drivers, monitoring.ipvs.engine;"
        "print(sorted(m for m in sys.modules if m == 'pyroute2' or m.startswith("
        "('monitoring.ipvs.kernel', 'monitoring.ipvs.netlink', 'monitoring.ipvs.ipvs_'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={"DJANGO_SETTINGS_MODULE": "lvsadmin.settings", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "[]"
