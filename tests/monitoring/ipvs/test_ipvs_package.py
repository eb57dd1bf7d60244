"""The kernel package's import structure: one direction, no circle, and pyroute2 and the netlink
driver kept out of the web process."""

from __future__ import annotations

import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
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


def module_name(path: Path) -> str:
    """drivers/base.py -> "drivers.base"; drivers/__init__.py -> "drivers"."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_imports() -> dict[str, set[str]]:
    """Each module of monitoring.ipvs (drivers/ included) -> the names of monitoring.ipvs it
    imports (modules, and "drivers.get_driver" for the chooser)."""
    paths = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    paths.pop("", None)  # the package's own __init__
    graph = {}
    for name, path in paths.items():
        found = {
            module.removeprefix("monitoring.ipvs.")
            for module in imported_modules(path)
            if module.startswith("monitoring.ipvs.")
            and (module.removeprefix("monitoring.ipvs.") in paths or module.endswith(".get_driver"))
        }
        # `from monitoring.ipvs.drivers import procfs` imports drivers.procfs, not the chooser.
        graph[name] = {m for m in found if not any(o.startswith(m + ".") for o in found)}
    return graph


def test_the_package_imports_have_no_circle():
    # A package's __init__ counts as its own module: drivers/__init__ imports drivers.base and
    # drivers.memory, which is no circle.
    graph = {
        name: {m for m in imports if m != "drivers.get_driver"}
        for name, imports in package_imports().items()
    }
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        raise AssertionError(f"import circle: {exc.args[1]}") from None


def test_base_needs_only_the_tables_plain_types_and_no_driver_imports_the_chooser():
    graph = package_imports()
    assert graph["drivers.base"] == {"table"}
    assert sorted(name for name, imports in graph.items() if "drivers.get_driver" in imports) == [
        "writer"  # the one writer opens the driver a setting names; no driver does
    ]


def test_only_the_addresses_module_imports_pyroute2():
    importers = sorted(
        str(path.relative_to(ROOT))
        for top in ("lvsadmin", "monitoring", "realservers", "virtualservers")
        for path in (ROOT / top).rglob("*.py")
        if any(m.split(".")[0] == "pyroute2" for m in imported_modules(path))
    )
    assert importers == ["monitoring/ipvs/drivers/addresses.py"]


def test_the_web_process_never_loads_the_kernel_driver():
    # A fresh interpreter: this test process may have imported anything already.
    code = (
        "import sys, django; django.setup();"
        "import lvsadmin.urls, monitoring.ipvs.drivers, monitoring.ipvs.converge;"
        "print(sorted(m for m in sys.modules if m == 'pyroute2' or m.startswith("
        "('monitoring.ipvs.drivers.kernel', 'monitoring.ipvs.drivers.netlink', 'monitoring.ipvs.drivers.codec', 'monitoring.ipvs.drivers.ipvs_family', 'monitoring.ipvs.drivers.addresses'))))"
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
