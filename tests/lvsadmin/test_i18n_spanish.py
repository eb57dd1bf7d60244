"""English and Spanish: the language follows the browser (Accept-Language) unless the user pinned
one on the Password page; English stays the default."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from django.utils import translation

from lvsadmin.models import UserPreference
from monitoring.live.holds import describe
from monitoring.live.panel import _latency
from monitoring.live.reasons import shown_reason
from monitoring.models import AuditEntry, Revision
from monitoring.notify.events import realserver_event
from monitoring.notify.message import Message
from monitoring.publish import audit
from tests.virtualservers.test_views_virtual import form_data
from virtualservers.models import VirtualServer

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase 7"
SPANISH = {"HTTP_ACCEPT_LANGUAGE": "es-ES,es;q=0.9,en;q=0.5"}
ENGLISH = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
TABS_ES = ["CONTROL/MONITORIZACIÓN", "CONFIGURACIÓN GLOBAL", "REDUNDANCIA", "SERVIDORES VIRTUALES"]
TABS_EN = ["CONTROL/MONITORING", "GLOBAL SETTINGS", "REDUNDANCY", "VIRTUAL SERVERS"]


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "lvs.cf"


@pytest.fixture(autouse=True)
def english_after():
    """A request leaves its language active in the thread (Django never deactivates it): the
    next test starts from the default again."""
    yield
    translation.deactivate()


@pytest.fixture
def user():
    return get_user_model().objects.create_superuser("piranha", password=PASSWORD)


def logged_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_browser_asking_for_spanish_gets_spanish_tabs_buttons_and_dates(user):
    response = logged_in(user).get(reverse("monitoring:control"), **SPANISH)
    html = response.content.decode()
    assert response["Content-Language"] == "es"
    assert '<html lang="es">' in html
    for tab in TABS_ES:
        assert tab in html
    assert ">Aplicar</button>" in html
    assert "Cerrar sesión" in html and "Contraseña" in html
    assert "CONTROL/MONITORING" not in html


def test_without_accept_language_or_with_another_language_it_stays_english(user):
    client = logged_in(user)
    for headers in ({}, {"HTTP_ACCEPT_LANGUAGE": "fr-FR,fr;q=0.9"}, ENGLISH):
        html = client.get(reverse("monitoring:control"), **headers).content.decode()
        assert '<html lang="en">' in html
        for tab in TABS_EN:
            assert tab in html


def test_a_form_in_spanish_names_its_fields_and_its_errors(user):
    client = logged_in(user)
    page = client.get(reverse("virtualservers:virtual_add"), **SPANISH).content.decode()
    assert "Dirección IP virtual" in page and "Tiempo de reentrada" in page
    assert ">ACEPTAR</button>" in page and ">CANCELAR</button>" in page
    response = client.post(
        reverse("virtualservers:virtual_add"), form_data(address="not-an-ip"), **SPANISH
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "«not-an-ip» no es una dirección IPv4 ni IPv6." in html
    # The message sits under its field, the one labelled in Spanish.
    label = html.index("Dirección IP virtual")
    assert label < html.index("«not-an-ip» no es una dirección IPv4 ni IPv6.")
    assert not VirtualServer.objects.exists()


def test_a_saved_change_says_so_in_spanish(user):
    client = logged_in(user)
    response = client.post(reverse("virtualservers:virtual_add"), form_data(), **SPANISH)
    assert response.status_code == 302
    html = client.get(response["Location"], **SPANISH).content.decode()
    assert "Servidor virtual www añadido (inactivo)." in html
    assert "Guardado en el borrador. Aplíquelo en CONTROL/MONITORIZACIÓN" in html


def test_the_login_page_follows_the_browser():
    html = Client().get(reverse("login"), **SPANISH).content.decode()
    assert "Inicio de sesión en lvsadmin" in html and ">Iniciar sesión</button>" in html


def test_the_password_page_offers_the_language_and_keeps_the_choice_per_user(user):
    client = logged_in(user)
    page = client.get(reverse("password_change"), **ENGLISH).content.decode()
    assert 'name="language"' in page and "Español" in page
    response = client.post(reverse("language"), {"language": "es"}, **ENGLISH)
    assert response.status_code == 302
    assert UserPreference.objects.get(user=user).language == "es"
    # The pinned language wins over the browser's, on this session and after a new login.
    html = client.get(reverse("monitoring:control"), **ENGLISH).content.decode()
    assert "Idioma guardado." in html and TABS_ES[0] in html
    client.post(reverse("logout"))
    again = logged_in(user)
    html = again.get(reverse("virtualservers:virtual_list"), **ENGLISH).content.decode()
    assert TABS_ES[3] in html and '<html lang="es">' in html


def test_a_user_who_pinned_english_gets_english_from_a_spanish_browser(user):
    UserPreference.objects.create(user=user, language="en")
    html = logged_in(user).get(reverse("monitoring:control"), **SPANISH).content.decode()
    assert TABS_EN[0] in html and TABS_ES[0] not in html


def test_blank_goes_back_to_the_browsers_language(user):
    UserPreference.objects.create(user=user, language="es")
    client = logged_in(user)
    client.post(reverse("language"), {"language": ""})
    assert UserPreference.objects.get(user=user).language == ""
    html = client.get(reverse("monitoring:control"), **ENGLISH).content.decode()
    assert TABS_EN[0] in html


def test_a_language_not_offered_is_refused(user):
    client = logged_in(user)
    client.post(reverse("language"), {"language": "fr"})
    assert not UserPreference.objects.filter(user=user, language="fr").exists()


def test_one_users_choice_is_not_anothers(user):
    UserPreference.objects.create(user=user, language="es")
    other = get_user_model().objects.create_user("viewer1", password=PASSWORD)
    html = logged_in(other).get(reverse("monitoring:control"), **ENGLISH).content.decode()
    assert TABS_EN[0] in html


def test_the_api_answers_errors_in_the_browsers_language(user):
    client = logged_in(user)
    response = client.get("/api/virtualservers/999999/", **SPANISH)
    assert response.status_code == 404
    assert response.json()["detail"] == "No existe ese servidor virtual."


def test_the_audit_trail_stores_english_and_shows_the_readers_language(user):
    client = logged_in(user)
    client.post(reverse("virtualservers:virtual_add"), form_data(), **SPANISH)
    # Stored in English whoever made the change.
    assert AuditEntry.objects.filter(action="add", target="virtual server www").exists()
    html = client.get(reverse("monitoring:audit"), **SPANISH).content.decode()
    assert "<td>añadir</td>" in html and "<td>servidor virtual www</td>" in html
    html = client.get(reverse("monitoring:audit"), **ENGLISH).content.decode()
    assert "<td>add</td>" in html and "<td>virtual server www</td>" in html


def test_audit_targets_keep_names_and_translate_their_kind():
    with translation.override("es"):
        assert audit.shown_target("real server db1 of mysql") == "servidor real db1 de mysql"
        assert audit.shown_target("revision serial 7") == "revisión con número de serie 7"
        assert audit.shown_target("/etc/sysconfig/ha/lvs.cf") == "/etc/sysconfig/ha/lvs.cf"
        assert audit.shown_action("drain") == "drenar"
        assert audit.shown_action("something new") == "something new"


def test_the_live_tables_runtime_words_follow_the_reader():
    with translation.override("es"):
        assert describe("drain", True, 0, 3, 1) == "drenando (3 activas, 1 inactivas)"
        assert describe("maintenance", False, None, 0, 0) == "en mantenimiento"
    assert describe("drain", True, 0, 0, 0) == "drained, ready"


def test_notification_mail_is_written_in_lvsadmin_language_and_the_webhook_stays_english(
    settings,
):
    events = (
        realserver_event("mysql", "192.0.2.11", 3306, "DOWN", "UP"),
        realserver_event("mysql", "192.0.2.12", 3306, "DOWN", "UP"),
    )
    message = Message(events, "lvs1", dropped=3)
    settings.LVSADMIN_LANGUAGE = "es"
    assert message.subject() == "[lvsadmin lvs1] 2 cambios: 2 realserver DOWN"
    body = message.body()
    assert body.startswith("lvsadmin en lvs1: 2 cambios:")
    assert "(se perdieron 3 cambios: el notificador no daba abasto)" in body
    assert message.payload()["summary"] == "2 changes: 2 realserver DOWN"
    assert Message((), "lvs1", test=True).body().startswith("Un mensaje de prueba de lvsadmin")
    settings.LVSADMIN_LANGUAGE = "en"
    assert message.subject() == "[lvsadmin lvs1] 2 changes: 2 realserver DOWN"


def test_the_admin_speaks_spanish_too(user):
    html = logged_in(user).get("/admin/", **SPANISH).content.decode()
    assert "Administración" in html or "administración" in html
    html = logged_in(user).get("/admin/virtualservers/", **SPANISH).content.decode()
    assert "Servidores virtuales" in html


def test_dates_and_numbers_follow_the_language(user):
    revision = Revision.objects.create(serial_no=1, text="serial_no = 1\n", created_by=user)
    Revision.objects.filter(pk=revision.pk).update(
        created_at=datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)
    )
    client = logged_in(user)
    assert (
        "04/03/2026 05:06:07 UTC"
        in client.get(reverse("monitoring:control"), **SPANISH).content.decode()
    )
    assert (
        "2026-03-04 05:06:07 UTC"
        in client.get(reverse("monitoring:control"), **ENGLISH).content.decode()
    )
    with translation.override("es"):
        assert _latency(1234.5) == "1234,5 ms"
    assert _latency(1234.5) == "1234.5 ms"


def test_check_reasons_lvsadmin_words_are_shown_in_the_readers_language():
    with translation.override("es"):
        assert shown_reason("connection refused") == "conexión rechazada"
        assert shown_reason("connect timed out after 6 s") == "tiempo de conexión agotado tras 6 s"
        assert (
            shown_reason("expected 'HTTP', got 'SSH-2.0'")
            == "se esperaba 'HTTP', se recibió 'SSH-2.0'"
        )
        assert shown_reason("check failed: connection refused") == (
            "falló la comprobación: conexión rechazada"
        )
        assert shown_reason("MySQL error 1045: Access denied") == "MySQL error 1045: Access denied"
        assert shown_reason("") == ""
    assert shown_reason("connection refused") == "connection refused"


def test_the_live_table_shows_reasons_in_spanish(user):
    from django.utils import timezone

    from monitoring.models import RealServerHealth, WorkerStatus

    now = timezone.now()
    WorkerStatus.objects.update_or_create(pk=1, defaults={"heartbeat": now})
    RealServerHealth.objects.create(
        virtual_name="mysql", address="192.0.2.241", port=3306, state="down",
        last_error="connect timed out after 6 s", last_check=now, since=now,
    )  # fmt: skip
    html = logged_in(user).get(reverse("monitoring:control"), **SPANISH).content.decode()
    assert "tiempo de conexión agotado tras 6 s" in html
    assert "Caídos ahora:" in html


def test_the_director_panels_recorded_words_follow_the_reader():
    from monitoring.redundancy.views import DIRECTOR_WORDS

    with translation.override("es"):
        assert DIRECTOR_WORDS.shown("keepalived: BACKUP (the peer holds the VIPs)") == (
            "keepalived: BACKUP (el par tiene las VIP)"
        )
        assert DIRECTOR_WORDS.shown(
            "keepalived is not running (no live pid in /run/k.pid); start it with its "
            "configuration /etc/k.conf"
        ) == (
            "keepalived no está en marcha (no hay un pid vivo en /run/k.pid); arránquelo con su "
            "configuración /etc/k.conf"
        )
        assert DIRECTOR_WORDS.shown("something else") == "something else"


def test_restore_and_file_drift_speak_spanish(user, settings):
    client = logged_in(user)
    client.post(reverse("virtualservers:virtual_add"), form_data(), **SPANISH)
    client.post(reverse("monitoring:apply"), {"comment": "uno"}, **SPANISH)
    settings.LVSADMIN_LVS_CF.write_text("serial_no = 99\n")
    html = client.get(reverse("monitoring:control"), **SPANISH).content.decode()
    assert "difiere del número de serie publicado 1 (¿editado a mano?)" in html
    VirtualServer.objects.all().delete()
    response = client.post(reverse("monitoring:revision_restore", args=[1]), **SPANISH)
    html = client.get(response["Location"], **SPANISH).content.decode()
    assert "restaurado en el borrador (servidores virtuales añadidos (1): www)" in html
    entry = AuditEntry.objects.get(action="restore")
    assert "virtual servers added (1): www" in entry.summary


def test_a_notification_tests_outcome_is_shown_in_spanish():
    from monitoring.notify.views import CHANNEL_WORDS

    with translation.override("es"):
        assert CHANNEL_WORDS.shown("e-mail") == "correo electrónico"
        assert CHANNEL_WORDS.shown("sent to ops@example.org") == "enviado a ops@example.org"
        assert CHANNEL_WORDS.shown("ran 1 time, exit status 0") == (
            "ejecutado una vez, estado de salida 0"
        )
        assert CHANNEL_WORDS.shown("HTTP 500 Internal Server Error (2 attempts)") == (
            "HTTP 500 Internal Server Error (intentos: 2)"
        )


def test_the_set_up_page_says_why_in_spanish(user):
    virtual = VirtualServer.objects.create(name="mysql", address="192.0.2.240", port=3306)
    url = reverse("realservers:virtual_setup", args=[virtual.pk])
    html = logged_in(user).get(url, **SPANISH).content.decode()
    assert "Aún no se ha publicado nada (" in html and "): aplique primero." in html
    from realservers.setup.views import SETUP_WORDS

    with translation.override("es"):
        assert SETUP_WORDS.shown("virtual server web has no VIP: nothing to set up for it") == (
            "el servidor virtual web no tiene VIP: no hay nada que preparar para él"
        )


def test_an_unknown_notification_language_stops_start_up(tmp_path):
    from tests.lvsadmin.test_settings_booleans import manage_check

    result = manage_check(LVSADMIN_LANGUAGE="fr", LVSADMIN_STATE_DIR=str(tmp_path))
    assert result.returncode != 0
    assert "LVSADMIN_LANGUAGE='fr' is not one of en, es" in result.stderr
    assert manage_check(LVSADMIN_LANGUAGE="es", LVSADMIN_STATE_DIR=str(tmp_path)).returncode == 0


def test_the_parsers_warning_beside_a_field_follows_the_reader(user):
    virtual = VirtualServer.objects.create(
        name="www", address="192.0.2.100", port=80, device="eth0:1", scheduler="mh"
    )
    url = reverse("virtualservers:virtual_edit", args=[virtual.pk])
    client = logged_in(user)
    spanish = client.get(url, **SPANISH).content.decode()
    assert "el planificador mh funciona con lvsadmin, pero el pulse original de piranha" in spanish
    english = client.get(url, **ENGLISH).content.decode()
    assert "scheduler mh works with lvsadmin, but a stock piranha pulse refuses it" in english
