"""awsroles.sts.client against botocore as the oracle, with an in-memory transport and a
frozen clock."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from unittest import mock
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awsroles.credentials import Credentials
from awsroles.errors import (
    AccessDeniedError,
    ExpiredTokenError,
    InvalidConfigError,
    MalformedResponseError,
    RegionDisabledError,
    STSError,
    STSServiceError,
    ThrottlingError,
    TransportError,
)
from awsroles.sts.client import (
    AssumeRoleParams,
    StsClient,
    StsResponse,
    credentials_from_response,
    parse_expiration,
)
from awsroles.sts.endpoint import StsEndpoint, resolve_sts_endpoint
from awsroles.testing.clock import FrozenClock
from awsroles.transport.base import HttpRequest, HttpResponse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ROLE = "arn:aws:iam::123456789012:role/Admin"
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)

# planted secrets: none of these may appear in any message, repr or log record
SECRET_KEY = "SrcSecretKeyPlanted0000000000000000000001"
SOURCE_TOKEN = "SrcSessionTokenPlanted/abc+def=="
MFA_CODE = "987654"
WEB_TOKEN = "eyJplanted.web-identity.token"
NEW_SECRET = "NewSecretPlanted00000000000000000000000002"
NEW_TOKEN = "NewSessionTokenPlanted//zz=="
SECRETS = (SECRET_KEY, SOURCE_TOKEN, MFA_CODE, WEB_TOKEN, NEW_SECRET, NEW_TOKEN)

SOURCE = Credentials("AKIASOURCE0000000001", SECRET_KEY, method="shared-credentials-file")
TEMP_SOURCE = Credentials("ASIASOURCE0000000001", SECRET_KEY, SOURCE_TOKEN, method="x")
HEADERS = {
    "x-amzn-requestid": "req-1",
    "content-type": "text/xml",
    "content-length": "577",
    "date": "Tue, 01 Jan 2030 00:00:00 GMT",
}


def assume_role_xml(reverse=False, packed=None, source_identity=None, arn=None):
    arn = arn or "arn:aws:sts::123456789012:assumed-role/Admin/sess"
    parts = [
        f"<AssumedRoleUser><AssumedRoleId>AROAEXAMPLE:sess</AssumedRoleId><Arn>{arn}</Arn>"
        "</AssumedRoleUser>",
        f"<Credentials><AccessKeyId>ASIANEW0000000000001</AccessKeyId><SecretAccessKey>"
        f"{NEW_SECRET}</SecretAccessKey><SessionToken>{NEW_TOKEN}</SessionToken>"
        "<Expiration>2030-01-01T01:00:00Z</Expiration></Credentials>",
    ]
    if packed is not None:
        parts.append(f"<PackedPolicySize>{packed}</PackedPolicySize>")
    if source_identity:
        parts.append(f"<SourceIdentity>{source_identity}</SourceIdentity>")
    if reverse:
        parts.reverse()
    return (
        f'<AssumeRoleResponse xmlns="{NS}"><AssumeRoleResult>{"".join(parts)}'
        "</AssumeRoleResult><ResponseMetadata><RequestId>req-1</RequestId>"
        "</ResponseMetadata></AssumeRoleResponse>"
    ).encode()


def web_identity_xml():
    return (
        f'<AssumeRoleWithWebIdentityResponse xmlns="{NS}"><AssumeRoleWithWebIdentityResult>'
        "<Audience>sts.amazonaws.com</Audience><Provider>arn:aws:iam::123456789012:"
        "oidc-provider/oidc.example.com</Provider><AssumedRoleUser><AssumedRoleId>AROAW:web"
        "</AssumedRoleId><Arn>arn:aws:sts::123456789012:assumed-role/Web/web</Arn>"
        "</AssumedRoleUser><SubjectFromWebIdentityToken>system:serviceaccount:ns:sa"
        "</SubjectFromWebIdentityToken><Credentials><AccessKeyId>ASIAWEB</AccessKeyId>"
        f"<SecretAccessKey>{NEW_SECRET}</SecretAccessKey><SessionToken>{NEW_TOKEN}"
        "</SessionToken><Expiration>2030-01-01T01:00:00Z</Expiration></Credentials>"
        "</AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>req-w"
        "</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>"
    ).encode()


def error_xml(code, message, status_type="Sender"):
    return (
        f'<ErrorResponse xmlns="{NS}"><Error><Type>{status_type}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>req-e</RequestId>"
        "</ErrorResponse>"
    ).encode()


def ok(body=None):
    return HttpResponse(200, dict(HEADERS), body if body is not None else assume_role_xml())


def err(status, code, message="msg"):
    return HttpResponse(status, {"content-type": "text/xml"}, error_xml(code, message))


class MemoryTransport:
    """Records HttpRequests, answers with canned HttpResponses (or raises given exceptions)."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.requests: list[HttpRequest] = []

    def __call__(self, request: HttpRequest) -> HttpResponse:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


EU = StsEndpoint("https://sts.eu-west-1.amazonaws.com", "eu-west-1", "test")


def client(*answers, endpoint=EU, **kw):
    transport = MemoryTransport(*answers)
    kw.setdefault("clock", FrozenClock(T0))
    kw.setdefault("rng", lambda: 0.5)
    return StsClient(endpoint, transport=transport, **kw), transport


FULL = AssumeRoleParams(
    role_arn=ROLE,
    role_session_name="my-session",
    external_id="ext id/ü~",
    serial_number="arn:aws:iam::123456789012:mfa/alice",
    token_code=MFA_CODE,
    duration_seconds=3600,
    policy='{"Version": "2012-10-17", "Statement": []}',
    policy_arns=("arn:aws:iam::aws:policy/A", "arn:aws:iam::aws:policy/B"),
    tags=(("team", "blue"), ("cost center", "4 2")),
    transitive_tag_keys=("team",),
    source_identity="alice",
)


# --- botocore oracle helpers -----------------------------------------------------------------


class _Raw:
    def __init__(self, body):
        self._body = body

    def stream(self, **kw):
        yield self._body


def botocore_client(env=None, **kw):
    import botocore.session

    base = {"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
    with mock.patch.dict(os.environ, {**base, **(env or {})}, clear=True):
        return botocore.session.Session().create_client(
            "sts",
            region_name="eu-west-1",
            aws_access_key_id=SOURCE.access_key,
            aws_secret_access_key=SOURCE.secret_key,
            aws_session_token=SOURCE.token,
            **kw,
        )


def capture(bc, call, body=None, headers=None):
    """Run one botocore call; return (AWSRequest sent, parsed response)."""
    from botocore.awsrequest import AWSResponse

    sent = []

    def hook(request, **kw):
        sent.append(request)
        return AWSResponse(
            request.url, 200, headers or dict(HEADERS), _Raw(body or assume_role_xml())
        )

    bc.meta.events.register("before-send", hook)
    fixed = T0.replace(tzinfo=None)
    with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
        result = call(bc)
    return sent[0], result


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


# --- request: body, headers, signature ----------------------------------------------------


def test_body_is_byte_identical_to_botocore_serializer():
    sts, transport = client(ok())
    sts.assume_role(SOURCE, FULL)
    ours = transport.requests[0]
    theirs, _ = capture(
        botocore_client(), lambda c: c.assume_role(**FULL.api_kwargs(include_token_code=True))
    )
    assert ours.body == _text(theirs.body).encode()
    pairs = parse_qsl(ours.body.decode())
    assert pairs[:2] == [("Action", "AssumeRole"), ("Version", "2011-06-15")]
    assert ("PolicyArns.member.2.arn", "arn:aws:iam::aws:policy/B") in pairs
    assert ("Tags.member.2.Key", "cost center") in pairs
    assert ("TransitiveTagKeys.member.1", "team") in pairs


def test_signature_is_byte_identical_to_botocore():
    sts, transport = client(ok())
    sts.assume_role(SOURCE, FULL)
    ours = transport.requests[0]
    theirs, _ = capture(
        botocore_client(), lambda c: c.assume_role(**FULL.api_kwargs(include_token_code=True))
    )
    assert ours.url == theirs.url == "https://sts.eu-west-1.amazonaws.com/"
    for name in ("Authorization", "X-Amz-Date", "Content-Type"):
        assert ours.headers[name] == _text(theirs.headers[name]), name
    assert "SignedHeaders=content-type;host;x-amz-date," in ours.headers["Authorization"]
    assert ours.headers["User-Agent"].startswith("awsroles/")
    assert ours.headers["Content-Type"] == "application/x-www-form-urlencoded; charset=utf-8"


def test_user_agent_names_python_and_os_as_platform_does():
    import platform

    from awsroles.sts.client import default_user_agent

    ua = default_user_agent()
    assert f" python/{platform.python_version()} " in ua
    assert ua.endswith(f" os/{platform.system().lower() or 'other'}")


def test_session_token_is_sent_and_signed():
    sts, transport = client(ok())
    sts.assume_role(TEMP_SOURCE, AssumeRoleParams(ROLE, "sess"))
    headers = transport.requests[0].headers
    assert headers["X-Amz-Security-Token"] == SOURCE_TOKEN
    assert "x-amz-security-token" in headers["Authorization"]
    assert verify_signature(transport.requests[0], TEMP_SOURCE)


def verify_signature(request: HttpRequest, creds: Credentials) -> bool:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials as BC

    signed = {k: v for k, v in request.headers.items() if k not in ("Authorization", "User-Agent")}
    again = AWSRequest("POST", request.url, data=request.body, headers=signed)
    fixed = datetime.strptime(request.headers["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
    with mock.patch("botocore.auth.get_current_datetime", return_value=fixed):
        SigV4Auth(BC(creds.access_key, creds.secret_key, creds.token), "sts", "eu-west-1").add_auth(
            again
        )
    return again.headers["Authorization"] == request.headers["Authorization"]


def test_profile_driven_botocore_request_is_byte_identical(tmp_path):
    """botocore's own AssumeRoleProvider (profile with role_session_name) sends our bytes."""
    import botocore.session
    from botocore.awsrequest import AWSResponse

    cfg = tmp_path / "config"
    cfg.write_text(
        f"[profile admin]\nrole_arn = {ROLE}\nsource_profile = base\nrole_session_name = s1\n"
        "external_id = ext-1\nmfa_serial = arn:aws:iam::123456789012:mfa/alice\n"
        f"duration_seconds = 1800\nregion = eu-west-1\n[profile base]\n"
        f"aws_access_key_id = {SOURCE.access_key}\naws_secret_access_key = {SECRET_KEY}\n"
    )
    sent = []

    def hook(request, **kw):
        sent.append(request)
        return AWSResponse(request.url, 200, dict(HEADERS), _Raw(assume_role_xml()))

    env = {
        "AWS_CONFIG_FILE": str(cfg),
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "HOME": str(tmp_path),
    }
    with mock.patch.dict(os.environ, env, clear=True):
        session = botocore.session.Session(profile="admin")
        session.register("before-send.sts", hook)
        provider = session.get_component("credential_provider").get_provider("assume-role")
        provider._prompter = lambda prompt: MFA_CODE
        session.get_credentials().get_frozen_credentials()
    params = AssumeRoleParams(
        ROLE,
        "s1",
        external_id="ext-1",
        serial_number="arn:aws:iam::123456789012:mfa/alice",
        token_code=MFA_CODE,
        duration_seconds=1800,
    )
    sts, transport = client(ok())
    sts.assume_role(SOURCE, params)
    assert transport.requests[0].body == _text(sent[0].body).encode()


def test_web_identity_is_unsigned_and_matches_botocore_provider(tmp_path):
    import botocore.session
    from botocore.awsrequest import AWSResponse

    token_file = tmp_path / "token"
    token_file.write_text(WEB_TOKEN + "\n")
    sent = []

    def hook(request, **kw):
        sent.append(request)
        return AWSResponse(request.url, 200, dict(HEADERS), _Raw(web_identity_xml()))

    env = {
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_WEB_IDENTITY_TOKEN_FILE": str(token_file),
        "AWS_ROLE_ARN": ROLE,
        "AWS_ROLE_SESSION_NAME": "web",
        "AWS_DEFAULT_REGION": "eu-west-1",
    }
    with mock.patch.dict(os.environ, env, clear=True):
        session = botocore.session.Session()
        session.register("before-send.sts", hook)
        session.get_credentials().get_frozen_credentials()
    no_region = StsEndpoint("http://127.0.0.1:9", None, "test")
    sts, transport = client(ok(web_identity_xml()), endpoint=no_region)
    sts.assume_role_with_web_identity(ROLE, "web", WEB_TOKEN + "\n")
    request = transport.requests[0]
    assert request.body == _text(sent[0].body).encode()
    assert "Authorization" not in request.headers and "X-Amz-Date" not in request.headers
    assert "Authorization" not in sent[0].headers


def test_web_identity_duration_is_sent():
    sts, transport = client(ok(web_identity_xml()))
    sts.assume_role_with_web_identity(ROLE, "web", WEB_TOKEN, duration_seconds=900)
    assert ("DurationSeconds", "900") in parse_qsl(transport.requests[0].body.decode())


def test_signed_call_without_region_is_a_config_error():
    sts, transport = client(ok(), endpoint=StsEndpoint("http://127.0.0.1:9", None, "env X"))
    with pytest.raises(InvalidConfigError, match="region"):
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert transport.requests == []


def test_global_endpoint_gets_a_trailing_slash():
    sts, transport = client(ok(), endpoint=resolve_sts_endpoint({}, {}))
    sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert transport.requests[0].url == "https://sts.amazonaws.com/"
    assert "/us-east-1/sts/aws4_request" in transport.requests[0].headers["Authorization"]


# --- response shape -----------------------------------------------------------------------------


def _compare_with_botocore(ours: dict, theirs: dict):
    theirs = json.loads(json.dumps(theirs, default=str))
    exp_ours = parse_expiration(ours["Credentials"]["Expiration"])
    exp_theirs = parse_expiration(theirs["Credentials"].pop("Expiration"))
    assert exp_ours == exp_theirs
    ours = json.loads(json.dumps(ours))
    ours["Credentials"].pop("Expiration")
    ours["Credentials"].pop("AccountId", None)  # added by botocore's provider, not its client
    assert ours == theirs
    assert list(ours) == list(theirs)
    for key, value in ours.items():
        if isinstance(value, dict):
            assert list(value) == list(theirs[key]), key


@pytest.mark.parametrize(
    "kw", [{}, {"reverse": True}, {"reverse": True, "packed": 7, "source_identity": "alice"}]
)
def test_assume_role_response_equals_botocore_parse(kw):
    body = assume_role_xml(**kw)
    sts, _ = client(ok(body))
    ours = sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess")).data
    _, theirs = capture(
        botocore_client(), lambda c: c.assume_role(RoleArn=ROLE, RoleSessionName="sess"), body=body
    )
    _compare_with_botocore(ours, theirs)
    assert list(ours["Credentials"]) == [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
        "AccountId",
    ]
    assert ours["Credentials"]["Expiration"] == "2030-01-01T01:00:00Z"
    assert ours["Credentials"]["AccountId"] == "123456789012"
    expected_top = ["Credentials", "AssumedRoleUser"]
    expected_top += ["PackedPolicySize"] if "packed" in kw else []
    expected_top += ["SourceIdentity"] if "source_identity" in kw else []
    assert list(ours) == expected_top + ["ResponseMetadata"]
    assert ours["ResponseMetadata"] == {
        "RequestId": "req-1",
        "HTTPStatusCode": 200,
        "HTTPHeaders": HEADERS,
        "RetryAttempts": 0,
    }
    if "packed" in kw:
        assert ours["PackedPolicySize"] == 7


def test_web_identity_response_equals_botocore_parse():
    from botocore import UNSIGNED
    from botocore.config import Config

    sts, _ = client(ok(web_identity_xml()))
    ours = sts.assume_role_with_web_identity(ROLE, "web", WEB_TOKEN).data
    _, theirs = capture(
        botocore_client(config=Config(signature_version=UNSIGNED)),
        lambda c: c.assume_role_with_web_identity(
            RoleArn=ROLE, RoleSessionName="web", WebIdentityToken=WEB_TOKEN
        ),
        body=web_identity_xml(),
    )
    _compare_with_botocore(ours, theirs)
    assert list(ours) == [
        "Credentials",
        "SubjectFromWebIdentityToken",
        "AssumedRoleUser",
        "Provider",
        "Audience",
        "ResponseMetadata",
    ]


def test_account_id_absent_when_arn_does_not_parse():
    sts, _ = client(ok(assume_role_xml(arn="not-an-arn")))
    data = sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess")).data
    assert "AccountId" not in data["Credentials"]


def test_credentials_helper():
    sts, _ = client(ok())
    response = sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    creds = response.credentials("assume-role")
    assert (creds.access_key, creds.secret_key, creds.token) == (
        "ASIANEW0000000000001",
        NEW_SECRET,
        NEW_TOKEN,
    )
    assert creds.expiry == T0 + timedelta(hours=1) and creds.expiry.tzinfo is not None
    assert creds.account_id == "123456789012" and creds.method == "assume-role"
    assert response.request_id == "req-1" and response.retry_attempts == 0


def test_get_caller_identity():
    body = (
        f'<GetCallerIdentityResponse xmlns="{NS}"><GetCallerIdentityResult><Arn>'
        "arn:aws:iam::123456789012:user/alice</Arn><UserId>AIDAX</UserId><Account>"
        "123456789012</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r"
        "</RequestId></ResponseMetadata></GetCallerIdentityResponse>"
    ).encode()
    sts, transport = client(ok(body))
    assert sts.get_caller_identity(SOURCE) == {
        "UserId": "AIDAX",
        "Account": "123456789012",
        "Arn": "arn:aws:iam::123456789012:user/alice",
    }
    assert transport.requests[0].body == b"Action=GetCallerIdentity&Version=2011-06-15"


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<Other/>",
        f'<AssumeRoleResponse xmlns="{NS}"/>'.encode(),
        f'<AssumeRoleResponse xmlns="{NS}"><AssumeRoleResult><Credentials><AccessKeyId>A'
        "</AccessKeyId></Credentials></AssumeRoleResult></AssumeRoleResponse>".encode(),
        b'<!DOCTYPE x [<!ENTITY a "b">]><AssumeRoleResponse/>',
    ],
)
def test_malformed_200_is_malformed_response_error(body):
    sts, transport = client(ok(body))
    with pytest.raises(MalformedResponseError) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert "AssumeRole" in str(exc.value)
    assert len(transport.requests) == 1


# --- retries -------------------------------------------------------------------------------


class SlowClock(FrozenClock):
    """Each backoff sleep also lets 10 s pass, so every attempt's x-amz-date differs."""

    def sleep(self, seconds):
        super().sleep(seconds)
        self.advance(seconds=10)


def test_503_503_200_succeeds_with_two_retries():
    clock = SlowClock(T0)
    sts, transport = client(
        err(503, "ServiceUnavailable"), err(503, "ServiceUnavailable"), ok(), clock=clock
    )
    response = sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert response.data["ResponseMetadata"]["RetryAttempts"] == 2
    assert len(transport.requests) == 3
    assert clock.slept == [0.5 * 0.05, 0.5 * 0.1]
    dates = {r.headers["X-Amz-Date"] for r in transport.requests}
    assert len(dates) == 3, "each attempt is signed afresh"
    assert all(verify_signature(r, SOURCE) for r in transport.requests)


def test_throttling_exhausted_names_role_and_code():
    clock = FrozenClock(T0)
    sts, transport = client(
        *[err(400, "Throttling", "Rate exceeded")] * 3, clock=clock, rng=lambda: 1.0
    )
    with pytest.raises(ThrottlingError) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert ROLE in str(exc.value) and "Throttling" in str(exc.value)
    assert exc.value.code == "Throttling" and exc.value.recoverable
    assert len(transport.requests) == 3
    assert clock.slept == [1.0, 2.0]  # full jitter, botocore's throttling base, no final sleep


def test_5xx_exhausted_is_service_error():
    sts, transport = client(*[err(500, "InternalFailure")] * 2, max_attempts=2)
    with pytest.raises(STSServiceError) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert exc.value.code == "InternalFailure" and exc.value.status == 500
    assert len(transport.requests) == 2


def test_non_xml_502_is_retried_then_service_error():
    bad_gateway = HttpResponse(502, {}, b"<html>Bad Gateway</html>")
    sts, _ = client(bad_gateway, bad_gateway, bad_gateway)
    with pytest.raises(STSServiceError, match="HTTP502"):
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))


def test_transport_errors_are_retried():
    sts, transport = client(TransportError("connection refused", url="u"), ok())
    assert sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess")).retry_attempts == 1
    sts, transport = client(*[TransportError("refused", url="u", timeout=True)] * 3)
    with pytest.raises(TransportError) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert "3 attempts" in str(exc.value) and exc.value.timeout


def test_backoff_is_capped_at_20_seconds():
    clock = FrozenClock(T0)
    sts, _ = client(*[err(400, "Throttling")] * 8, clock=clock, rng=lambda: 1.0, max_attempts=8)
    with pytest.raises(ThrottlingError):
        sts.get_caller_identity(SOURCE)
    assert clock.slept == [1, 2, 4, 8, 16, 20, 20]


# --- error mapping -------------------------------------------------------------------------


def test_access_denied_reads_clearly():
    message = (
        "User: arn:aws:iam::123456789012:user/alice is not authorized to perform: "
        f"sts:AssumeRole on resource: {ROLE}"
    )
    sts, transport = client(err(403, "AccessDenied", message))
    with pytest.raises(AccessDeniedError) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert str(exc.value) == (
        f"AssumeRole {ROLE} was denied (AccessDenied): {message}. Check the role's trust "
        "policy, the external_id and the MFA code."
    )
    e = exc.value
    assert (e.code, e.status, e.role_arn, e.operation, e.sts_message) == (
        "AccessDenied",
        403,
        ROLE,
        "AssumeRole",
        message,
    )
    assert not e.recoverable and len(transport.requests) == 1


@pytest.mark.parametrize(
    "code,status,cls",
    [
        ("ExpiredToken", 400, ExpiredTokenError),
        ("ExpiredTokenException", 400, ExpiredTokenError),
        ("RegionDisabledException", 403, RegionDisabledError),
        ("InvalidClientTokenId", 403, STSError),
        ("SignatureDoesNotMatch", 403, STSError),
        ("ValidationError", 400, STSError),
        ("MalformedPolicyDocument", 400, STSError),
    ],
)
def test_error_mapping(code, status, cls):
    sts, transport = client(err(status, code, "the message"))
    with pytest.raises(cls) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert type(exc.value) is cls
    assert exc.value.code == code and code in str(exc.value) and ROLE in str(exc.value)
    assert len(transport.requests) == 1


@pytest.mark.parametrize(
    "code,message,clock",
    [
        (
            "SignatureDoesNotMatch",
            "Signature expired: 20300101T000000Z is now earlier than 20300101T001000Z "
            "(20300101T001500Z - 5 min.)",
            True,
        ),
        ("SignatureDoesNotMatch", "Signature not yet current: 20300101T002000Z", True),
        ("RequestExpired", "Request has expired.", True),
        ("SignatureDoesNotMatch", "The request signature we calculated does not match", False),
    ],
)
def test_a_clock_too_far_off_is_named_as_the_cause(code, message, clock):
    """STS answers a request signed more than 5 minutes from its time under the code of a
    wrong key: the hint names the clock then, and the key otherwise."""
    sts, _ = client(err(403, code, message))
    with pytest.raises(STSError) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert ("clock" in str(exc.value)) is clock
    assert ("secret key is wrong" in str(exc.value)) is (not clock)


def test_region_disabled_names_region():
    sts, _ = client(err(403, "RegionDisabledException", "STS is not activated"))
    with pytest.raises(RegionDisabledError, match="eu-west-1"):
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))


@pytest.mark.parametrize(
    "code,cls",
    [
        ("InvalidIdentityToken", STSError),
        ("ExpiredTokenException", ExpiredTokenError),
        ("AccessDenied", AccessDeniedError),
        ("IDPRejectedClaim", AccessDeniedError),
    ],
)
def test_web_identity_errors(code, cls):
    sts, _ = client(err(400, code, "nope"))
    with pytest.raises(cls) as exc:
        sts.assume_role_with_web_identity(ROLE, "web", WEB_TOKEN)
    assert exc.value.code == code and exc.value.operation == "AssumeRoleWithWebIdentity"


def test_idp_communication_error_is_retried():
    sts, transport = client(err(400, "IDPCommunicationError"), ok(web_identity_xml()))
    assert sts.assume_role_with_web_identity(ROLE, "web", WEB_TOKEN).retry_attempts == 1


def test_non_xml_4xx_is_sts_error_with_status():
    sts, _ = client(HttpResponse(403, {}, b"Forbidden by proxy"))
    with pytest.raises(STSError) as exc:
        sts.assume_role(SOURCE, AssumeRoleParams(ROLE, "sess"))
    assert exc.value.code == "HTTP403" and exc.value.status == 403


# --- secrets -----------------------------------------------------------------------------


def _assert_clean(*texts):
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, f"secret leaked: {text[:200]}"


def test_no_secret_in_messages_reprs_or_logs(caplog):
    caplog.set_level(logging.DEBUG)  # every logger, botocore's included
    params = AssumeRoleParams(
        ROLE, "sess", serial_number="arn:aws:iam::1:mfa/a", token_code=MFA_CODE
    )
    echo = (
        f"1 validation error detected: Value '{MFA_CODE}' at 'tokenCode' failed; "
        f"key {SECRET_KEY} token {SOURCE_TOKEN}"
    )
    texts = [repr(params), str(params), repr(TEMP_SOURCE)]
    sts, _ = client(
        err(400, "ValidationError", echo),
        ok(),
        err(503, "X", echo),
        err(503, "X", echo),
        err(503, "X", echo),
        err(403, "AccessDenied", echo),
    )
    for _ in range(4):
        try:
            response = sts.assume_role(TEMP_SOURCE, params)
            texts += [repr(response), str(response), repr(response.credentials("m"))]
        except STSError as exc:
            texts += [str(exc), repr(exc), repr(exc.args), str(exc.sts_message)]
    sts2, _ = client(err(400, "InvalidIdentityToken", f"bad token {WEB_TOKEN}"))
    with pytest.raises(STSError) as exc:
        sts2.assume_role_with_web_identity(ROLE, "web", WEB_TOKEN + "\n")
    texts += [str(exc.value), repr(exc.value), exc.value.sts_message]
    assert "****" in exc.value.sts_message
    records = [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    assert any("awsroles.sts.client" == r.name for r in caplog.records)
    _assert_clean(*texts, *records, caplog.text)


def test_malformed_cache_entry_errors_name_no_value():
    entry = {
        "Credentials": {
            "AccessKeyId": "A",
            "SecretAccessKey": NEW_SECRET,
            "SessionToken": NEW_TOKEN,
            "Expiration": f"x{NEW_SECRET}",
        }
    }
    with pytest.raises(MalformedResponseError) as exc:
        credentials_from_response(entry, "assume-role", where="cache entry abc.json")
    assert "Expiration" in str(exc.value) and "abc.json" in str(exc.value)
    _assert_clean(str(exc.value), repr(exc.value))


# --- credentials_from_response / parse_expiration ------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22T19:02:23Z",
        "2026-11-22T19:02:23UTC",
        "2026-11-22T19:02:23+00:00",
        "2026-11-22T20:02:23+01:00",
        "2026-11-22T19:02:23.000Z",
        "2026-11-22 19:02:23+00:00",
        "Sun, 22 Nov 2026 19:02:23 GMT",
    ],
)
def test_expiration_formats(text):
    assert parse_expiration(text) == datetime(2026, 11, 22, 19, 2, 23, tzinfo=timezone.utc)


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)),
    st.sampled_from(["Z", "UTC", "+00:00", "-05:30", "+0200", ""]),
    st.booleans(),
)
def test_fast_path_agrees_with_dateutil(dt, suffix, micro):
    from dateutil import parser

    text = dt.strftime("%Y-%m-%dT%H:%M:%S") + (f".{dt.microsecond:06d}" if micro else "")
    text += suffix
    expected = parser.parse(text)
    expected = (
        expected.replace(tzinfo=timezone.utc)
        if expected.tzinfo is None
        else expected.astimezone(timezone.utc)
    )
    assert parse_expiration(text) == expected


def test_minimal_cache_entry_and_account_fallback():
    entry = {
        "Credentials": {
            "AccessKeyId": "MIN",
            "SecretAccessKey": "s",
            "SessionToken": "t",
            "Expiration": "2099-01-01T00:00:00Z",
        }
    }
    creds = credentials_from_response(entry, "assume-role")
    assert creds.account_id is None and creds.expiry.year == 2099
    entry["AssumedRoleUser"] = {"Arn": "arn:aws:sts::111122223333:assumed-role/R/s"}
    assert credentials_from_response(entry, "x").account_id == "111122223333"


@pytest.mark.parametrize(
    "entry",
    [
        None,
        [],
        {},
        {"Credentials": "x"},
        {"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "s", "Expiration": "2030-01-01Z"}},
        {"Credentials": {"AccessKeyId": "A", "SecretAccessKey": "s", "SessionToken": "t"}},
        {
            "Credentials": {
                "AccessKeyId": "",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": "2030-01-01T00:00:00Z",
            }
        },
    ],
)
def test_bad_cache_shapes(entry):
    with pytest.raises(MalformedResponseError):
        credentials_from_response(entry, "assume-role")


def test_reads_a_botocore_written_cache_line():
    line = (
        '{"Credentials": {"AccessKeyId": "ASIASTS0018", "SecretAccessKey": "stssecret18", '
        '"SessionToken": "ststoken18", "Expiration": "2026-11-22T19:02:12UTC", "AccountId": '
        '"123456789012"}, "AssumedRoleUser": {"AssumedRoleId": "AROAFAKE:b", "Arn": '
        '"arn:aws:sts::123456789012:assumed-role/Admin/b"}, "ResponseMetadata": {}}'
    )
    creds = credentials_from_response(json.loads(line), "assume-role")
    assert creds.expiry == datetime(2026, 11, 22, 19, 2, 12, tzinfo=timezone.utc)


# --- misc ----------------------------------------------------------------------------------


def test_params_repr_hides_token_code():
    assert MFA_CODE not in repr(FULL)
    assert "token_code" not in repr(FULL)
    assert "TokenCode" not in FULL.api_kwargs()
    assert FULL.api_kwargs(include_token_code=True)["TokenCode"] == MFA_CODE


def test_response_repr_is_redacted():
    response = StsResponse(
        {
            "Credentials": {
                "AccessKeyId": "ASIAXYZ",
                "SecretAccessKey": "s1",
                "SessionToken": "t1",
                "Expiration": "e",
            }
        }
    )
    assert "s1" not in repr(response) and "t1" not in repr(response)
    assert "ASIA****" in repr(response)


def test_import_is_cheap():
    code = (
        "import sys, awsroles.sts.client, awsroles.sts.endpoint; "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'botocore', 'requests', 'dateutil', 'urllib3'}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "[]", out.stderr


def test_cold_start_imports_no_botocore_requests_or_filelock():
    """The path that calls STS (empty cache) signs, sends and locks with the standard library:
    botocore, requests, urllib3 and filelock stay unloaded (benchmark P2, the cold start)."""
    from awsroles.testing import local_aws

    code = (
        "import sys, awsroles; "
        "awsroles.resolve('dev').get_frozen_credentials(); "
        "print(sorted({m.split('.')[0] for m in sys.modules} "
        "& {'botocore', 'requests', 'urllib3', 'filelock', 'dateutil'}))"
    )
    with local_aws(inherit_environ=False) as aws:
        env = {k: v for k, v in aws.env.items() if v is not None}
        env["PATH"] = os.environ.get("PATH", "")
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, env=env
        )
        assert aws.sts.count("AssumeRole") == 1, out.stderr
    expected = "[]" if os.name == "posix" else "['filelock']"
    assert out.stdout.strip() == expected, out.stderr
