"""GCS adapter against a real GCS API double: `gcp-storage-emulator`, started in-process on an ephemeral
port and reached through `STORAGE_EMULATOR_HOST`, as the google-cloud-storage client supports."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from gcp_storage_emulator.server import create_server
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from appgen import errors
from appgen.cloud.gcs import GcsStore
from appgen.storage import ARTIFACT_BUCKET, SCRATCH_BUCKET, StoredObject, sha256_file

SCRATCH = "appgen-scratch-it"  # real bucket names are global, so the logical ones map to these
ARTIFACTS = "appgen-artifacts-it"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def emulator() -> Iterator[str]:
    port = _free_port()
    server = create_server("127.0.0.1", port, in_memory=True, default_bucket=SCRATCH)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def client(emulator: str, monkeypatch: pytest.MonkeyPatch) -> storage.Client:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator)
    gcs = storage.Client(project="appgen-it", credentials=AnonymousCredentials())
    if gcs.lookup_bucket(ARTIFACTS) is None:
        gcs.create_bucket(ARTIFACTS)
    return gcs


@pytest.fixture
def pauses() -> list[float]:
    return []


@pytest.fixture
def store(client: storage.Client, pauses: list[float]) -> GcsStore:
    return GcsStore(client, {SCRATCH_BUCKET: SCRATCH, ARTIFACT_BUCKET: ARTIFACTS}, sleep=pauses.append)


def test_upload_verifies_and_download_returns_the_same_bytes(
    store: GcsStore, client: storage.Client, tmp_path: Path, pauses: list[float]
) -> None:
    source = tmp_path / "snapshot.tar.gz"
    source.write_bytes(bytes(range(256)) * 4096)  # 1 MiB

    stored = store.upload(SCRATCH_BUCKET, "job-1/snapshots/round-0.tar.gz", source)

    assert stored == sha256_file(source) == StoredObject(1 << 20, stored.checksum)
    blob = client.bucket(SCRATCH).get_blob("job-1/snapshots/round-0.tar.gz")
    assert blob is not None
    assert blob.size == 1 << 20
    assert blob.metadata == {"sha256": stored.checksum}
    assert blob.content_type == "application/gzip" or blob.content_type == "application/x-tar"
    copy = tmp_path / "back" / "copy.tar.gz"
    store.download(SCRATCH_BUCKET, "job-1/snapshots/round-0.tar.gz", copy)
    assert copy.read_bytes() == source.read_bytes()
    assert pauses == []


def test_an_upload_overwrites_the_previous_object(
    store: GcsStore, client: storage.Client, tmp_path: Path
) -> None:
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    first.write_bytes(b"first version")
    second.write_bytes(b"the second, longer version")
    store.upload(ARTIFACT_BUCKET, "o/p/j/app.zip", first)
    stored = store.upload(ARTIFACT_BUCKET, "o/p/j/app.zip", second)
    assert stored == sha256_file(second)
    assert client.bucket(ARTIFACTS).blob("o/p/j/app.zip").download_as_bytes() == b"the second, longer version"


def test_delete_removes_objects_and_ignores_missing_ones(
    store: GcsStore, client: storage.Client, tmp_path: Path
) -> None:
    source = tmp_path / "bundle.json"
    source.write_text('{"page": "home"}')
    store.upload(SCRATCH_BUCKET, "job-2/pages/home.json", source)
    store.upload(SCRATCH_BUCKET, "job-2/pages/about.json", source)

    store.delete(SCRATCH_BUCKET, ["job-2/pages/home.json", "job-2/pages/never-existed.json"])
    store.delete(SCRATCH_BUCKET, ["job-2/pages/home.json"])  # again: still fine

    names = sorted(blob.name for blob in client.list_blobs(SCRATCH, prefix="job-2/"))
    assert names == ["job-2/pages/about.json"]


def test_downloading_a_missing_object_is_not_found_and_leaves_no_file(
    store: GcsStore, tmp_path: Path
) -> None:
    dest = tmp_path / "missing.zip"
    with pytest.raises(errors.NotFound) as raised:
        store.download(SCRATCH_BUCKET, "job-3/never.zip", dest)
    assert raised.value.message == f"no object at {SCRATCH_BUCKET}/job-3/never.zip"
    assert list(tmp_path.iterdir()) == []


def test_a_missing_bucket_is_not_found(client: storage.Client, tmp_path: Path) -> None:
    source = tmp_path / "x.bin"
    source.write_bytes(b"x")
    store = GcsStore(client, {SCRATCH_BUCKET: "no-such-bucket-it"})
    with pytest.raises(errors.NotFound):
        store.upload(SCRATCH_BUCKET, "job-4/x.bin", source)


def test_an_unreachable_emulator_is_dependency_unavailable_after_bounded_retries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, pauses: list[float]
) -> None:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{_free_port()}")  # nobody listens
    gcs = storage.Client(project="appgen-it", credentials=AnonymousCredentials())
    store = GcsStore(gcs, {SCRATCH_BUCKET: SCRATCH}, retry_seconds=1.0, sleep=pauses.append)
    source, dest = tmp_path / "x", tmp_path / "y"
    source.write_bytes(b"x")
    started = time.monotonic()
    with pytest.raises(errors.DependencyUnavailable) as raised:
        store.download(SCRATCH_BUCKET, "job-5/x", dest)
    assert raised.value.message.startswith("Google Cloud Storage is unavailable (")
    assert raised.value.message.endswith(f") during: download {SCRATCH_BUCKET}/job-5/x")
    assert not dest.exists()
    with pytest.raises(errors.StepFailed) as failed:  # the upload gives up after its bounded attempts
        store.upload(SCRATCH_BUCKET, "job-5/x", source)
    assert failed.value.transient is True
    assert failed.value.code == "storage_failed"
    assert "Google Cloud Storage is unavailable" in failed.value.message
    assert pauses == [0.5, 2.0]
    assert time.monotonic() - started < 30
