"""User management in /admin/: one's own password only with the old one."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

User = get_user_model()


class LvsUserAdmin(UserAdmin):
    # What the accounts did, not settings: shown, never edited (the admin's date-and-time pair
    # of inputs also had no label of their own: axe's `label`, critical).
    readonly_fields = ("last_login", "date_joined")

    def user_change_password(
        self, request: HttpRequest, id: str, form_url: str = ""
    ) -> HttpResponse:
        """Setting ANOTHER user's password needs no old one (that is what a reset is; their
        sessions end, as the session hash follows the password). One's OWN goes through the
        page that asks for the old password, superusers included: a stolen session must not be
        enough to take over the account."""
        if str(request.user.pk) == str(id):
            return redirect("password_change")
        return super().user_change_password(request, id, form_url)


admin.site.unregister(User)
admin.site.register(User, LvsUserAdmin)
