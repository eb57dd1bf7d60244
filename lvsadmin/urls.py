"""URL map. Each app owns its pages; this file only mounts them."""

from django.conf import settings
from django.contrib import admin
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path, re_path
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView
from django.views.static import serve

from lvsadmin import auth, language, metrics
from monitoring.api.urls import not_found

# An /api/ URL that matches nothing answers in JSON, as the API's own 404s do.
handler404 = not_found

urlpatterns = [
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
    # Every user, administrators included, changes their own password with the old one.
    # The same page holds the user's language choice (lvsadmin/language.py).
    path(
        "accounts/password/change/",
        language.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/change/done/",
        language.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/language/", language.set_language, name="language"),
    # The admin's own password change is this page too: one form, whose old password counts
    # as a login attempt (lvsadmin.auth.OldPasswordForm); the admin's stock form did not count.
    # A GET goes there; a POST here changes nothing (405).
    path(
        "admin/password_change/",
        require_safe(RedirectView.as_view(pattern_name="password_change")),
        name="admin_password_change",
    ),
    path("admin/", admin.site.urls),
    path("metrics", metrics.metrics, name="metrics"),  # its own access rule: lvsadmin/metrics.py
    path("api/", include("monitoring.api.urls")),
    path("", include("monitoring.urls")),
    path("", include("virtualservers.urls")),
    path("", include("realservers.urls")),
]

if settings.LVSADMIN_SERVE_STATIC:
    # CSS and JS only (collected by collectstatic); the login page needs them before a login,
    # and the client-IP allowlist still applies.
    urlpatterns += [
        re_path(
            r"^static/(?P<path>.*)$",
            login_not_required(serve),
            {"document_root": settings.STATIC_ROOT},
        ),
    ]
