"""CONTROL/MONITORING's pending changes at scale: grouped by virtual server and folded past a
screenful, kept per draft generation (whatever wrote the draft), in a constant number of
queries whether nothing, a bulk deactivation or the whole file is pending."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from monitoring.publish import revisions as publish
from realservers.models import RealServer
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db
CONTROL = reverse("monitoring:control")
APPLY = reverse("monitoring:apply")
ALL = reverse("monitoring:pending_text")


@pytest.fixture(autouse=True)
def lvs_cf(settings, tmp_path):
    settings.LVSADMIN_LVS_CF = tmp_path / "ha" / "lvs.cf"
    return settings.LVSADMIN_LVS_CF


def add(first: int, count: int, reals: int = 10) -> None:
    virtuals = VirtualServer.objects.bulk_create(
        VirtualServer(name=f"vs{i:03d}", position=i, address="192.0.2.10", port=1000 + i)
        for i in range(first, first + count)
    )
    MonitoringScript.objects.bulk_create(MonitoringScript(virtual_server=v) for v in virtuals)
    RealServer.objects.bulk_create(
        RealServer(virtual_server=v, name=f"rs{n}", position=n, address=f"203.0.113.{n + 1}",
                   port=8000 + n, active=True)
        for v in virtuals for n in range(reals)
    )  # fmt: skip


def page(client) -> str:
    return client.get(CONTROL).content.decode()


def publish_section(html: str) -> str:
    return html.split("PUBLISH</div>")[1].split("REVISIONS</div>")[0]


def test_a_bulk_deactivation_shows_the_active_lines_by_virtual_server_folded_with_counts(
    admin_client,
):
    add(0, 80)
    admin_client.post(APPLY)
    RealServer.objects.update(active=False)  # as the admin's bulk action: no signal is sent
    html = publish_section(page(admin_client))
    assert "800 lines added, 800 removed" in html
    assert "<strong>virtual server vs000</strong>" in html
    assert '<span class="text-success-emphasis">+10</span>' in html
    assert '<span class="diff-del">-         active = 1</span>' in html
    assert '<span class="diff-add">+         active = 0</span>' in html
    assert "more lines not shown" in html  # past a screenful
    assert "<strong>virtual server vs049</strong>" in html
    assert "vs050" not in html
    assert "and 30 more blocks changed (+300 &minus;300)" in html
    assert f'<a href="{ALL}">every change as plain text</a>' in html
    assert html.count('<span class="diff-') < 100  # a screenful, not 18,000 lines
    text = admin_client.get(ALL)
    assert text["Content-Type"].startswith("text/plain")
    assert text.content.decode().count("+         active = 0") == 800


def test_a_change_no_signal_sees_still_shows_as_pending(admin_client):
    add(0, 3, reals=2)
    admin_client.post(APPLY)
    assert "No pending changes" in page(admin_client)
    RealServer.objects.filter(name="rs1").update(weight=7)  # QuerySet.update: no signal
    html = page(admin_client)
    assert '<span class="diff-add">+         weight = 7</span>' in html
    RealServer.objects.filter(name="rs1").update(weight=1)
    assert "No pending changes" in page(admin_client)
    with connection.cursor() as cursor:  # as an import writes: plain SQL
        cursor.execute("DELETE FROM realservers_realserver WHERE name = 'rs0'")
    assert '<span class="diff-del">-     server rs0 {</span>' in page(admin_client)


@pytest.mark.parametrize("state", ["applied", "bulk deactivation", "whole file"])
def test_control_takes_a_constant_number_of_queries_whatever_is_pending(admin_client, state):
    def count(virtuals: int) -> int:
        VirtualServer.objects.all().delete()
        add(0, virtuals, reals=3)
        if state != "whole file":
            admin_client.post(APPLY)
        if state == "bulk deactivation":
            RealServer.objects.update(active=False)
        page(admin_client)  # computes the pending changes once for this draft
        with CaptureQueriesContext(connection) as queries:
            html = page(admin_client)
        assert ("No pending changes" in html) == (state == "applied")
        return len(queries)

    page(admin_client)  # the singletons' rows are made on the first load
    assert count(3) == count(60)


def test_the_page_does_not_render_the_draft_when_nothing_changed(admin_client, monkeypatch):
    add(0, 3, reals=2)
    admin_client.post(APPLY)
    page(admin_client)

    def refuse():
        raise AssertionError("the draft was rendered")

    monkeypatch.setattr(publish, "draft_text", refuse)
    assert "No pending changes" in page(admin_client)
