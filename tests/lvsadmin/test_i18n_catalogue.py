"""The Spanish catalogue is complete: msgfmt counts no untranslated and no fuzzy entry, and
makemessages (run on a copy of the tree, with the Makefile's flags) finds no text that the
catalogue lacks, and none it holds that the code no longer has."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE = ROOT / "locale" / "es" / "LC_MESSAGES" / "django.po"
# What makemessages reads: the apps, the pages, the scripts of static/ (djangojs), manage.py.
SOURCES = ["lvsadmin", "monitoring", "realservers", "virtualservers", "templates", "manage.py"]


def test_gettext_is_installed():
    # scripts/install-system-deps.sh installs it for `make run` and `make test`.
    assert shutil.which("msgfmt"), "msgfmt missing: apt-get install gettext"


def statistics(po: Path) -> dict[str, int]:
    """msgfmt's own count: "N translated messages, M fuzzy translations, K untranslated
    messages." (a kind with none is left out of the sentence)."""
    result = subprocess.run(
        ["msgfmt", "--check-format", "--statistics", "-o", os.devnull, str(po)],
        capture_output=True,
        text=True,
        env={**os.environ, "LC_ALL": "C"},
    )
    assert result.returncode == 0, result.stderr
    counts = {"translated": 0, "fuzzy": 0, "untranslated": 0}
    for number, kind in re.findall(r"(\d+) (translated|fuzzy|untranslated)", result.stderr):
        counts[kind] = int(number)
    return counts


def msgids(po: Path) -> set[tuple[str | None, str]]:
    """(context, msgid) of every entry but the header."""
    found: set[tuple[str | None, str]] = set()
    for block in po.read_text(encoding="utf-8").split("\n\n"):
        parts: dict[str, list[str]] = {}
        current = None
        for line in block.splitlines():
            match = re.match(r"^(msgctxt|msgid|msgid_plural|msgstr(?:\[\d\])?) (\".*\")$", line)
            if match:
                current = match[1]
                parts[current] = [match[2]]
            elif line.startswith('"') and current:
                parts[current].append(line)
        if "msgid" not in parts:
            continue
        msgid = "".join(ast.literal_eval(p) for p in parts["msgid"])
        if msgid:
            context = "".join(ast.literal_eval(p) for p in parts.get("msgctxt", [])) or None
            found.add((context, msgid))
    return found


def makemessages_flags() -> list[str]:
    """The flags `make makemessages` uses, read from the Makefile: one list for both."""
    text = (ROOT / "Makefile").read_text(encoding="utf-8").replace("\\\n", " ")
    match = re.search(r"^MAKEMESSAGES_FLAGS\s*:=\s*(.+)$", text, re.MULTILINE)
    assert match, "MAKEMESSAGES_FLAGS is gone from the Makefile"
    return match[1].split()


def test_the_spanish_catalogue_has_no_untranslated_or_fuzzy_entry():
    counts = statistics(CATALOGUE)
    assert counts["translated"] > 600
    assert counts["untranslated"] == 0, counts
    assert counts["fuzzy"] == 0, counts


def test_it_parses_msgfmts_statistics_for_every_kind(tmp_path):
    po = tmp_path / "x.po"
    po.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "a"\nmsgstr "b"\n\n#, fuzzy\nmsgid "c"\nmsgstr "d"\n\nmsgid "e"\nmsgstr ""\n',
        encoding="utf-8",
    )
    assert statistics(po) == {"translated": 1, "fuzzy": 1, "untranslated": 1}


def test_makemessages_finds_nothing_the_catalogue_lacks(tmp_path):
    copy = tmp_path / "tree"
    copy.mkdir()
    for name in [*SOURCES, "locale", "static"]:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, copy / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, copy / name)
    before = msgids(copy / "locale/es/LC_MESSAGES/django.po")
    state = tmp_path / "state"
    state.mkdir()
    env = {**os.environ, "LVSADMIN_STATE_DIR": str(state), "PYTHONPATH": str(copy)}
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "es", *makemessages_flags()],
        cwd=copy,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    after = msgids(copy / "locale/es/LC_MESSAGES/django.po")
    assert sorted(after - before) == [], (
        "marked but missing from the catalogue: run make makemessages"
    )
    assert sorted(before - after) == [], "in the catalogue but no longer in the code"
    assert statistics(copy / "locale/es/LC_MESSAGES/django.po")["untranslated"] == 0


def test_only_javascript_text_gets_a_djangojs_catalogue():
    """The one script (copy.js) takes its words from the page (data-copy-done/-failed, which the
    template translates), so there is no djangojs catalogue; a script that needs its own words
    must come with one."""
    scripts = sorted((ROOT / "static" / "lvsadmin").glob("*.js"))
    uses_gettext = [s.name for s in scripts if "gettext(" in s.read_text(encoding="utf-8")]
    djangojs = ROOT / "locale" / "es" / "LC_MESSAGES" / "djangojs.po"
    assert bool(uses_gettext) == djangojs.exists(), uses_gettext
    setup = (ROOT / "templates" / "realservers" / "setup.html").read_text(encoding="utf-8")
    assert 'data-copy-done="{% translate' in setup and 'data-copy-failed="{% translate' in setup
