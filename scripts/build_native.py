"""Build the product's C extension modules in place, for the Python that runs this script (the
venv's): `make native`. One module today, the connect scanner's hot path
(monitoring/checks/_plainconnect.c: why it is native is said there).

The compiler is called directly with the interpreter's own include directory and file suffix
(sysconfig): one source file and no dependencies need no build system. Debian's `gcc` and
`python3-dev` come from scripts/install-system-deps.sh.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = {"monitoring/checks/_plainconnect": "monitoring/checks/_plainconnect.c"}
FLAGS = ["-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-Wno-unused-parameter",
         "-Wno-missing-field-initializers", "-fno-strict-aliasing"]  # fmt: skip


def command(module: str, source: str) -> list[str]:
    compiler = shlex.split(sysconfig.get_config_var("CC") or "cc")
    target = ROOT / (module + sysconfig.get_config_var("EXT_SUFFIX"))
    include = sysconfig.get_paths()["include"]
    return [*compiler, *FLAGS, f"-I{include}", str(ROOT / source), "-o", str(target)]


def built(module: str, source: str) -> bool:
    """Whether the module is newer than its source (then it is not built again)."""
    target = ROOT / (module + sysconfig.get_config_var("EXT_SUFFIX"))
    return target.exists() and target.stat().st_mtime >= (ROOT / source).stat().st_mtime


def main() -> int:
    for module, source in MODULES.items():
        if built(module, source):
            continue
        argv = command(module, source)
        print(" ".join(argv))
        done = subprocess.run(argv)
        if done.returncode != 0:
            print(f"building {module} failed (exit code {done.returncode})", file=sys.stderr)
            return done.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main())
