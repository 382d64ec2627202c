"""IMDS over real sockets: FakeIMDS on 127.0.0.1 with the default transport (``http.client``),
and a differential run of botocore's own chain against the same fake.

botocore cannot take a frozen clock, so the fake runs on the real one. Measured request counts
(first fetch, then each refresh): botocore 3 and 3 (a new token every retrieval), awsroles 3 and
2 (the token is kept until near its TTL).
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

import pytest

from awsroles.providers.imds import ImdsProvider
from awsroles.testing.clock import FrozenClock
from awsroles.testing.fake_imds import CREDENTIALS_PATH, TOKEN_PATH, FakeIMDS

from helpers import load, make_context

pytestmark = pytest.mark.e2e

_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def imds():
    with FakeIMDS(role="e2e-role") as server:
        yield server


@pytest.fixture
def env(clean_env, monkeypatch, imds):
    """The process environment (botocore reads os.environ) pointing at the fake."""
    for name in list(os.environ):
        if name.lower() in _PROXY_VARS:
            monkeypatch.delenv(name)
    config = clean_env / "config"
    config.write_text("")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(clean_env / "credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.url)
    return dict(os.environ)


def ours(env, clock=None):
    ctx = make_context(env=env, background_refresh=False, **({"clock": clock} if clock else {}))
    return load(ImdsProvider(), ctx)


def test_default_transport_over_sockets(env, imds):
    creds = ours(env)
    frozen = creds.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        imds.credentials.access_key,
        imds.credentials.secret_key,
        imds.credentials.token,
    )
    assert frozen.expiry == imds.credentials.expiry and creds.method == "iam-role"
    assert [(r.method, r.path, r.auth) for r in imds.requests] == [
        ("PUT", TOKEN_PATH, "none"),
        ("GET", CREDENTIALS_PATH, "token"),
        ("GET", CREDENTIALS_PATH + "e2e-role", "token"),
    ]
    imds.reset()
    new = imds.rotate()
    creds.refresh(force=True)
    assert creds.get_frozen_credentials().access_key == new.access_key
    assert imds.count() == 2 and imds.count("PUT") == 0


def test_read_timeout_on_the_token_falls_back_to_v1(env, imds):
    imds.v1_allowed, imds.slow, imds.slow_path = True, 0.6, TOKEN_PATH
    env["AWS_METADATA_SERVICE_TIMEOUT"] = "0.2"  # a float: botocore crashes on it
    assert ours(env) is not None
    assert [r.auth for r in imds.requests if r.method == "GET"] == ["none", "none"]


def test_down_gives_none_and_after_success_keeps_serving(env, imds):
    clock = FrozenClock(datetime.now(timezone.utc))
    creds = ours(env, clock)
    first = creds.get_frozen_credentials()
    imds.down = True
    assert ours(env) is None  # connection refused: the chain goes on
    clock.advance(hours=5, minutes=50)  # advisory window of a 6 h set
    assert creds.get_frozen_credentials() is first
    clock.advance(minutes=9, seconds=40)  # 20 s left
    assert creds.get_frozen_credentials() is first
    imds.down = False
    assert ours(env) is not None


def _botocore_session():
    import botocore.session

    return botocore.session.Session()


def test_differential_against_botocore(env, imds):
    from botocore.credentials import _local_now

    # botocore: the whole default chain, IMDS found through AWS_EC2_METADATA_SERVICE_ENDPOINT.
    theirs = _botocore_session().get_credentials()
    assert theirs.method == "iam-role"
    boto_first = imds.count()
    imds.reset()
    theirs._expiry_time = _local_now()  # force botocore's next access to refresh
    rotated = imds.rotate()
    assert theirs.get_frozen_credentials().access_key == rotated.access_key
    boto_refresh = imds.count()

    imds.reset()
    mine = ours(env)
    our_first = imds.count()
    a, b = mine.get_frozen_credentials(), theirs.get_frozen_credentials()
    assert (a.access_key, a.secret_key, a.token) == (b.access_key, b.secret_key, b.token)
    assert a.expiry == theirs._expiry_time
    our_refreshes = []
    for _ in range(3):
        imds.reset()
        rotated = imds.rotate()
        mine.refresh(force=True)
        assert mine.get_frozen_credentials().access_key == rotated.access_key
        our_refreshes.append(imds.count())
    print(
        f"IMDS requests: botocore first={boto_first} refresh={boto_refresh}; "
        f"awsroles first={our_first} refreshes={our_refreshes}"
    )
    assert (boto_first, boto_refresh) == (3, 3)
    assert our_first == 3 and max(our_refreshes) <= 2


def test_differential_outage_during_refresh(env, imds):
    """When IMDS fails in the advisory window, botocore raises although the credentials it
    holds are still valid; awsroles keeps serving them."""
    import botocore.exceptions
    from botocore.credentials import _local_now

    theirs = _botocore_session().get_credentials()
    clock = FrozenClock(datetime.now(timezone.utc))
    mine = ours(env, clock)
    kept = mine.get_frozen_credentials()
    imds.down = True
    theirs._expiry_time = _local_now() + timedelta(minutes=12)  # advisory for botocore
    with pytest.raises(botocore.exceptions.CredentialRetrievalError):
        theirs.get_frozen_credentials()
    clock.set(kept.expiry - timedelta(minutes=12))
    assert mine.get_frozen_credentials() is kept


@pytest.mark.parametrize(
    "setup, extra_env, outcome",
    [
        ({"token_status": 403, "v1_allowed": True}, {}, "creds"),
        ({"token_status": 405, "v1_allowed": True}, {}, "creds"),
        ({"token_status": 404}, {}, "none"),  # v1 refused by the service: 401
        ({"role": None}, {"AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2"}, "none"),
        ({"fail": (1, 400)}, {}, "none"),
        ({"fail": (2, 503)}, {"AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2"}, "none"),
        ({"fail": (1, 503)}, {"AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2"}, "creds"),
        (
            {"token_status": 403, "v1_allowed": True},
            {"AWS_EC2_METADATA_V1_DISABLED": "true"},
            "error",
        ),
        ({}, {"AWS_EC2_METADATA_DISABLED": "true"}, "none"),
    ],
)
def test_differential_outcomes(env, imds, monkeypatch, setup, extra_env, outcome):
    """Same outcome as botocore's chain: credentials, nothing (chain goes on) or an error."""
    from awsroles.errors import AwsRolesError

    for name, value in extra_env.items():
        monkeypatch.setenv(name, value)
    env.update(extra_env)

    def arm():
        imds.reset()
        for name, value in setup.items():
            if name == "fail":
                imds.fail_next(*value)
            else:
                setattr(imds, name, value)

    def run(side):
        arm()
        try:
            creds = side()
        except Exception as exc:  # noqa: BLE001
            return "error", exc, imds.count()
        return ("none" if creds is None else "creds"), None, imds.count()

    boto = run(lambda: _botocore_session().get_credentials())
    mine = run(lambda: ours(env))
    assert boto[0] == mine[0] == outcome, (boto, mine)
    assert mine[2] <= boto[2]
    if outcome == "error":
        assert isinstance(mine[1], AwsRolesError)
