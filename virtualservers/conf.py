"""Settings read once: each feature resolves the LVSADMIN_* settings it uses in one conf module,
into a typed record, through `resolved_once`; and the settings every layer shares: the check
programs' (which the MONITORING SCRIPTS form, the worker and the notifications all obey), where
the published lvs.cf lives (written by Apply, read by the worker, applylvs and the real servers'
set-up) and the language of text written with nobody reading."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from django.conf import settings
from django.core.signals import setting_changed

T = TypeVar("T")
_RESOLVED: list[functools._lru_cache_wrapper] = []


def resolved_once(read: Callable[[], T]) -> Callable[[], T]:
    """`read()` runs once; a settings change (override_settings, the tests' `settings`) reads
    again. Settings do not change in a running process otherwise."""
    cached = functools.cache(read)
    _RESOLVED.append(cached)
    return cached


def _forget(**_kwargs) -> None:
    for cached in _RESOLVED:
        cached.cache_clear()


setting_changed.connect(_forget, dispatch_uid="lvsadmin-resolved-settings")


@dataclass(frozen=True)
class CheckPrograms:
    """Where sending programs (and the notify program) may live, and who runs them."""

    dirs: tuple[str, ...]  # LVSADMIN_CHECK_PROGRAM_DIRS
    user: str  # LVSADMIN_CHECK_USER
    root_dirs: tuple[str, ...]  # LVSADMIN_CHECK_ROOT_DIRS


@resolved_once
def check_programs() -> CheckPrograms:
    return CheckPrograms(
        dirs=tuple(settings.LVSADMIN_CHECK_PROGRAM_DIRS),
        user=settings.LVSADMIN_CHECK_USER,
        root_dirs=tuple(settings.LVSADMIN_CHECK_ROOT_DIRS),
    )


@resolved_once
def lvs_cf() -> Path:
    """LVSADMIN_LVS_CF: the published lvs.cf."""
    return Path(settings.LVSADMIN_LVS_CF)


@resolved_once
def written_language() -> str:
    """LVSADMIN_LANGUAGE: the language of notifications (nobody's browser to follow)."""
    return settings.LVSADMIN_LANGUAGE
