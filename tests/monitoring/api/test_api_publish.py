"""Publishing through the API: a comment makes a revision with the draft's lvs.cf, written to
disk; revisions are listed newest first and read one by one with their text."""

import pytest

from monitoring.models import Revision
from monitoring.publish import revisions as publish
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)

pytestmark = pytest.mark.django_db


def test_publish_with_a_comment_creates_a_revision_and_writes_lvs_cf(draft, settings):  # noqa: F811
    client = api_client(member("operator", "alice"))
    client.post(real_url(draft["db1"], "activate"))
    response = client.post("/api/publish/", {"comment": "db1 back in"})
    assert response.status_code == 201
    body = response.json()
    revision = Revision.objects.get()
    assert (revision.serial_no, revision.comment, revision.created_by.username) == (
        1,
        "db1 back in",
        "alice",
    )
    assert body["revision"]["serial_no"] == 1
    assert body["revision"]["lvs_cf"] == revision.text == settings.LVSADMIN_LVS_CF.read_text()
    assert "192.0.2.241" in revision.text
    assert body["detail"] == f"Published lvs.cf serial 1 to {settings.LVSADMIN_LVS_CF}."
    assert publish.pending_diff() == ""


def test_publish_without_a_comment_is_allowed_as_in_the_gui(draft):  # noqa: F811
    response = api_client(member("operator")).post("/api/publish/")
    assert response.status_code == 201
    assert Revision.objects.get().comment == ""


def test_a_publish_that_cannot_write_lvs_cf_says_why_and_keeps_no_revision(
    draft,  # noqa: F811
    settings,
    tmp_path,
):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    settings.LVSADMIN_LVS_CF = blocker / "lvs.cf"  # a directory that is a file
    response = api_client(member("operator")).post("/api/publish/", {"comment": "x"})
    assert response.status_code == 409
    assert response.json()["detail"].startswith("Could not write")
    assert not Revision.objects.exists()


def test_revisions_are_listed_newest_first_and_read_with_their_text(draft):  # noqa: F811
    client = api_client(member("operator", "alice"))
    client.post("/api/publish/", {"comment": "first"})
    client.post("/api/publish/", {"comment": "second"})
    listed = client.get("/api/revisions/").json()
    assert [(r["serial_no"], r["comment"], r["created_by"]) for r in listed["results"]] == [
        (2, "second", "alice"),
        (1, "first", "alice"),
    ]
    assert "lvs_cf" not in listed["results"][0]
    one = client.get("/api/revisions/1/").json()
    assert one["lvs_cf"] == Revision.objects.get(serial_no=1).text
    assert client.get("/api/revisions/9/").status_code == 404


def test_the_draft_shows_its_servers_scripts_and_what_apply_would_change(draft):  # noqa: F811
    client = api_client(member("viewer"))
    body = client.get("/api/draft/").json()
    (virtual,) = body["virtual_servers"]
    assert (virtual["name"], virtual["address"], virtual["port"]) == ("mysql", "192.0.2.240", 3306)
    assert [r["name"] for r in virtual["real_servers"]] == ["db1", "db2"]
    assert virtual["monitoring_script"]["expect"] == "HTTP"
    assert "mysql_password" not in virtual["monitoring_script"]
    assert "serial_no" in body["global_settings"]
    assert "+virtual mysql {" in body["pending_diff"] and body["draft_error"] == ""
