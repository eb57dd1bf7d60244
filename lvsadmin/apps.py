from django.apps import AppConfig


class LvsadminConfig(AppConfig):
    """The wiring package as an app, for its management commands (lvspasswd) and templates."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "lvsadmin"
