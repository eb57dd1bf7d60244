"""The pages are ready for translation: USE_I18N is on, so every page template marks its text."""

from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
# The Django admin's own templates we extend are translated by Django.
PAGES = sorted(p for p in TEMPLATES.rglob("*.html") if "admin" not in p.parts)


@pytest.mark.parametrize("path", PAGES, ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_page_template_loads_the_translation_tags(path):
    text = path.read_text(encoding="utf-8")
    assert "{% load i18n" in text
    assert "{% translate" in text or "{% blocktranslate" in text


def test_the_tab_labels_are_marked_for_translation():
    base = (TEMPLATES / "base.html").read_text(encoding="utf-8")
    for label in ("CONTROL/MONITORING", "GLOBAL SETTINGS", "REDUNDANCY", "VIRTUAL SERVERS"):
        assert f'{{% translate "{label}" %}}' in base
