from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from monitoring.api import auth as api_auth
        from monitoring.publish import audit, generation

        audit.connect()
        post_migrate.connect(generation.after_migrate, sender=self)
        api_auth.connect()
