"""The dependency direction the README draws, checked on the code's real import graph.

Contracts live in pyproject.toml ([tool.importlinter]): the apps depend one way (lvsadmin ->
monitoring -> realservers -> virtualservers), the Django-free cores import no Django and no app
module, the kernel side and the checks do not import each other, and only the kernel package
reaches pyroute2 (the web process never loads it). An import against the direction fails here.
"""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_every_import_runs_in_the_documented_direction():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_a_core_module_importing_django_would_be_caught(tmp_path):
    # The check itself can fail: a copy of the tree with one import against the direction.
    import shutil

    copy = tmp_path / "tree"
    shutil.copytree(
        REPO,
        copy,
        ignore=shutil.ignore_patterns(".git", ".venv", "var", "artifacts", "static", "*.pyc"),
    )
    table = copy / "monitoring" / "ipvs" / "table.py"
    table.write_text(table.read_text() + "\nimport django.conf  # against the direction\n")
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=copy, capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    assert "monitoring.ipvs is not allowed to import django" in result.stdout
