from django.apps import AppConfig


class VirtualServersConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "virtualservers"

    def ready(self) -> None:
        from virtualservers import i18n

        i18n.install(*django_translators())


def django_translators() -> tuple:
    """Django's gettext for the cores (virtualservers/i18n.py): the active language for the
    reader, LVSADMIN_LANGUAGE for text written with nobody reading (notifications)."""
    from django.utils import translation

    from virtualservers.conf import written_language

    def written(message: str) -> str:
        with translation.override(written_language()):
            return translation.gettext(message)

    def written_plural(singular: str, plural: str, number: int) -> str:
        with translation.override(written_language()):
            return translation.ngettext(singular, plural, number)

    return translation.gettext, translation.ngettext, written, written_plural
