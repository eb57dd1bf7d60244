from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"

    def ready(self) -> None:
        from monitoring.api import auth as api_auth
        from monitoring.publish import audit

        audit.connect()
        api_auth.connect()
