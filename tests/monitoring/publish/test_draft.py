"""The draft replaced by an lvs.cf (restore, import): identities of what survives are kept."""

import pytest
from django.urls import reverse

from monitoring.models import RealServerHealth
from monitoring.publish.draft import draft_config, replace_draft
from realservers.models import RealServer
from virtualservers.lvsconf.parse import parse
from virtualservers.models import MonitoringScript, VirtualServer

pytestmark = pytest.mark.django_db


def draft_of(text: str) -> None:
    config, _warnings = parse(text)
    replace_draft(config)


BEFORE = """\
serial_no = 1
virtual www {
     address = 192.0.2.100 eth0:1
     port = 80
     server web1 {
         address = 198.51.100.1
     }
     server web2 {
         address = 198.51.100.2
     }
}
virtual ftp {
     address = 192.0.2.101 eth0:1
     port = 21
     server f1 {
         address = 198.51.100.9
     }
}
"""
AFTER = """\
serial_no = 2
virtual mail {
     address = 192.0.2.102 eth0:1
     port = 25
     server m1 {
         address = 198.51.100.20
     }
}
virtual www {
     address = 192.0.2.100 eth0:1
     port = 8080
     server web3 {
         address = 198.51.100.3
     }
     server web2 {
         address = 198.51.100.22
         weight = 5
     }
}
"""


def pks() -> tuple[dict[str, int], dict[tuple[str, str], int]]:
    virtuals = dict(VirtualServer.objects.values_list("name", "id"))
    servers = {
        (virtual, name): pk
        for virtual, name, pk in RealServer.objects.values_list(
            "virtual_server__name", "name", "id"
        )
    }
    return virtuals, servers


def test_replacing_the_draft_keeps_the_ids_of_the_servers_whose_names_survive():
    draft_of(BEFORE)
    virtuals, servers = pks()
    health = RealServerHealth.objects.create(
        virtual_name="www",
        address="198.51.100.2",
        port=80,
        real_server_id=servers["www", "web2"],
    )

    draft_of(AFTER)

    new_virtuals, new_servers = pks()
    assert new_virtuals["www"] == virtuals["www"]
    assert new_servers["www", "web2"] == servers["www", "web2"]
    assert set(new_virtuals) == {"mail", "www"}
    assert set(new_servers) == {("mail", "m1"), ("www", "web3"), ("www", "web2")}
    assert new_servers["www", "web3"] not in servers.values()
    # The rows carry the new file's values, its order, and nothing of the old rows.
    draft = draft_config()
    assert [v.name for v in draft.virtuals] == ["mail", "www"]
    www = draft.virtuals[1]
    assert www.port == 8080
    assert [(s.name, s.address, s.weight) for s in www.servers] == [
        ("web3", "198.51.100.3", None),
        ("web2", "198.51.100.22", 5),
    ]
    assert MonitoringScript.objects.count() == 2
    health.refresh_from_db()
    assert health.real_server_id == servers["www", "web2"]


def test_a_bookmarked_edit_page_still_opens_after_a_restore(admin_client):
    draft_of(BEFORE)
    virtuals, servers = pks()
    draft_of(AFTER)
    draft_of(BEFORE)
    virtual_url = reverse("virtualservers:virtual_edit", args=[virtuals["www"]])
    real_url = reverse("realservers:real_edit", args=[virtuals["www"], servers["www", "web2"]])
    assert admin_client.get(virtual_url).status_code == 200
    assert admin_client.get(real_url).status_code == 200


def test_servers_that_share_a_name_are_matched_in_order():
    text = BEFORE.replace("server web2", "server web1")
    draft_of(text)
    ids = list(
        RealServer.objects.filter(virtual_server__name="www")
        .order_by("position")
        .values_list("id", flat=True)
    )
    draft_of(text.replace("198.51.100.2\n", "198.51.100.7\n"))
    assert list(
        RealServer.objects.filter(virtual_server__name="www")
        .order_by("position")
        .values_list("id", "address")
    ) == [(ids[0], "198.51.100.1"), (ids[1], "198.51.100.7")]


def test_import_and_export_keep_every_redundancy_key():
    from virtualservers.lvsconf.render import render

    keys = (
        "backup_active = 1\nbackup = 192.0.2.2\nbackup_private = 198.51.100.2\nheartbeat = 1\n"
        "heartbeat_port = 540\nkeepalive = 1\ndeadtime = 4\nmonitor_links = 1\nsyncdaemon = 1\n"
        "syncd_iface = eth1\nsyncd_id = 9\n"
    )
    text = "primary = 192.0.2.1\nprimary_private = 198.51.100.1\nservice = lvs\n" + keys
    replace_draft(parse(text)[0])
    exported = render(draft_config())
    for line in keys.splitlines():
        assert line in exported, line
