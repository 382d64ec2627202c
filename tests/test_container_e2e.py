"""The container provider over real sockets (the default transport) against the fake
endpoint, and differentially against botocore's ContainerProvider on the same fake."""

from __future__ import annotations

import time

import pytest
from botocore.credentials import ContainerProvider as BotoContainerProvider
from botocore.exceptions import CredentialRetrievalError as BotoRetrievalError
from botocore.utils import ContainerMetadataFetcher

from awsroles.errors import TransportError
from awsroles.providers.container import ContainerEndpointError, ContainerProvider
from awsroles.testing.fake_container import FakeContainerEndpoint

from helpers import load, make_context

pytestmark = pytest.mark.e2e

TOKEN = "e2e-container-token-PLANTED"


@pytest.fixture
def fake():
    with FakeContainerEndpoint(token=TOKEN) as endpoint:
        yield endpoint


class NoSleep:
    def __init__(self):
        self.slept = []

    def now(self):
        from datetime import datetime, timezone

        return datetime.now(timezone.utc)

    def monotonic(self):
        return time.monotonic()

    def sleep(self, seconds):
        self.slept.append(seconds)


def ours(env, **kw):
    clock = NoSleep()
    ctx = make_context(env=env, clock=clock, background_refresh=False)  # default transport
    return load(ContainerProvider(**kw), ctx), clock


def botocore_provider(env):
    slept = []
    fetcher = ContainerMetadataFetcher(sleep=slept.append)
    return BotoContainerProvider(environ=env, fetcher=fetcher), slept


def same(a, b):
    a, b = a.get_frozen_credentials(), b.get_frozen_credentials()
    assert (a.access_key, a.secret_key, a.token) == (b.access_key, b.secret_key, b.token)


def test_fake_over_sockets_with_the_default_transport(fake):
    creds, _ = ours(
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN}
    )
    got = creds.get_frozen_credentials()
    served = fake.credentials
    assert (got.access_key, got.secret_key, got.token) == (
        served.access_key,
        served.secret_key,
        served.token,
    )
    assert got.expiry == served.expiry and got.account_id == "123456789012"
    assert fake.count() == 1
    (req,) = fake.requests
    assert (req.method, req.path, req.auth, req.accept) == (
        "GET",
        "/v1/credentials",
        "ok",
        "application/json",
    )


def test_proxy_variables_are_ignored(fake, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    creds, _ = ours(
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN}
    )
    assert creds.access_key == fake.credentials.access_key and fake.count() == 1


def test_same_credentials_as_botocore(fake):
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN,
    }
    mine, _ = ours(env)
    boto, _ = botocore_provider(env)
    theirs = boto.load()
    same(mine, theirs)
    assert theirs.method == mine.method == "container-role"
    assert theirs.account_id == mine.account_id
    assert theirs._expiry_time == mine.expiry
    assert fake.count() == 2 and all(r.auth == "ok" for r in fake.requests)


def test_same_as_a_botocore_session(fake, clean_env, monkeypatch):
    import botocore.session

    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", fake.url)
    monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", TOKEN)
    theirs = botocore.session.Session().get_credentials()
    mine, _ = ours(
        {"AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN}
    )
    same(mine, theirs)
    assert theirs.method == "container-role" and fake.count() == 2


def test_token_file_and_rotation_like_botocore(fake, tmp_path):
    path = tmp_path / "eks-pod-identity-token"
    path.write_text(TOKEN)  # botocore refuses a trailing newline; see the unit tests
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(path),
    }
    mine, _ = ours(env)
    boto, _ = botocore_provider(env)
    theirs = boto.load()
    same(mine, theirs)
    fake.token = "rotated-token"
    path.write_text("rotated-token")
    fake.rotate()
    mine.refresh(force=True)
    fresh = theirs._refresh_using()  # botocore's refresh function re-reads the file too
    assert fresh["access_key"] == mine.access_key == fake.credentials.access_key
    assert [r.auth for r in fake.requests] == ["ok", "ok", "ok", "ok"]


def test_5xx_retried_like_botocore(fake):
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN,
    }
    fake.fail_next(2, 503)
    mine, clock = ours(env)
    assert fake.count() == 3 and clock.slept == [1.0, 1.0]
    fake.reset()
    fake.fail_next(2, 503)
    boto, slept = botocore_provider(env)
    same(mine, boto.load())
    assert fake.count() == 3 and slept == [1, 1]


def test_5xx_give_up_after_three_attempts_like_botocore_but_no_trailing_sleep(fake):
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN,
    }
    fake.fail_next(3, 500, b'{"SecretAccessKey": "echoed-secret-PLANTED"}')
    with pytest.raises(ContainerEndpointError) as info:
        ours(env)
    assert fake.count() == 3 and "echoed-secret" not in str(info.value)
    fake.reset()
    fake.fail_next(3, 500, b'{"SecretAccessKey": "echoed-secret-PLANTED"}')
    boto, slept = botocore_provider(env)
    with pytest.raises(BotoRetrievalError) as boto_info:
        boto.load()
    assert fake.count() == 3 and slept == [1, 1, 1]  # botocore sleeps after the last attempt
    assert "echoed-secret-PLANTED" in str(boto_info.value)  # and echoes the body


def test_4xx_not_retried_unlike_botocore(fake):
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": "wrong",
    }
    with pytest.raises(ContainerEndpointError) as info:
        ours(env)
    assert info.value.status == 403 and fake.count() == 1
    fake.reset()
    boto, _ = botocore_provider(env)
    with pytest.raises(BotoRetrievalError):
        boto.load()
    assert fake.count() == 3


def test_a_slow_endpoint_times_out_over_sockets(fake):
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN": TOKEN,
    }
    fake.slow = 0.4
    started = time.monotonic()
    with pytest.raises(TransportError) as info:
        ours(env, timeout=(1.0, 0.1), attempts=2)
    assert info.value.timeout and time.monotonic() - started < 2
    fake.slow = 0
    deadline = time.monotonic() + 2
    while fake.count() < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fake.count() == 2


def test_refused_connection_is_a_recoverable_transport_error():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed when the block ends: nothing listens there
    env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": f"http://127.0.0.1:{port}/v1/credentials"}
    with pytest.raises(TransportError) as info:
        ours(env)
    assert info.value.recoverable and "127.0.0.1" in str(info.value)


def test_token_file_with_trailing_newline_works_where_botocore_refuses_it(fake, tmp_path):
    path = tmp_path / "token"
    path.write_text(TOKEN + "\n")  # what `echo "$TOKEN" > file` writes
    env = {
        "AWS_CONTAINER_CREDENTIALS_FULL_URI": fake.url,
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE": str(path),
    }
    mine, _ = ours(env)
    assert mine.access_key == fake.credentials.access_key and fake.requests[0].auth == "ok"
    boto, _ = botocore_provider(env)
    with pytest.raises(ValueError, match="not a legal header value"):
        boto.load()
    assert fake.count() == 1  # botocore refused before sending anything
