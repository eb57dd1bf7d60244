"""Login and logout (placeholder; the security work replaces this with lockout by client IP)."""

from django.contrib.auth import views


class LoginView(views.LoginView):
    template_name = "registration/login.html"


class LogoutView(views.LogoutView):
    pass
