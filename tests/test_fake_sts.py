"""FakeSTS is strict (real SigV4 checks, real STS errors) and faithful (botocore works with it)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest

from awsroles.credentials import Credentials
from awsroles.errors import (
    AccessDeniedError,
    ExpiredTokenError,
    STSError,
    STSServiceError,
    ThrottlingError,
)
from awsroles.sts.client import AssumeRoleParams, StsClient
from awsroles.sts.endpoint import StsEndpoint
from awsroles.testing.clock import FrozenClock
from awsroles.testing.fake_sts import FakeSTS, StsCall
from awsroles.transport.base import HttpRequest

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCOUNT = "123456789012"
ROLE_A = f"arn:aws:iam::{ACCOUNT}:role/RoleA"
ROLE_B = f"arn:aws:iam::{ACCOUNT}:role/team/RoleB"
KEY, SECRET = "AKIAFAKESTSBASE00001", "base-secret-key-0000000000000000000000001"


@pytest.fixture
def sts():
    with FakeSTS() as server:
        server.add_user(KEY, SECRET, name="alice")
        yield server


def client_for(server, **kw):
    kw.setdefault("clock", FrozenClock(datetime.now(timezone.utc)))  # instant backoff
    return StsClient(StsEndpoint(server.url, "us-east-1", "test"), **kw)


BASE = Credentials(KEY, SECRET)


def test_assume_role_and_caller_identity(sts):
    client = client_for(sts)
    creds = client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1")).credentials("assume-role")
    assert creds.access_key.startswith("ASIA") and len(creds.access_key) == 20
    assert creds.account_id == ACCOUNT
    assert client.get_caller_identity(creds)["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleA/s1"
    )
    assert client.get_caller_identity(BASE)["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/alice"
    assert sts.count("AssumeRole") == 1 and sts.count("GetCallerIdentity") == 2
    assert sts.count() == 3


def test_multi_hop_chain_with_issued_credentials(sts):
    client = client_for(sts)
    hop1 = client.assume_role(BASE, AssumeRoleParams(ROLE_A, "hop1")).credentials("a")
    hop2 = client.assume_role(hop1, AssumeRoleParams(ROLE_B, "hop2")).credentials("a")
    assert client.get_caller_identity(hop2)["Arn"] == (
        f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleB/hop2"
    )
    assert [c.access_key for c in sts.calls] == [KEY, hop1.access_key, hop2.access_key]


def test_unsigned_assume_role_is_rejected(sts):
    from awsroles.transport import default_transport

    body = f"Action=AssumeRole&Version=2011-06-15&RoleArn={ROLE_A}&RoleSessionName=x1".encode()
    response = default_transport()(
        HttpRequest(
            "POST",
            sts.url + "/",
            body=body,
            headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
        )
    )
    assert response.status == 403 and b"MissingAuthenticationToken" in response.body
    assert response.headers["content-type"] == "text/xml"
    assert b"<RequestId>" in response.body and "x-amzn-requestid" in response.headers


def test_bad_signature_and_unknown_key_are_rejected(sts):
    client = client_for(sts)
    with pytest.raises(STSError) as exc:
        client.assume_role(Credentials(KEY, "wrong-secret"), AssumeRoleParams(ROLE_A, "s1"))
    assert exc.value.code == "SignatureDoesNotMatch" and exc.value.status == 403
    with pytest.raises(STSError) as exc:
        client.assume_role(Credentials("AKIAUNKNOWN000000000", "x"), AssumeRoleParams(ROLE_A, "s1"))
    assert exc.value.code == "InvalidClientTokenId"
    # an issued key without its session token is not valid either
    issued = client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1")).credentials("a")
    with pytest.raises(STSError, match="InvalidClientTokenId"):
        client.get_caller_identity(Credentials(issued.access_key, issued.secret_key))


def test_duration_limits_and_expiration():
    clock = FrozenClock(datetime(2030, 1, 1, tzinfo=timezone.utc))
    with FakeSTS(clock=clock) as sts:
        sts.add_user(KEY, SECRET)
        client = client_for(sts)
        for bad in (899, 43201):
            with pytest.raises(STSError) as exc:
                client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1", duration_seconds=bad))
            assert exc.value.code == "ValidationError" and "durationSeconds" in str(exc.value)
        data = client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1", duration_seconds=43200)).data
        assert data["Credentials"]["Expiration"] == "2030-01-01T12:00:00Z"
        hop1 = client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1")).credentials("a")
        assert hop1.expiry == datetime(2030, 1, 1, 1, tzinfo=timezone.utc)  # default 3600
        with pytest.raises(STSError, match="role chaining"):
            client.assume_role(hop1, AssumeRoleParams(ROLE_B, "s2", duration_seconds=7200))
        sts.add_role(ROLE_B, max_session_duration=3600)
        with pytest.raises(STSError, match="MaxSessionDuration"):
            client.assume_role(BASE, AssumeRoleParams(ROLE_B, "s2", duration_seconds=7200))
        clock.advance(hours=1)
        with pytest.raises(ExpiredTokenError):
            client.assume_role(hop1, AssumeRoleParams(ROLE_B, "s2"))


def test_values_with_a_trailing_newline_are_refused_as_real_sts_does(sts):
    client = client_for(sts)
    for params, field in (
        (AssumeRoleParams(ROLE_A, "s1\n"), "roleSessionName"),
        (AssumeRoleParams(ROLE_A + "\n", "s1"), None),
        (
            AssumeRoleParams(ROLE_A, "s1", serial_number="arn:mfa", token_code="123456\n"),
            "tokenCode",
        ),
    ):
        with pytest.raises(STSError) as exc:
            client.assume_role(BASE, params)
        assert exc.value.code == "ValidationError"
        assert field is None or field in str(exc.value)


def test_role_rules(sts):
    client = client_for(sts)
    mfa = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
    sts.add_role(ROLE_A, external_id="ext-123", mfa_serial=mfa, mfa_code="918273")
    sts.deny_role(ROLE_B)
    with pytest.raises(AccessDeniedError, match="is not authorized to perform: sts:AssumeRole"):
        client.assume_role(BASE, AssumeRoleParams(ROLE_B, "s1"))
    with pytest.raises(AccessDeniedError):  # no external id
        client.assume_role(
            BASE, AssumeRoleParams(ROLE_A, "s1", serial_number=mfa, token_code="918273")
        )
    with pytest.raises(AccessDeniedError):  # no MFA
        client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1", external_id="ext-123"))
    with pytest.raises(AccessDeniedError, match="invalid MFA one time pass code"):
        client.assume_role(
            BASE,
            AssumeRoleParams(
                ROLE_A, "s1", external_id="ext-123", serial_number=mfa, token_code="564738"
            ),
        )
    ok = client.assume_role(
        BASE,
        AssumeRoleParams(
            ROLE_A, "s1", external_id="ext-123", serial_number=mfa, token_code="918273"
        ),
    )
    assert ok.credentials("a").access_key.startswith("ASIA")
    for call in sts.calls:
        assert "918273" not in repr(call) and "564738" not in repr(call)
    assert sts.calls[-1].params["TokenCode"] == "****"


def test_strict_roles():
    with FakeSTS(strict_roles=True) as sts:
        sts.add_user(KEY, SECRET)
        sts.add_role(ROLE_A)
        client = client_for(sts)
        client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1"))
        with pytest.raises(AccessDeniedError):
            client.assume_role(BASE, AssumeRoleParams(ROLE_B, "s1"))


def test_web_identity(sts):
    client = StsClient(StsEndpoint(sts.url, None, "test"))  # unsigned: no region needed
    response = client.assume_role_with_web_identity(ROLE_A, "web", "fake-web-identity-token\n")
    assert list(response.data) == [
        "Credentials",
        "SubjectFromWebIdentityToken",
        "AssumedRoleUser",
        "Provider",
        "Audience",
        "ResponseMetadata",
    ]
    creds = response.credentials("assume-role-with-web-identity")
    assert client_for(sts).get_caller_identity(creds)["Arn"].endswith("assumed-role/RoleA/web")
    with pytest.raises(STSError) as exc:
        client.assume_role_with_web_identity(ROLE_A, "web", "some-other-token")
    assert exc.value.code == "InvalidIdentityToken"
    assert {c.params["WebIdentityToken"] for c in sts.calls if "WebIdentityToken" in c.params} == {
        "****"
    }
    assert sts.calls[0].access_key is None


def test_fault_injection(sts):
    client = client_for(sts)
    sts.fail_next(2)
    response = client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1"))
    assert response.retry_attempts == 2
    assert [c.status for c in sts.calls] == [503, 503, 200]
    sts.throttle_next(3)
    with pytest.raises(ThrottlingError):
        client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1"))
    sts.fail_next(1, status=500, code="InternalFailure", action="GetCallerIdentity")
    client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1"))  # not affected
    with pytest.raises(STSServiceError):
        client_for(sts, max_attempts=1).get_caller_identity(BASE)
    assert sts.count(status=400) == 3
    sts.reset()
    assert sts.calls == [] and sts.count() == 0


def test_delay(sts):
    sts.delay = 0.3
    started = time.monotonic()
    client_for(sts).get_caller_identity(BASE)
    assert time.monotonic() - started >= 0.3


def test_concurrent_threads(sts):
    client = client_for(sts)
    results, errors = [], []

    def work():
        try:
            results.append(client.assume_role(BASE, AssumeRoleParams(ROLE_A, "s1")))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and sts.count("AssumeRole") == 16
    assert len({r.credentials("a").access_key for r in results}) == 16


def test_several_processes_at_once(sts):
    code = (
        "import sys; from awsroles.sts.client import StsClient, AssumeRoleParams; "
        "from awsroles.sts.endpoint import StsEndpoint; from awsroles.credentials import "
        "Credentials; c = StsClient(StsEndpoint(sys.argv[1], 'us-east-1', 't')); "
        "r = c.assume_role(Credentials(sys.argv[2], sys.argv[3]), "
        "AssumeRoleParams(sys.argv[4], 'proc')); print(r.credentials('a').access_key)"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, sts.url, KEY, SECRET, ROLE_A],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    outs = [p.communicate(timeout=60) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert len({o[0].strip() for o in outs}) == 4
    assert sts.count("AssumeRole") == 4


def test_calls_are_named_tuples(sts):
    client_for(sts).get_caller_identity(BASE)
    call = sts.calls[0]
    assert isinstance(call, StsCall)
    assert (call.action, call.access_key, call.status) == ("GetCallerIdentity", KEY, 200)
    assert call.params == {"Action": "GetCallerIdentity", "Version": "2011-06-15"}


def test_not_running_has_no_url():
    with pytest.raises(RuntimeError):
        _ = FakeSTS().url


# --- botocore's own client against the fake ---------------------------------------------------


def _botocore_sts(server, key, secret, token=None, **kw):
    import botocore.session

    session = botocore.session.Session()
    return session.create_client(
        "sts",
        region_name="eu-west-1",
        endpoint_url=server.url,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        **kw,
    )


def test_botocore_client_works_against_fake(sts, monkeypatch):
    from botocore import UNSIGNED
    from botocore.config import Config
    from botocore.exceptions import ClientError

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    bc = _botocore_sts(sts, KEY, SECRET)
    out = bc.assume_role(
        RoleArn=ROLE_A,
        RoleSessionName="boto",
        DurationSeconds=900,
        Policy='{"Version":"2012-10-17"}',
        Tags=[{"Key": "k", "Value": "v"}],
        SourceIdentity="alice",
    )
    assert out["PackedPolicySize"] == 6 and out["SourceIdentity"] == "alice"
    assert out["Credentials"]["Expiration"] - datetime.now(timezone.utc) <= timedelta(seconds=900)
    creds = out["Credentials"]
    bc2 = _botocore_sts(sts, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])
    assert bc2.get_caller_identity()["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/RoleA/boto"
    web = _botocore_sts(sts, None, None, config=Config(signature_version=UNSIGNED))
    out = web.assume_role_with_web_identity(
        RoleArn=ROLE_B, RoleSessionName="web", WebIdentityToken="fake-web-identity-token"
    )
    assert out["SubjectFromWebIdentityToken"] == "system:serviceaccount:ns:sa"
    sts.deny_role(ROLE_B)
    with pytest.raises(ClientError) as exc:
        bc.assume_role(RoleArn=ROLE_B, RoleSessionName="boto")
    assert exc.value.response["Error"]["Code"] == "AccessDenied"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as exc:
        _botocore_sts(sts, KEY, "wrong").get_caller_identity()
    assert exc.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
