"""awsroles.cache.store against botocore 1.43 and the AWS CLI v1: keys, files, round trips."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import datetime, timezone

import pytest
from botocore.credentials import (
    AssumeRoleCredentialFetcher,
    AssumeRoleWithWebIdentityCredentialFetcher,
    Credentials,
)
from botocore.utils import JSONFileCache
from dateutil.tz import tzutc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from awsroles.cache.entry import entry_expiry
from awsroles.cache.key import cache_key, default_cache_dir
from awsroles.cache.store import FileCache

ROLE = "arn:aws:iam::123456789012:role/Admin"
MFA = "arn:aws:iam::123456789012:mfa/alice"
POLICY = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}'
ALL_FOUR = {
    "RoleSessionName": "my-session",
    "ExternalId": "ext-123",
    "SerialNumber": MFA,
    "DurationSeconds": 3600,
}

# Cache file names worked out by hand, each checked against awsroles and botocore:
# (extra args, exact string hashed, file name)
WORKED = [
    (
        {},
        '{"RoleArn": "arn:aws:iam::123456789012:role/Admin"}',
        "51e7b105b5040ce662656c8dc6ab4de70c4de7ad",
    ),
    ({"RoleSessionName": ""}, None, "51e7b105b5040ce662656c8dc6ab4de70c4de7ad"),
    ({"ExternalId": "ext-123"}, None, "a6b8c994ab3e0ccaf7b57ca2771a8bb80df38498"),
    ({"SerialNumber": MFA}, None, "f6ee4f1f2e3b86d03f2a2cfc0f0c56c26c32ff64"),
    ({"RoleSessionName": "my-session"}, None, "edfd94624f3e256760dfb6103efbd0b8bdd04cfd"),
    ({"DurationSeconds": 3600}, None, "d01f726b6165762f6f71e742b03b1bc031b82dbf"),
    (
        ALL_FOUR,
        '{"DurationSeconds": 3600, "ExternalId": "ext-123", '
        '"RoleArn": "arn:aws:iam::123456789012:role/Admin", "RoleSessionName": "my-session", '
        '"SerialNumber": "arn:aws:iam::123456789012:mfa/alice"}',
        "d096b0011c76b4b918893467cf9bda41efe9a9ad",
    ),
    (
        {"RoleSessionName": "sess-\u00e9"},
        '{"RoleArn": "arn:aws:iam::123456789012:role/Admin", "RoleSessionName": "sess-\\u00e9"}',
        "e86a614256c483069d81345c73d38339e502dd01",
    ),
    ({"DurationSeconds": "3600"}, None, "3be0fa472c9f14fe2ce4906c532f36283c3b9775"),
    ({"Policy": POLICY}, None, "a4c6115be20d9a637857b6a03088f68be3a24dbd"),
]


def botocore_key(extra, role=ROLE):
    fetcher = AssumeRoleCredentialFetcher(
        client_creator=lambda *a, **kw: None,
        source_credentials=Credentials("AKIDSOURCE", "source-secret"),
        role_arn=role,
        extra_args=extra,
    )
    return fetcher._create_cache_key()


@pytest.mark.parametrize("extra, hashed, name", WORKED)
def test_worked_examples(extra, hashed, name):
    assert cache_key({"RoleArn": ROLE, **extra}) == name
    assert botocore_key(extra) == name
    if hashed is not None:
        import hashlib

        assert hashlib.sha1(hashed.encode()).hexdigest() == name


def test_worked_examples_web_identity():
    def fetcher(extra):
        return AssumeRoleWithWebIdentityCredentialFetcher(
            client_creator=lambda *a, **kw: None,
            web_identity_token_loader=lambda: "jwt",
            role_arn=ROLE,
            extra_args=extra,
        )._create_cache_key()

    assert cache_key({"RoleArn": ROLE}) == fetcher({}) == "51e7b105b5040ce662656c8dc6ab4de70c4de7ad"
    pod = {"RoleSessionName": "pod-1"}
    assert cache_key({"RoleArn": ROLE, **pod}) == fetcher(pod)
    assert fetcher(pod) == "c178e7c48bc0481fe69446ae7bee6f81a4fc7b3f"


_text = st.text(min_size=0, max_size=12)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8,
)
_args = st.fixed_dictionaries(
    {"RoleArn": _text},
    optional={
        "RoleSessionName": st.none() | _text,
        "ExternalId": _text,
        "SerialNumber": _text,
        "DurationSeconds": st.integers(0, 43200) | st.from_regex(r"\d{1,5}", fullmatch=True),
        "Policy": st.dictionaries(_text, _json, max_size=4).map(json.dumps),
        "Tags": st.lists(st.fixed_dictionaries({"Key": _text, "Value": _text}), max_size=3),
        "TransitiveTagKeys": st.lists(_text, max_size=3),
        "SourceIdentity": _text,
    },
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_args)
def test_key_equals_botocore_for_generated_args(args):
    extra = {k: v for k, v in args.items() if k != "RoleArn"}
    assert cache_key(args) == botocore_key(extra, role=args["RoleArn"])


# --- files ----------------------------------------------------------------------------------


def sts_response(expiration):
    return {
        "Credentials": {
            "AccessKeyId": "ASIASTS0018",
            "SecretAccessKey": "stssecret18",
            "SessionToken": "ststoken18",
            "Expiration": expiration,
            "AccountId": "123456789012",
        },
        "AssumedRoleUser": {
            "AssumedRoleId": "AROAFAKE:botocore-session-1795370532",
            "Arn": "arn:aws:sts::123456789012:assumed-role/Admin/botocore-session-1795370532",
        },
        "ResponseMetadata": {
            "RequestId": "req-18",
            "HTTPStatusCode": 200,
            "HTTPHeaders": {"server": "BaseHTTP/0.6", "content-type": "text/xml"},
            "RetryAttempts": 0,
        },
    }


KEY = "51e7b105b5040ce662656c8dc6ab4de70c4de7ad"


def test_our_entry_is_read_by_json_file_cache(tmp_path):
    data = sts_response("2026-11-22T19:02:23Z")
    assert FileCache(str(tmp_path)).store(KEY, data)
    assert JSONFileCache(str(tmp_path))[KEY] == data
    assert KEY in JSONFileCache(str(tmp_path))


def test_same_bytes_as_json_file_cache(tmp_path):
    data = sts_response("2026-11-22T19:02:23Z")
    FileCache(str(tmp_path / "ours")).store(KEY, data)
    JSONFileCache(str(tmp_path / "theirs"))[KEY] = data
    ours = (tmp_path / "ours" / (KEY + ".json")).read_bytes()
    assert ours == (tmp_path / "theirs" / (KEY + ".json")).read_bytes()
    assert not ours.endswith(b"\n")


def test_datetime_expiration_written_as_z_not_utc(tmp_path):
    when = datetime(2026, 11, 22, 19, 2, 12, tzinfo=tzutc())
    FileCache(str(tmp_path)).store(KEY, sts_response(when))
    text = (tmp_path / (KEY + ".json")).read_text()
    assert '"Expiration": "2026-11-22T19:02:12Z"' in text
    assert JSONFileCache(str(tmp_path))[KEY]["Credentials"]["Expiration"].endswith("Z")


@pytest.mark.parametrize(
    "expiration, suffix",
    [
        (datetime(2026, 11, 22, 19, 2, 12, tzinfo=tzutc()), "UTC"),  # botocore/boto3
        ("2026-11-22T19:02:12Z", "Z"),  # the AWS CLI v1
        ("2026-11-22T19:02:12+00:00", "+00:00"),  # cli_timestamp_format = iso8601
    ],
)
def test_we_read_entries_written_by_json_file_cache(tmp_path, expiration, suffix):
    JSONFileCache(str(tmp_path))[KEY] = sts_response(expiration)
    text = (tmp_path / (KEY + ".json")).read_text()
    assert f'"Expiration": "2026-11-22T19:02:12{suffix}"' in text
    got = FileCache(str(tmp_path)).load(KEY)
    assert got is not None and got == json.loads(text)
    assert entry_expiry(got) == datetime(2026, 11, 22, 19, 2, 12, tzinfo=timezone.utc)


def test_botocore_resolver_uses_our_entry(tmp_path, clean_env, monkeypatch):
    import botocore.session

    aws = clean_env / ".aws"
    aws.mkdir()
    (aws / "config").write_text(
        f"[profile admin]\nrole_arn = {ROLE}\nsource_profile = base\nregion = us-east-1\n"
    )
    (aws / "credentials").write_text(
        "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = basesecret\n"
    )
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9")  # a miss fails fast
    cdir = default_cache_dir(os.environ)
    data = sts_response("2099-01-01T00:00:00Z")
    data["Credentials"]["AccessKeyId"] = "ASIAFROMOURCACHE"
    assert FileCache(cdir).store(cache_key({"RoleArn": ROLE}), data)
    session = botocore.session.Session(profile="admin")
    provider = session.get_component("credential_provider").get_provider("assume-role")
    provider.cache = JSONFileCache(cdir)
    creds = session.get_credentials().get_frozen_credentials()
    assert creds.access_key == "ASIAFROMOURCACHE" and creds.token == "ststoken18"


@pytest.mark.skipif(shutil.which("aws") is None, reason="the AWS CLI is not installed")
def test_aws_cli_uses_our_entry(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(
        f"[profile admin]\nrole_arn = {ROLE}\nsource_profile = base\nregion = us-east-1\n"
    )
    (home / ".aws" / "credentials").write_text(
        "[base]\naws_access_key_id = AKIABASE\naws_secret_access_key = basesecret\n"
    )
    data = sts_response("2099-01-01T00:00:00Z")
    data["Credentials"]["AccessKeyId"] = "ASIAFROMCACHEWXYZ"
    cdir = default_cache_dir({"HOME": str(home)})
    assert FileCache(cdir).store(cache_key({"RoleArn": ROLE}), data)
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", ""),
        "AWS_ENDPOINT_URL_STS": "http://127.0.0.1:9",
    }
    out = subprocess.run(
        [shutil.which("aws"), "configure", "list", "--profile", "admin"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    line = next(ln for ln in out.stdout.splitlines() if "access_key" in ln)
    assert line.split()[1].endswith("WXYZ") and "assume-role" in line
