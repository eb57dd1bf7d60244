"""URL map. Each app owns its pages; this file only mounts them."""

from django.contrib import admin
from django.urls import include, path

from lvsadmin import auth

urlpatterns = [
    path("accounts/login/", auth.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("", include("monitoring.urls")),
    path("", include("virtualservers.urls")),
    path("", include("realservers.urls")),
]
