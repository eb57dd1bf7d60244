from django.apps import AppConfig


class VirtualServersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "virtualservers"
