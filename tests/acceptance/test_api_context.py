"""Contextual metadata through the plugin's API in a real `airflow api-server`: `alt` and `caption`
given with an upload are stored, returned by every read, and refused with a JSON 422 when bad."""

from __future__ import annotations

import cloudinary.api
import pytest

from fixtures.emulator import sdk
from fixtures.media import tiny_png


@pytest.fixture
def client(api_server):
    with api_server.client() as http:
        yield http


def test_alt_and_caption_are_stored_and_returned(client, api_server):
    created = client.post("/api/v1/media", files={"file": ("pier.png", tiny_png(3), "image/png")},
                          data={"alt": "A wooden pier", "caption": "Pier | at dusk = calm"})
    assert created.status_code == 201, created.text
    record = created.json()
    assert record["context"] == {"alt": "A wooden pier", "caption": "Pier | at dusk = calm"}
    assert client.get(f"/api/v1/media/{record['id']}").json()["context"] == record["context"]
    assert client.get("/api/v1/media").json()["items"][0]["context"] == record["context"]
    asset = cloudinary.api.resource(record["public_id"], **sdk(api_server.emulator))
    assert asset["context"] == {"custom": record["context"]}  # `|` and `=` survive the SDK's encoding
    plain = client.post("/api/v1/media", files={"file": ("plain.png", tiny_png(4), "image/png")}).json()
    assert plain["context"] == {}


@pytest.mark.parametrize("form", [{"alt": "x" * 501}, {"caption": "line\x00break"}])
def test_bad_context_is_a_json_422_and_nothing_is_stored(client, api_server, form):
    refused = client.post("/api/v1/media", files={"file": ("x.png", tiny_png(5), "image/png")}, data=form)
    assert refused.status_code == 422 and isinstance(refused.json()["detail"], str)
    assert client.get("/api/v1/media").json()["items"] == []
    assert api_server.emulator.settings()["assets"] == 0
