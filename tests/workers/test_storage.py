"""Storage backends: the S3 one through boto3 against the local S3-compatible server, and the
local one with its signed links served by the web process."""
import time

import pytest
import requests

from app.settings import Settings
from app.storage import LocalStorage, S3Storage, inbound_audio_key, recording_key
from tests.conftest import JWT_KEYS, SECRET, service_url

pytestmark = pytest.mark.services


@pytest.fixture()
def s3(unique):
    settings = Settings.from_env({"CALLSCOPE_JWT_KEYS": JWT_KEYS, "CALLSCOPE_SECRET_KEY": SECRET,
                                  "CALLSCOPE_STORAGE": "s3", "CALLSCOPE_S3_BUCKET": f"b-{unique}",
                                  "CALLSCOPE_S3_ENDPOINT_URL": service_url("S3_ENDPOINT"),
                                  "CALLSCOPE_S3_ACCESS_KEY_ID": "testing",
                                  "CALLSCOPE_S3_SECRET_ACCESS_KEY": "testing"})
    storage = S3Storage.from_settings(settings)
    storage.ensure_bucket()
    return storage


def test_s3_round_trip_and_presign(s3, tmp_path):
    src = tmp_path / "in.wav"
    src.write_bytes(b"RIFF" + bytes(range(256)) * 100)
    key = recording_key(7, 42, "wav")
    assert key == "recordings/7/42/original.wav"
    assert not s3.exists(key)
    s3.put_file(key, str(src), "audio/wav")
    s3.put_file(key, str(src), "audio/wav")  # re-run: same key, one object
    assert s3.exists(key)
    s3.get_file(key, str(tmp_path / "out"))
    assert (tmp_path / "out").read_bytes() == src.read_bytes()
    url = s3.presign(key, 3600)
    response = requests.get(url, timeout=10)
    assert response.status_code == 200 and response.content == src.read_bytes()
    assert "X-Amz-Expires=3600" in url


def test_s3_deletes_one_platform_audio_object(s3, tmp_path):
    """Erasure deletes a platform's audio stored outside the call's prefix; twice is no error."""
    src = tmp_path / "in.mp3"
    src.write_bytes(b"ID3audio")
    key, other = inbound_audio_key(7, 3, "conv-1"), inbound_audio_key(7, 3, "conv-10")
    for k in (key, other):
        s3.put_file(k, str(src), "audio/mpeg")
    s3.delete_key(key)
    s3.delete_key(key)
    assert not s3.exists(key) and s3.exists(other)
    with pytest.raises(ValueError):
        s3.delete_key("inbound/7/3/")


def test_local_storage_signed_links(tmp_path):
    storage = LocalStorage(str(tmp_path), "http://127.0.0.1:8000", SECRET)
    src = tmp_path / "in.wav"
    src.write_bytes(b"RIFFdata")
    key = recording_key(1, 2, "wav")
    storage.put_file(key, str(src), "audio/wav")
    url = storage.presign(key, 60)
    from urllib.parse import parse_qs, urlsplit

    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert storage.signed_path(q["key"], q["expires"], q["signature"]).read_bytes() == b"RIFFdata"
    assert storage.signed_path(q["key"], q["expires"], "0" * 64) is None            # forged
    assert storage.signed_path(q["key"], q["expires"], "é" * 64) is None            # non-ASCII: no TypeError
    assert storage.signed_path(q["key"], str(int(time.time()) - 1), q["signature"]) is None  # expired
    assert storage.signed_path("recordings/1/2/../../x.wav", q["expires"], q["signature"]) is None
    with pytest.raises(ValueError):
        storage.path_of("../etc/passwd")


def test_platform_call_ids_never_share_an_audio_object(tmp_path):
    """Audio a platform sends inside its event is stored per call id: ids that differ only in
    characters a key cannot hold, or beyond the first 200, get their own objects (else one call
    would be analysed with another's audio), every key is one the stores accept, and the same id
    always gives the same key (a resent event overwrites its own audio)."""
    storage = LocalStorage(str(tmp_path), "http://127.0.0.1:8000", SECRET)
    ids = ["conv.1", "conv_1", "conv-1", "conv:1", "appel-é1", "appel-è1", "x" * 200, "x" * 200 + "1",
           "x" * 200 + "2", "", "../../etc/passwd"]
    keys = [inbound_audio_key(7, 3, i) for i in ids]
    assert len(set(keys)) == len(ids)
    assert inbound_audio_key(7, 3, "conv_1") == "inbound/7/3/conv_1.mp3"   # a plain id is the name itself
    assert keys == [inbound_audio_key(7, 3, i) for i in ids]
    for key in keys:
        assert storage.path_of(key).is_relative_to(tmp_path.resolve() / "inbound" / "7" / "3")
