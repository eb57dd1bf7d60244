"""What the API takes as a request body: a JSON object of the fields the view changes, each of
the type it documents; a body too large or nested too deeply is refused before it costs memory
or a stack (400/413), never a 500, and nothing is published or changed."""

import json

import pytest

from monitoring.models import Revision
from tests.monitoring.api.api_support import (  # noqa: F401 (fixtures)
    api_client,
    draft,
    lvs_cf,
    member,
    real_url,
)

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("comment", [["x"], {}, {"a": 1}, 5, True])
def test_publish_refuses_a_comment_that_is_not_a_string(draft, comment):  # noqa: F811
    response = api_client(member("operator")).post("/api/publish/", {"comment": comment})
    assert response.status_code == 400
    assert response.json() == {"comment": ["Expected a string."]}
    assert not Revision.objects.exists()


@pytest.mark.parametrize("body", [[1], [], "x", 5, None])
def test_publish_refuses_a_body_that_is_not_an_object(draft, body):  # noqa: F811
    client = api_client(member("operator"))
    response = client.post("/api/publish/", json.dumps(body))
    assert response.status_code == 400
    assert response.json() == {"non_field_errors": ["Expected a JSON object."]}
    assert not Revision.objects.exists()


def test_publish_refuses_a_key_it_does_not_take_by_name(draft):  # noqa: F811
    response = api_client(member("operator")).post(
        "/api/publish/", {"comment": "x", "serial_no": 99}
    )
    assert response.status_code == 400
    assert set(response.json()) == {"serial_no"}
    assert "comment" in response.json()["serial_no"][0]
    assert not Revision.objects.exists()


def test_publish_with_a_string_comment_still_publishes(draft):  # noqa: F811
    response = api_client(member("operator")).post("/api/publish/", {"comment": "ok"})
    assert response.status_code == 201
    assert Revision.objects.get().comment == "ok"


@pytest.mark.parametrize("value", [["db9"], {"x": 1}, True])
def test_a_patch_refuses_a_name_that_is_not_a_string(draft, value):  # noqa: F811
    real = draft["db1"]
    response = api_client(member("administrator")).patch(real_url(real), {"name": value})
    assert response.status_code == 400
    assert response.json() == {"name": ["Expected a string."]}
    real.refresh_from_db()
    assert real.name == "db1"


def test_a_patch_refuses_a_weight_that_is_a_list(draft):  # noqa: F811
    real = draft["db1"]
    response = api_client(member("administrator")).patch(real_url(real), {"weight": [5]})
    assert response.status_code == 400
    assert response.json() == {"weight": ["Expected a number."]}


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("method", ["post", "patch"])
def test_a_body_nested_50000_levels_deep_is_a_400_not_a_500(draft, method):  # noqa: F811
    client = api_client(member("administrator"))
    if method == "post":
        response = client.post("/api/publish/", '{"comment": ' + deep(50_000) + "}")
    else:
        response = client.patch(real_url(draft["db1"]), '{"name": ' + deep(50_000) + "}")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]
    assert not Revision.objects.exists()


def test_a_body_nested_a_little_deeper_than_the_bound_is_refused_too(draft):  # noqa: F811
    client = api_client(member("operator"))
    response = client.post("/api/publish/", '{"comment": ' + deep(40) + "}")
    assert response.status_code == 400
    assert "nested" in response.json()["detail"]


@pytest.mark.parametrize("size", [1024 * 1024 + 1, 20 * 1024 * 1024])
def test_a_body_over_one_mebibyte_is_a_413_and_nothing_is_published(draft, size):  # noqa: F811
    body = '{"comment": "' + "x" * (size - 15) + '"}'
    response = api_client(member("operator")).post("/api/publish/", body)
    assert response.status_code == 413
    assert "1 MiB" in response.json()["detail"]
    assert not Revision.objects.exists()


def test_a_body_that_lies_about_its_length_is_still_bounded(draft):  # noqa: F811
    body = '{"comment": "' + "x" * (2 * 1024 * 1024) + '"}'
    response = api_client(member("operator")).post("/api/publish/", body, CONTENT_LENGTH="20")
    assert response.status_code == 400
    assert not Revision.objects.exists()
