from django.apps import AppConfig


class RealServersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "realservers"
