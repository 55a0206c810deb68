"""Supabase Storage adapter: the exact HTTP calls it makes (respx), upload verification and bounded
retries, and how each kind of answer maps to a domain error without ever showing the service key."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import respx

from appgen import errors
from appgen.cloud.supabase_storage import SupabaseStorage
from appgen.storage import ARTIFACT_BUCKET, StoredObject, sha256_file

URL = "https://abcd1234.supabase.co"
KEY = "sb_secret_test-service-role-key-0123456789"
OBJECT = "owner-1/project-1/job-1/app.zip"
OBJECT_API = f"{URL}/storage/v1/object/{ARTIFACT_BUCKET}/{OBJECT}"
READ_API = f"{URL}/storage/v1/object/authenticated/{ARTIFACT_BUCKET}/{OBJECT}"
CONTENT = b"PK\x03\x04 a zip, or close enough " * 1000


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False) as router:
        yield router


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def store(pauses: list[float]) -> SupabaseStorage:
    return SupabaseStorage(URL + "/", KEY, sleep=pauses.append)


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    path = tmp_path / "app.zip"
    path.write_bytes(CONTENT)
    return path


def assert_service_headers(request: httpx.Request) -> None:
    assert request.headers["apikey"] == KEY
    assert request.headers["authorization"] == f"Bearer {KEY}"


def assert_key_hidden(exc: errors.AppgenError) -> None:
    assert KEY not in exc.message
    assert KEY not in str(exc)


# -- upload ------------------------------------------------------------------------------------------


def test_upload_streams_the_file_with_upsert_then_reads_it_back_to_verify(
    mock: respx.MockRouter, store: SupabaseStorage, archive: Path, pauses: list[float]
) -> None:
    put = mock.post(OBJECT_API).respond(200, json={"Key": f"{ARTIFACT_BUCKET}/{OBJECT}", "Id": "0b1"})
    read = mock.get(READ_API).respond(200, content=CONTENT)

    stored = store.upload(ARTIFACT_BUCKET, OBJECT, archive)

    assert stored == sha256_file(archive) == StoredObject(len(CONTENT), stored.checksum)
    request = put.calls.last.request
    assert request.method == "POST"
    assert request.url == OBJECT_API
    assert_service_headers(request)
    assert request.headers["content-type"] == "application/zip"
    assert request.headers["x-upsert"] == "true"
    assert request.headers["content-length"] == str(len(CONTENT))
    assert request.read() == CONTENT
    assert read.call_count == 1
    assert_service_headers(read.calls.last.request)
    assert pauses == []


def test_a_mismatched_upload_is_retried_with_short_pauses_until_it_verifies(
    mock: respx.MockRouter, store: SupabaseStorage, archive: Path, pauses: list[float]
) -> None:
    put = mock.post(OBJECT_API).respond(200, json={})
    mock.get(READ_API).mock(
        side_effect=[
            httpx.Response(200, content=CONTENT[:-10]),  # truncated
            httpx.Response(200, content=b"x" + CONTENT[1:]),  # same size, other bytes
            httpx.Response(200, content=CONTENT),
        ]
    )
    assert store.upload(ARTIFACT_BUCKET, OBJECT, archive) == sha256_file(archive)
    assert put.call_count == 3
    assert pauses == [0.5, 2.0]


def test_an_upload_that_never_verifies_fails_transiently_and_removes_the_wrong_object(
    mock: respx.MockRouter, store: SupabaseStorage, archive: Path, pauses: list[float]
) -> None:
    put = mock.post(OBJECT_API).respond(200, json={})
    mock.get(READ_API).respond(200, content=b"corrupt")
    remove = mock.delete(f"{URL}/storage/v1/object/{ARTIFACT_BUCKET}").respond(200, json=[{"name": OBJECT}])

    with pytest.raises(errors.StepFailed) as raised:
        store.upload(ARTIFACT_BUCKET, OBJECT, archive)

    assert raised.value.code == "storage_failed"
    assert raised.value.transient is True
    assert raised.value.message.startswith(
        "the upload could not be verified after 3 attempts: the store holds 7 bytes"
    )
    assert put.call_count == 3
    assert pauses == [0.5, 2.0]
    assert remove.call_count == 1
    assert json.loads(remove.calls.last.request.content) == {"prefixes": [OBJECT]}


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (httpx.Response(503, json={"statusCode": "503", "error": "unavailable"}), "answered HTTP 503"),
        (httpx.Response(429, text="slow down"), "answered HTTP 429"),
        (httpx.ReadTimeout("read timed out"), "timed out"),
        (httpx.ConnectError("connection refused"), "failed (ConnectError)"),
    ],
)
def test_transient_upload_failures_are_retried_then_fail_transiently_without_removing_anything(
    mock: respx.MockRouter,
    store: SupabaseStorage,
    archive: Path,
    pauses: list[float],
    answer: httpx.Response | Exception,
    reason: str,
) -> None:
    put = mock.post(OBJECT_API).mock(side_effect=[answer] * 3)
    remove = mock.delete(f"{URL}/storage/v1/object/{ARTIFACT_BUCKET}").respond(200, json=[])

    with pytest.raises(errors.StepFailed) as raised:
        store.upload(ARTIFACT_BUCKET, OBJECT, archive)

    assert raised.value.transient is True
    assert raised.value.code == "storage_failed"
    assert f"Supabase Storage {reason} during: upload {ARTIFACT_BUCKET}/{OBJECT}" in raised.value.message
    assert put.call_count == 3
    assert pauses == [0.5, 2.0]
    assert remove.call_count == 0  # the state of the object is unknown: a good older copy may be there


def test_a_transient_failure_then_success_uploads_once_more(
    mock: respx.MockRouter, store: SupabaseStorage, archive: Path, pauses: list[float]
) -> None:
    put = mock.post(OBJECT_API).mock(side_effect=[httpx.Response(502), httpx.Response(200, json={})])
    mock.get(READ_API).respond(200, content=CONTENT)
    assert store.upload(ARTIFACT_BUCKET, OBJECT, archive) == sha256_file(archive)
    assert put.call_count == 2
    assert pauses == [0.5]


@pytest.mark.parametrize(
    ("answer", "error", "message"),
    [
        (
            httpx.Response(
                400, json={"statusCode": "400", "error": "InvalidKey", "message": "Invalid key: ?"}
            ),
            errors.StepFailed,
            f"Supabase Storage refused upload {ARTIFACT_BUCKET}/{OBJECT}: HTTP 400: Invalid key: ?",
        ),
        (
            httpx.Response(413, json={"statusCode": "413", "error": "Payload too large"}),
            errors.StepFailed,
            f"Supabase Storage refused upload {ARTIFACT_BUCKET}/{OBJECT}: larger than the bucket's upload size limit",
        ),
        (
            httpx.Response(403, json={"statusCode": "403", "error": "Unauthorized", "message": f"bad {KEY}"}),
            errors.ConfigError,
            f"Supabase Storage refused the service role key (HTTP 403) during: upload {ARTIFACT_BUCKET}/{OBJECT}; "
            "check SUPABASE_SERVICE_ROLE_KEY",
        ),
        (
            httpx.Response(400, json={"statusCode": "400", "error": "Bad", "message": f"echo {KEY}"}),
            errors.StepFailed,
            f"Supabase Storage refused upload {ARTIFACT_BUCKET}/{OBJECT}: HTTP 400: echo [REDACTED]",
        ),
    ],
)
def test_permanent_refusals_fail_at_once_with_a_clear_message_and_no_key(
    mock: respx.MockRouter,
    store: SupabaseStorage,
    archive: Path,
    pauses: list[float],
    answer: httpx.Response,
    error: type[errors.AppgenError],
    message: str,
) -> None:
    put = mock.post(OBJECT_API).mock(return_value=answer)
    with pytest.raises(error) as raised:
        store.upload(ARTIFACT_BUCKET, OBJECT, archive)
    assert raised.value.message == message
    if isinstance(raised.value, errors.StepFailed):
        assert raised.value.code == "storage_refused"
        assert raised.value.transient is False
    assert_key_hidden(raised.value)
    assert put.call_count == 1
    assert pauses == []


def test_object_paths_that_climb_out_are_refused_before_any_call(
    mock: respx.MockRouter, store: SupabaseStorage, archive: Path
) -> None:
    with pytest.raises(errors.InvalidRequest):
        store.upload(ARTIFACT_BUCKET, "../other-bucket/app.zip", archive)
    assert mock.calls.call_count == 0


# -- signed URLs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        f"/object/sign/{ARTIFACT_BUCKET}/{OBJECT}?token=eyJhbGciOi.sig.nature",
        f"/storage/v1/object/sign/{ARTIFACT_BUCKET}/{OBJECT}?token=eyJhbGciOi.sig.nature",
    ],
)
def test_signed_url_asks_for_15_minutes_and_returns_an_absolute_url(
    mock: respx.MockRouter, store: SupabaseStorage, answer: str
) -> None:
    sign = mock.post(f"{URL}/storage/v1/object/sign/{ARTIFACT_BUCKET}/{OBJECT}").respond(
        200, json={"signedURL": answer}
    )
    before = time.time()
    signed = store.signed_url(ARTIFACT_BUCKET, OBJECT)

    assert (
        signed.url == f"{URL}/storage/v1/object/sign/{ARTIFACT_BUCKET}/{OBJECT}?token=eyJhbGciOi.sig.nature"
    )
    assert before + 899 <= signed.expires_at.timestamp() <= time.time() + 900
    request = sign.calls.last.request
    assert request.method == "POST"
    assert_service_headers(request)
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {"expiresIn": 900}


def test_a_link_longer_than_15_minutes_is_never_asked_for(
    mock: respx.MockRouter, store: SupabaseStorage
) -> None:
    sign = mock.post(f"{URL}/storage/v1/object/sign/{ARTIFACT_BUCKET}/{OBJECT}").respond(
        200, json={"signedURL": "/object/sign/x?token=t"}
    )
    with pytest.raises(ValueError, match="at most 900 s, not 901 s"):
        store.signed_url(ARTIFACT_BUCKET, OBJECT, ttl_seconds=901)
    assert not sign.called


@pytest.mark.parametrize(
    "answer",
    [
        httpx.Response(404, json={"statusCode": "404", "error": "not_found", "message": "Object not found"}),
        httpx.Response(400, json={"statusCode": "404", "error": "not_found", "message": "Object not found"}),
    ],
)
def test_signing_a_missing_object_is_not_found(
    mock: respx.MockRouter, store: SupabaseStorage, answer: httpx.Response
) -> None:
    mock.post(f"{URL}/storage/v1/object/sign/{ARTIFACT_BUCKET}/{OBJECT}").mock(return_value=answer)
    with pytest.raises(errors.NotFound) as raised:
        store.signed_url(ARTIFACT_BUCKET, OBJECT)
    assert raised.value.message == f"no object at {ARTIFACT_BUCKET}/{OBJECT}"
    assert raised.value.http_status == 404


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (
            httpx.Response(500, text="upstream error"),
            "Supabase Storage answered HTTP 500 during: sign a link",
        ),
        (httpx.ConnectTimeout("connect timed out"), "Supabase Storage timed out during: sign a link"),
        (
            httpx.Response(200, json={"unexpected": True}),
            "Supabase Storage answered a sign request without a URL",
        ),
    ],
)
def test_signing_during_an_outage_is_dependency_unavailable(
    mock: respx.MockRouter, store: SupabaseStorage, answer: httpx.Response | Exception, message: str
) -> None:
    mock.post(f"{URL}/storage/v1/object/sign/{ARTIFACT_BUCKET}/{OBJECT}").mock(side_effect=[answer])
    with pytest.raises(errors.DependencyUnavailable) as raised:
        store.signed_url(ARTIFACT_BUCKET, OBJECT)
    assert raised.value.message.startswith(message)
    assert raised.value.http_status == 503
    assert_key_hidden(raised.value)


# -- remove and download -----------------------------------------------------------------------------


def test_delete_removes_in_batches_of_1000_and_missing_objects_are_fine(
    mock: respx.MockRouter, store: SupabaseStorage
) -> None:
    remove = mock.delete(f"{URL}/storage/v1/object/{ARTIFACT_BUCKET}").respond(200, json=[])
    paths = [f"o/p/job-{n}/app.zip" for n in range(2500)]
    store.delete(ARTIFACT_BUCKET, paths)
    store.delete(ARTIFACT_BUCKET, [])

    bodies = [json.loads(call.request.content)["prefixes"] for call in remove.calls]
    assert [len(body) for body in bodies] == [1000, 1000, 500]
    assert [p for body in bodies for p in body] == paths
    for call in remove.calls:
        assert call.request.method == "DELETE"
        assert_service_headers(call.request)


def test_delete_during_an_outage_is_dependency_unavailable(
    mock: respx.MockRouter, store: SupabaseStorage
) -> None:
    mock.delete(f"{URL}/storage/v1/object/{ARTIFACT_BUCKET}").respond(503)
    with pytest.raises(errors.DependencyUnavailable, match="remove objects from generated-apps"):
        store.delete(ARTIFACT_BUCKET, [OBJECT])


def test_download_writes_the_object_and_a_missing_one_leaves_no_file(
    mock: respx.MockRouter, store: SupabaseStorage, tmp_path: Path
) -> None:
    read = mock.get(READ_API).mock(
        side_effect=[
            httpx.Response(200, content=CONTENT),
            httpx.Response(
                400, json={"statusCode": "404", "error": "not_found", "message": "Object not found"}
            ),
        ]
    )
    dest = tmp_path / "nested" / "copy.zip"
    store.download(ARTIFACT_BUCKET, OBJECT, dest)
    assert dest.read_bytes() == CONTENT
    assert_service_headers(read.calls.last.request)

    gone = tmp_path / "gone.zip"
    with pytest.raises(errors.NotFound, match=f"no object at {ARTIFACT_BUCKET}/{OBJECT}"):
        store.download(ARTIFACT_BUCKET, OBJECT, gone)
    assert not gone.exists()
    assert not gone.with_name("gone.zip.partial").exists()


def test_missing_configuration_names_the_variables() -> None:
    with pytest.raises(errors.ConfigError, match="SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY"):
        SupabaseStorage(URL, "")
