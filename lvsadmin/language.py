"""The page language: the browser's (Accept-Language, through Django's LocaleMiddleware) unless
the user pinned one on the Password page; that choice is stored per user (UserPreference)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from lvsadmin.auth import OldPasswordForm
from lvsadmin.models import UserPreference


def pinned_language(user: Any) -> str:
    """The language `user` pinned, or "" (follow the browser)."""
    if not getattr(user, "is_authenticated", False):
        return ""
    try:
        return user.preference.language
    except UserPreference.DoesNotExist:
        return ""


class UserLanguageMiddleware:
    """After authentication: a logged-in user's pinned language replaces the browser's choice
    (LocaleMiddleware, before it, chose from Accept-Language; its response side then writes
    Content-Language for whichever is active)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = pinned_language(request.user)
        if language and translation.check_for_language(language):
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)


class LanguageForm(forms.Form):
    language = forms.ChoiceField(
        label=gettext_lazy("Language"),
        required=False,
        choices=[("", gettext_lazy("As the browser asks (Accept-Language)")), *settings.LANGUAGES],
        help_text=gettext_lazy("The language of every page for you, kept for your account."),
    )


def language_form(request: HttpRequest) -> LanguageForm:
    return LanguageForm(initial={"language": pinned_language(request.user)})


class PasswordChangeView(auth_views.PasswordChangeView):
    """The Password page: the password form and, beside it, the language choice."""

    template_name = "accounts/password_change.html"
    success_url = "/accounts/password/change/done/"
    # The old password counts as a login attempt of the account (lvsadmin.auth's lockout).
    form_class = OldPasswordForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "language_form": language_form(self.request)}


class PasswordChangeDoneView(auth_views.PasswordChangeDoneView):
    template_name = "accounts/password_change.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "language_form": language_form(self.request)}


@require_POST
def set_language(request: HttpRequest) -> HttpResponse:
    """Store the user's choice (blank: follow the browser again) and show it at once."""
    form = LanguageForm(request.POST)
    if form.is_valid():
        language = form.cleaned_data["language"]
        UserPreference.objects.update_or_create(user=request.user, defaults={"language": language})
        translation.activate(language or translation.get_language_from_request(request))
        messages.success(request, _("Language saved."))
    else:
        messages.error(request, _("That language is not offered."))
    return redirect("password_change")
