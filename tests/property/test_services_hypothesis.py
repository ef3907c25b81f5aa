"""Property-based tests of the services: any input is either accepted or refused with a 4xx
`InvalidInput` — never another exception (which the API would turn into a 5xx) — and secrets
never survive redaction."""

from __future__ import annotations

import io
import re

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from fixtures import polyglots
from fixtures.media import tiny_png
from mediasync.db.dsn import redact_dsn, scrub
from mediasync.errors import InvalidInput, NotFound
from mediasync.services.content import inspect_upload, safe_filename, safe_folder

pytestmark = pytest.mark.reliability
REAL_MEDIA = [tiny_png(1), polyglots.image_bytes("JPEG"), polyglots.image_bytes("GIF"), polyglots.image_bytes("WEBP"),
              polyglots.image_bytes("PNG"), polyglots.PLAIN_PDF, polyglots.mp4(), polyglots.webm()]
DB_FIXTURES = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def outcome(call, *args, **kwargs):
    """(result, None) or (None, the InvalidInput it was refused with)."""
    try:
        return call(*args, **kwargs), None
    except InvalidInput as refused:
        return None, refused


def inspected(data: bytes) -> None:
    _, refused = outcome(inspect_upload, io.BytesIO(data), 1 << 20)
    assert refused is None or 400 <= refused.status_code < 500


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=4096))
def test_any_bytes_are_accepted_or_refused_with_a_4xx(data):
    inspected(data)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(REAL_MEDIA), st.data())
def test_corrupted_real_media_is_accepted_or_refused_with_a_4xx(original, data):
    mutated = bytearray(original)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(mutated) - 1))
        mutated[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(1, len(mutated)))
    inspected(bytes(mutated[:cut]) + data.draw(st.binary(max_size=64)))


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), st.text()), st.sampled_from(["png", "jpg", "gif", "pdf", "mp4"]))
def test_safe_filenames_are_safe(name, extension):
    safe = safe_filename(name, extension)
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,90}\." + extension, safe) and not safe.startswith(".")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=250))
def test_folders_are_clean_or_refused(folder):
    clean, refused = outcome(safe_folder, folder)
    if refused is not None:
        assert refused.status_code == 422
        return
    assert re.fullmatch(r"[A-Za-z0-9_-]+(/[A-Za-z0-9_-]+)*", clean) and ".." not in clean


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.sampled_from("abcXYZ0189%/@:?#&=+!$ ~"), min_size=6, max_size=24),
       st.sampled_from(["postgresql://app:{pw}@db.example.com:6543/postgres",
                        "postgres://app:{pw}@db.example.com/postgres?sslmode=require",
                        "host=db.example.com user=app password='{pw}' dbname=postgres"]))
def test_redaction_never_shows_the_password(password, template):
    assume(sum(c.isalnum() for c in password) >= 4 and "'" not in password)
    dsn = template.format(pw=password)
    assert password not in redact_dsn(dsn)
    assert password not in scrub(f"could not connect with {dsn}: bad password {password!r}", dsn)


@DB_FIXTURES
@given(payload=st.one_of(st.binary(max_size=2048), st.sampled_from(REAL_MEDIA)),
       name=st.one_of(st.none(), st.text(max_size=80)),
       folder=st.one_of(st.none(), st.text(max_size=40), st.just("main-uploads/sub")),
       tags=st.lists(st.text(max_size=30), max_size=4))
def test_uploads_succeed_completely_or_are_refused_with_nothing_stored(services, conn, payload, name, folder, tags):
    before = conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"]
    record, refused = outcome(services.media.upload, payload, name, folder=folder, tags=tags)
    if refused is not None:
        assert 400 <= refused.status_code < 500
        assert conn.execute("SELECT count(*) AS n FROM media_files").fetchone()["n"] == before
        return
    assert record.status == "active" and record.folder and record.folder.startswith("main-uploads")


@DB_FIXTURES
@given(status=st.one_of(st.none(), st.text(max_size=10), st.sampled_from(["active", "deleted"])),
       limit=st.integers(-5, 1000), cursor=st.one_of(st.none(), st.text(max_size=60)),
       media_id=st.text(max_size=40))
def test_reads_and_deletes_of_anything_are_answers_or_4xx(services, status, limit, cursor, media_id):
    _, refused = outcome(services.media.list, status, limit, cursor)
    assert refused is None or refused.status_code == 422
    for call in (services.media.get, services.media.soft_delete, services.media.hard_delete):
        with pytest.raises(NotFound):
            call(media_id)
