"""SSO role credentials against the fake portal and CLI-shaped token caches,
the SDK scenarios under tests/conformance, and botocore as an oracle."""

from __future__ import annotations

import json
import logging
import os
import stat
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import pytest

from awsroles.config.model import SsoSource
from awsroles.errors import AwsRolesError, CredentialRetrievalError, InvalidConfigError
from awsroles.providers.sso import (
    SsoPortalError,
    check_sso,
    sso_credentials,
    sso_endpoint,
)
from awsroles.providers.sso_token import REFRESH_WINDOW, SsoTokenError, token_cache_key
from awsroles.refresh.sync import RefreshableCredentials
from awsroles.resolver.profile import ProfileProvider
from awsroles.testing.clock import FrozenClock
from awsroles.testing.fake_sso import FakeSSOPortal, token_cache_path, write_token_cache

from helpers import make_context, write_aws_files

ACCOUNT = "111122223333"
ROLE = "ReadOnly"
START = "https://d-123.awsapps.com/start"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = f"""\
[profile dev]
sso_session = my-sso
sso_account_id = {ACCOUNT}
sso_role_name = {ROLE}
region = eu-west-1

[profile legacy]
sso_start_url = {START}
sso_region = us-east-1
sso_account_id = {ACCOUNT}
sso_role_name = {ROLE}

[sso-session my-sso]
sso_region = us-east-1
sso_start_url = {START}
"""


@pytest.fixture
def clock():
    return FrozenClock("2030-01-01T00:00:00Z")


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    write_aws_files(h, CONFIG, credentials="")
    return h


@pytest.fixture
def portal(clock):
    p = FakeSSOPortal(clock=clock)
    p.add_role(ACCOUNT, ROLE)
    return p


def ctx_for(home, profile, clock, transport, **env):
    base = {"HOME": str(home)}
    base.update(env)
    return make_context(
        profile, env=base, clock=clock, transport=transport, background_refresh=False
    )


def source_of(ctx):
    plan = ProfileProvider().plan(ctx)
    assert plan is not None and not plan.hops and isinstance(plan.base, SsoSource)
    return plan.base


def creds_for(home, profile, clock, portal, **env):
    ctx = ctx_for(home, profile, clock, portal.transport(), **env)
    return sso_credentials(source_of(ctx), ctx)


def token_doc(home, name):
    with open(token_cache_path(home, name)) as f:
        return json.load(f)


# --- the happy paths ------------------------------------------------------------------------


@pytest.mark.parametrize("profile, key", [("dev", "my-sso"), ("legacy", START)])
def test_role_credentials(home, clock, portal, profile, key):
    issued = portal.add_role(ACCOUNT, ROLE)
    portal.login(home, key, start_url=START)
    creds = creds_for(home, profile, clock, portal)
    assert isinstance(creds, RefreshableCredentials) and creds.method == "sso"
    assert portal.count() == 0  # nothing is called before first use
    frozen = creds.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == (
        issued.access_key,
        issued.secret_key,
        issued.token,
    )
    assert frozen.account_id == ACCOUNT and frozen.method == "sso"
    assert frozen.expiry == clock.now() + timedelta(hours=1)
    assert portal.calls[0].params == {"role_name": ROLE, "account_id": ACCOUNT}
    assert portal.calls[0].token_known


def test_token_file_names_are_botocores_sha1_keys():
    assert token_cache_key("my-sso", START) == "0ad374308c5a4e22f723adf10145eafad7c4031c"
    assert token_cache_key(None, START) == __import__("hashlib").sha1(START.encode()).hexdigest()


def test_credentials_refresh_through_the_portal_before_expiry(home, clock, portal):
    portal.login(home, "my-sso", start_url=START, expires_in=8 * 3600)
    creds = creds_for(home, "dev", clock, portal)
    first = creds.get_frozen_credentials()
    clock.advance(minutes=59, seconds=30)
    second = creds.get_frozen_credentials()
    assert portal.count("GetRoleCredentials") == 2 and second.expiry > first.expiry


# --- the token cache ------------------------------------------------------------------------


def test_missing_token_names_the_login_command(home, clock, portal):
    for profile, hint in (
        ("dev", "aws sso login --sso-session my-sso"),
        ("legacy", "aws sso login --profile legacy"),
    ):
        with pytest.raises(SsoTokenError) as err:
            creds_for(home, profile, clock, portal).get_frozen_credentials()
        assert hint in str(err.value) and not err.value.recoverable
        assert err.value.provider == "sso" and err.value.profile == profile
    assert portal.count() == 0


def test_expired_legacy_token_is_not_refreshed(home, clock, portal):
    portal.login(home, START, expires_in=600, refreshable=True)
    clock.advance(minutes=11)
    with pytest.raises(SsoTokenError) as err:
        creds_for(home, "legacy", clock, portal).get_frozen_credentials()
    assert "expired" in str(err.value) and "aws sso login --profile legacy" in str(err.value)
    assert portal.count() == 0


def test_expired_session_token_without_registration_needs_login(home, clock, portal):
    token = portal.add_token("tok-plain")
    write_token_cache(home, "my-sso", token, clock.now() - timedelta(minutes=1), start_url=START)
    with pytest.raises(SsoTokenError, match="aws sso login --sso-session my-sso"):
        creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert portal.count() == 0


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        json.dumps({"expiresAt": "2031-01-01T00:00:00Z"}),
        json.dumps({"accessToken": "SECRET-TOKEN-x", "expiresAt": "soon"}),
    ],
)
def test_unusable_token_files_are_typed_and_not_echoed(home, clock, portal, content):
    path = token_cache_path(home, "my-sso")
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:
        f.write(content)
    with pytest.raises(SsoTokenError) as err:
        creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert "SECRET-TOKEN" not in str(err.value) and "aws sso login" in str(err.value)


def test_session_token_is_refreshed_within_15_minutes(home, clock, portal):
    old = portal.login(home, "my-sso", start_url=START, expires_in=3600)
    before = token_doc(home, "my-sso")
    clock.advance(seconds=3600 - REFRESH_WINDOW + 1)
    creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert [c.operation for c in portal.calls] == ["CreateToken", "GetRoleCredentials"]
    after = token_doc(home, "my-sso")
    assert after["accessToken"] != old
    assert after["expiresAt"] == (clock.now() + timedelta(hours=8)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert after["refreshToken"] != before["refreshToken"]  # the fake rotates it
    assert list(after) == [
        "startUrl",
        "region",
        "accessToken",
        "expiresAt",
        "clientId",
        "clientSecret",
        "registrationExpiresAt",
        "refreshToken",
    ]
    assert {k: after[k] for k in ("clientId", "clientSecret", "registrationExpiresAt")} == {
        k: before[k] for k in ("clientId", "clientSecret", "registrationExpiresAt")
    }
    mode = stat.S_IMODE(os.stat(token_cache_path(home, "my-sso")).st_mode)
    assert mode == 0o600
    leftovers = os.listdir(os.path.dirname(token_cache_path(home, "my-sso")))
    assert not [n for n in leftovers if n.endswith(".tmp")]


def test_an_unrotated_refresh_token_is_kept(home, clock, portal):
    portal.login(home, "my-sso", start_url=START, expires_in=600)
    doc = token_doc(home, "my-sso")
    portal.add_client(
        doc["clientId"], doc["clientSecret"], doc["refreshToken"], rotate_refresh_token=False
    )
    creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert token_doc(home, "my-sso")["refreshToken"] == doc["refreshToken"]


def test_refresh_failure_keeps_a_still_valid_token(home, clock, portal, caplog):
    token = portal.login(home, "my-sso", start_url=START, expires_in=600)
    doc = token_doc(home, "my-sso")
    portal.add_client(doc["clientId"], doc["clientSecret"], "another-refresh-token")
    doc["refreshToken"] = "revoked-refresh-token"
    with open(token_cache_path(home, "my-sso"), "w") as f:
        json.dump(doc, f)
    with caplog.at_level(logging.WARNING):
        creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert portal.calls[0].operation == "CreateToken" and portal.calls[0].status == 400
    assert portal.calls[1].status == 200 and token_doc(home, "my-sso")["accessToken"] == token
    assert "refreshing the SSO token failed" in caplog.text
    clock.advance(minutes=11)
    with pytest.raises(SsoTokenError) as err:
        creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert "aws sso login --sso-session my-sso" in str(err.value) and not err.value.recoverable


def test_expired_registration_is_not_used(home, clock, portal):
    token = portal.add_token("tok-old", clock.now() + timedelta(minutes=5))
    write_token_cache(
        home,
        "my-sso",
        token,
        clock.now() + timedelta(minutes=5),
        start_url=START,
        refresh_token="r",
        client_id="c",
        client_secret="s",
        registration_expires_at=clock.now() - timedelta(days=1),
    )
    creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert [c.operation for c in portal.calls] == ["GetRoleCredentials"]


def test_expired_token_with_oidc_down_is_recoverable(home, clock, portal):
    portal.login(home, "my-sso", start_url=START, expires_in=600)
    clock.advance(minutes=11)
    portal.fail_next(1, 503, "InternalServerException", operation="CreateToken")
    with pytest.raises(SsoTokenError) as err:
        creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert err.value.recoverable and "HTTP 503" in str(err.value)


def test_concurrent_refreshes_spend_the_refresh_token_once(home, clock, portal):
    portal.login(home, "my-sso", start_url=START, expires_in=600)
    errors = []

    def one():
        try:
            creds_for(home, "dev", clock, portal).get_frozen_credentials()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and portal.count("CreateToken") == 1
    assert portal.count("GetRoleCredentials", status=200) == 6


def test_refresh_endpoint_follows_sso_oidc_overrides(home, clock, portal):
    portal.login(home, "my-sso", start_url=START, expires_in=600)
    seen = []
    inner = portal.transport()

    def transport(request):
        seen.append(request.url.split("?")[0])
        return inner(request)

    ctx = ctx_for(
        home,
        "dev",
        clock,
        transport,
        AWS_ENDPOINT_URL_SSO_OIDC="http://oidc.test",
        AWS_ENDPOINT_URL="http://everything.test",
    )
    sso_credentials(source_of(ctx), ctx).get_frozen_credentials()
    assert seen == ["http://oidc.test/token", "http://everything.test/federation/credentials"]


# --- portal errors --------------------------------------------------------------------------


def test_401_means_log_in_again(home, clock, portal):
    token = portal.login(home, "my-sso", start_url=START)
    portal.revoke_token(token)
    with pytest.raises(SsoPortalError) as err:
        creds_for(home, "dev", clock, portal).get_frozen_credentials()
    e = err.value
    assert e.status == 401 and e.code == "UnauthorizedException" and not e.recoverable
    assert "aws sso login --sso-session my-sso" in str(e) and portal.count() == 1


def test_403_names_the_role_and_account(home, clock, portal):
    portal.login(home, "my-sso", start_url=START)
    ctx = ctx_for(home, "dev", clock, portal.transport())
    src = SsoSource(
        "dev",
        tuple((k, v) for k, v in source_of(ctx).settings if k != "sso_role_name")
        + (("sso_role_name", "Admin"),),
    )
    with pytest.raises(SsoPortalError) as err:
        sso_credentials(src, ctx).get_frozen_credentials()
    assert err.value.status == 403 and "role 'Admin' in account 111122223333" in str(err.value)


def test_5xx_is_retried_then_recoverable(home, clock, portal):
    portal.login(home, "my-sso", start_url=START)
    portal.fail_next(2, 500)
    assert creds_for(home, "dev", clock, portal).get_frozen_credentials().account_id == ACCOUNT
    assert portal.count("GetRoleCredentials") == 3 and len(clock.slept) == 2
    portal.fail_next(3, 503, "ServiceUnavailableException")
    with pytest.raises(SsoPortalError) as err:
        creds_for(home, "dev", clock, portal).get_frozen_credentials()
    assert err.value.recoverable and err.value.status == 503


def test_static_stability_keeps_valid_credentials_when_the_portal_fails(home, clock, portal):
    portal.login(home, "my-sso", start_url=START, expires_in=8 * 3600)
    creds = creds_for(home, "dev", clock, portal)
    first = creds.get_frozen_credentials()
    clock.advance(minutes=59, seconds=30)
    portal.fail_next(3, 500)
    assert creds.get_frozen_credentials() is first


def test_connection_errors_are_recoverable(home, clock, portal):
    from awsroles.errors import TransportError

    portal.login(home, "my-sso", start_url=START)

    def down(request):
        raise TransportError("could not connect", url=request.url.split("?")[0])

    ctx = ctx_for(home, "dev", clock, down)
    with pytest.raises(TransportError) as err:
        sso_credentials(source_of(ctx), ctx).get_frozen_credentials()
    assert err.value.recoverable


def test_garbage_from_the_portal(home, clock, portal):
    from awsroles.errors import MalformedResponseError
    from awsroles.transport.base import HttpResponse

    portal.login(home, "my-sso", start_url=START)
    ctx = ctx_for(home, "dev", clock, lambda r: HttpResponse(200, {}, b'{"roleCredentials": 1}'))
    with pytest.raises(MalformedResponseError):
        sso_credentials(source_of(ctx), ctx).get_frozen_credentials()


# --- configuration and endpoints ------------------------------------------------------------


def test_missing_keys_are_listed(clock):
    ctx = make_context(env={"HOME": "/nonexistent"}, clock=clock)
    src = SsoSource("partial", (("sso_role_name", "R"), ("sso_session", "s")))
    with pytest.raises(InvalidConfigError) as err:
        sso_credentials(src, ctx)
    assert "sso_start_url, sso_region, sso_account_id" in str(err.value)
    assert err.value.profile == "partial" and err.value.key == "sso_start_url"


@pytest.mark.parametrize(
    "env, profile_extra, expected",
    [
        ({}, "", "https://portal.sso.us-east-1.amazonaws.com"),
        ({"AWS_ENDPOINT_URL": "http://all.test"}, "", "http://all.test"),
        (
            {"AWS_ENDPOINT_URL": "http://all.test", "AWS_ENDPOINT_URL_SSO": "http://sso.test"},
            "",
            "http://sso.test",
        ),
        ({}, "endpoint_url = http://profile.test\n", "http://profile.test"),
        ({}, "services = local\n", "http://svc.test"),
        (
            {
                "AWS_ENDPOINT_URL_SSO": "http://sso.test",
                "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS": "true",
            },
            "",
            "https://portal.sso.us-east-1.amazonaws.com",
        ),
        ({"AWS_USE_FIPS_ENDPOINT": "true"}, "", "https://portal.sso-fips.us-east-1.amazonaws.com"),
        ({}, "use_dualstack_endpoint = true\n", "https://portal.sso.us-east-1.api.aws"),
    ],
)
def test_portal_endpoint(tmp_path, clock, env, profile_extra, expected):
    write_aws_files(
        tmp_path,
        f"[profile p]\n{profile_extra}\n[services local]\nsso =\n"
        "  endpoint_url = http://svc.test\n",
        credentials="",
    )
    ctx = make_context("p", env=dict(env, HOME=str(tmp_path)), clock=clock)
    assert sso_endpoint(ctx, "us-east-1")[0] == expected


def test_oidc_and_china_endpoints(tmp_path, clock):
    ctx = make_context("p", env={"HOME": str(tmp_path)}, clock=clock)
    assert sso_endpoint(ctx, "cn-north-1")[0] == "https://portal.sso.cn-north-1.amazonaws.com.cn"
    assert sso_endpoint(ctx, "eu-west-1", "sso-oidc")[0] == "https://oidc.eu-west-1.amazonaws.com"
    write_aws_files(
        tmp_path,
        "[profile p]\nservices = local\n[services local]\nsso_oidc =\n"
        "  endpoint_url = http://oidc.test\n",
        credentials="",
    )
    ctx = make_context("p", env={"HOME": str(tmp_path)}, clock=clock)
    assert sso_endpoint(ctx, "us-east-1", "sso-oidc")[0] == "http://oidc.test"
    assert sso_endpoint(ctx, "us-east-1")[0] == "https://portal.sso.us-east-1.amazonaws.com"


def test_check_is_offline(home, clock, portal):
    ctx = ctx_for(home, "dev", clock, portal.transport())
    src = source_of(ctx)
    ok, why = check_sso(src, ctx)
    assert not ok and "aws sso login --sso-session my-sso" in why
    portal.login(home, "my-sso", start_url=START, expires_in=600)
    assert check_sso(src, ctx)[0]
    clock.advance(minutes=11)
    ok, why = check_sso(src, ctx)
    assert ok and "refresh" in why
    assert portal.count() == 0


# --- the fake and the CLI cache shape -------------------------------------------------------


def test_write_token_cache_is_shaped_like_the_cli(tmp_path):
    exp = datetime(2030, 1, 1, 8, tzinfo=timezone.utc)
    path = write_token_cache(
        tmp_path,
        "my-sso",
        "tok",
        exp,
        start_url=START,
        region="eu-west-1",
        refresh_token="r",
        client_id="c",
        client_secret="s",
        registration_expires_at=exp + timedelta(days=90),
    )
    expected = (
        '{"startUrl": "https://d-123.awsapps.com/start", "region": "eu-west-1", '
        '"accessToken": "tok", "expiresAt": "2030-01-01T08:00:00Z", "clientId": "c", '
        '"clientSecret": "s", "registrationExpiresAt": "2030-04-01T08:00:00Z", '
        '"refreshToken": "r"}'
    )
    assert open(path).read() == expected
    assert path.endswith("/.aws/sso/cache/0ad374308c5a4e22f723adf10145eafad7c4031c.json")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    legacy = write_token_cache(tmp_path, START, "tok", "2030-01-01T08:00:00Z")
    assert json.load(open(legacy)) == {
        "startUrl": START,
        "region": "us-east-1",
        "accessToken": "tok",
        "expiresAt": "2030-01-01T08:00:00Z",
    }


def test_the_fake_is_strict(clock):
    portal = FakeSSOPortal(clock=clock)
    portal.add_role(ACCOUNT, ROLE)
    send = portal.handle
    good = portal.add_token("good", clock.now() + timedelta(minutes=1))
    q = f"/federation/credentials?role_name={ROLE}&account_id={ACCOUNT}"
    assert send("GET", q, {}, b"")[0] == 401
    assert send("GET", q, {"x-amz-sso_bearer_token": "bad"}, b"")[0] == 401
    assert send("GET", q, {"X-Amz-Sso_Bearer_Token": good}, b"")[0] == 200
    assert (
        send("GET", "/federation/credentials?role_name=R", {"x-amz-sso_bearer_token": good}, b"")[0]
        == 400
    )
    status, headers, body = send(
        "GET", q.replace(ROLE, "Nope"), {"x-amz-sso_bearer_token": good}, b""
    )
    assert status == 403 and headers["x-amzn-ErrorType"].startswith("ForbiddenException:")
    assert json.loads(body) == {"message": "No access"}
    clock.advance(minutes=2)
    assert send("GET", q, {"x-amz-sso_bearer_token": good}, b"")[0] == 401
    assert send("GET", "/elsewhere", {}, b"")[0] == 404
    status, _, body = send(
        "POST",
        "/token",
        {},
        json.dumps(
            {
                "grantType": "refresh_token",
                "clientId": "x",
                "clientSecret": "y",
                "refreshToken": "z",
            }
        ).encode(),
    )
    assert status == 401 and json.loads(body)["error"] == "invalid_client"
    assert "good" not in repr(portal.calls) and all("token" not in c.params for c in portal.calls)


@pytest.mark.parametrize("kind", ["stdlib", "requests"])
def test_real_socket_server_and_default_transport(home, clock, kind):
    with FakeSSOPortal(clock=clock) as portal:
        portal.add_role(ACCOUNT, ROLE)
        portal.login(home, "my-sso", start_url=START)
        ctx = make_context(
            "dev",
            env={"HOME": str(home), "AWS_ENDPOINT_URL_SSO": portal.url},
            clock=clock,
            background_refresh=False,
        )
        from awsroles.transport.stdlib import StdlibTransport
        from awsroles.transport.via_requests import RequestsTransport

        # no proxy from this machine's environment: the portal is on 127.0.0.1
        ctx._transport = (
            StdlibTransport(trust_env=False)
            if kind == "stdlib"
            else RequestsTransport(trust_env=False)
        )
        creds = sso_credentials(source_of(ctx), ctx).get_frozen_credentials()
        assert creds.account_id == ACCOUNT and portal.count("GetRoleCredentials") == 1


# --- secrets --------------------------------------------------------------------------------


def test_no_token_or_secret_in_logs_reprs_or_errors(home, clock, portal, caplog):
    issued = portal.add_role(ACCOUNT, ROLE)
    seen = []
    with caplog.at_level(logging.DEBUG):
        token = portal.login(home, "my-sso", start_url=START, expires_in=600)
        secrets_ = [token, issued.secret_key, issued.token]
        doc = token_doc(home, "my-sso")
        secrets_ += [doc["refreshToken"], doc["clientSecret"]]
        creds = creds_for(home, "dev", clock, portal)
        seen += [repr(creds), repr(creds.get_frozen_credentials()), str(creds)]
        new = token_doc(home, "my-sso")
        secrets_ += [new["accessToken"], new["refreshToken"]]
        portal.revoke_token(new["accessToken"])
        clock.advance(minutes=60)
        with pytest.raises(AwsRolesError) as err:  # 401
            creds_for(home, "dev", clock, portal).get_frozen_credentials()
        seen += [str(err.value), repr(err.value)]
        with open(token_cache_path(home, "my-sso"), "w") as f:
            f.write(json.dumps(new)[:-5])  # a torn file
        with pytest.raises(AwsRolesError) as err:
            creds_for(home, "dev", clock, portal).get_frozen_credentials()
        seen += [str(err.value), repr(err.value)]
    seen += [caplog.text, repr(portal.calls)]
    for text in seen:
        for secret in secrets_:
            assert secret not in text


# --- the SDK scenarios ----------------------------------------------------------------------

VECTORS = os.path.join(
    os.path.dirname(__file__), "conformance", "smithy-rs", "aws-config", "test-data"
)
SCENARIOS = [
    "profile-provider/sso_credentials",
    "profile-provider/sso_override_global_env_url",
    "default-credential-provider-chain/sso_assume_role",
    "default-credential-provider-chain/e2e_fips_and_dual_stack_sso",
    "default-credential-provider-chain/sso_no_token_file",
    "default-credential-provider-chain/sso_server_error",
]
#: Profiles with only an sso_session (token configuration): botocore's chain skips them, so
#: the plan has no credentials (test_plan_vectors documents the same deviation).
TOKEN_ONLY = ["profile-provider/invalid_sso_credentials_config", "profile-provider/sso_token"]


def _replay(path):
    from urllib.parse import parse_qsl, urlsplit

    from awsroles.transport.base import HttpResponse

    with open(path) as f:
        events = json.load(f)["events"]
    exchanges = {}
    for e in events:
        ex = exchanges.setdefault(e["connection_id"], {"body": ""})
        a = e["action"]
        if "Request" in a:
            ex["request"] = a["Request"]["request"]
        elif "Response" in a:
            ex["status"] = a["Response"]["response"]["Ok"]["status"]
        elif "Data" in a and a["Data"]["direction"] == "Response":
            ex["body"] += a["Data"]["data"]["Utf8"]
    recorded = [exchanges[k] for k in sorted(exchanges)]
    used = []

    def split(url):
        p = urlsplit(url)
        return p.scheme, p.netloc, p.path, sorted(parse_qsl(p.query))

    def send(request):
        n = len(used)
        if n >= len(recorded):
            # awsroles retries 5xx as botocore does; the recording has one attempt: the
            # same request gets the same answer.
            assert recorded and recorded[-1]["status"] >= 500, "request beyond the recording"
            n = len(recorded) - 1
        ex = recorded[n]
        want = ex["request"]
        assert request.method == want["method"]
        assert split(request.url) == split(want["uri"])
        for name, values in want["headers"].items():
            if name.lower() not in ("host", "content-length", "user-agent"):
                assert request.headers.get(name) == values[0]
        used.append(request.url)
        return HttpResponse(ex["status"], {}, ex["body"].encode())

    return send, recorded, used


def _scenario(case, tmp_path):
    import shutil

    d = os.path.join(VECTORS, case)
    root = tmp_path / "fs"
    shutil.copytree(os.path.join(d, "fs"), root)
    with open(os.path.join(d, "env.json")) as f:
        env = {k: v.replace("/home", str(root / "home")) for k, v in json.load(f).items()}
    with open(os.path.join(d, "test-case.json")) as f:
        result = json.load(f)["result"]
    return d, env, result


@pytest.mark.parametrize("case", SCENARIOS)
def test_sdk_scenario(case, tmp_path):
    d, env, result = _scenario(case, tmp_path)
    send, recorded, used = _replay(os.path.join(d, "http-traffic.json"))
    ok = result.get("Ok")
    # The recorded credentials expired long ago: freeze the clock an hour before.
    when = datetime.fromtimestamp(ok["expiry"], tz=timezone.utc) if ok else None
    clock = FrozenClock((when or datetime(2021, 1, 1, tzinfo=timezone.utc)) - timedelta(hours=1))
    ctx = make_context(env=env, clock=clock, transport=send, background_refresh=False)
    creds = sso_credentials(source_of(ctx), ctx)
    if ok:
        frozen = creds.get_frozen_credentials()
        assert frozen.access_key == ok["access_key_id"]
        assert frozen.secret_key == ok["secret_access_key"]
        assert frozen.token == ok["session_token"]
        assert frozen.account_id == ok["account_id"]
        assert frozen.expiry == when
        assert len(used) == len(recorded)
    else:
        with pytest.raises(CredentialRetrievalError) as err:
            creds.get_frozen_credentials()
        if "no_token_file" in case:
            assert isinstance(
                err.value, SsoTokenError
            ) and "dace00cba5f8355ec9d274ceb2bcebdfbeed0e12" in str(err.value)
        else:
            assert err.value.recoverable and err.value.status == 503


@pytest.mark.parametrize("case", TOKEN_ONLY)
def test_token_only_profiles_supply_no_credentials(case, tmp_path):
    _, env, result = _scenario(case, tmp_path)
    assert "ErrorContains" in result
    assert ProfileProvider().plan(make_context(env=env)) is None


# --- differential: botocore's SSOProvider ---------------------------------------------------

BOTOCORE = r"""
import json, sys
import botocore.session
out = {}
for profile in sys.argv[1:]:
    c = botocore.session.Session(profile=profile).get_credentials()
    f = c.get_frozen_credentials()
    out[profile] = [c.method, f.access_key, f.secret_key, f.token, f.account_id,
                    int(c._expiry_time.timestamp())]
print(json.dumps(out))
"""


def test_same_credentials_and_token_refresh_as_botocore(tmp_path):
    """botocore's own SSO provider, pointed at the fake with AWS_ENDPOINT_URL_SSO, gets the
    same credentials; and a token it refreshes looks like one awsroles refreshes."""
    ours_home, theirs_home = tmp_path / "ours", tmp_path / "theirs"
    with FakeSSOPortal() as portal:  # real time: botocore reads the system clock
        portal.add_role(ACCOUNT, ROLE)
        for h in (ours_home, theirs_home):
            h.mkdir()
            write_aws_files(h, CONFIG, credentials="")
            portal.login(h, START)
            portal.login(h, "my-sso", start_url=START, expires_in=600)  # inside 15 min
        before_ours, before_theirs = (
            token_doc(ours_home, "my-sso"),
            token_doc(theirs_home, "my-sso"),
        )
        env = {
            "HOME": str(theirs_home),
            "PATH": os.environ.get("PATH", os.defpath),
            "AWS_ENDPOINT_URL_SSO": portal.url,
            "AWS_ENDPOINT_URL_SSO_OIDC": portal.url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        proc = subprocess.run(
            [sys.executable, "-c", BOTOCORE, "dev", "legacy"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        theirs = json.loads(proc.stdout)
        mine = {}
        for profile in ("dev", "legacy"):
            ctx = make_context(
                profile, env=dict(env, HOME=str(ours_home)), background_refresh=False
            )
            c = sso_credentials(source_of(ctx), ctx)
            f = c.get_frozen_credentials()
            mine[profile] = [
                c.method,
                f.access_key,
                f.secret_key,
                f.token,
                f.account_id,
                int(f.expiry.timestamp()),
            ]
        assert portal.count("CreateToken") == 2  # one each: botocore and awsroles refreshed
    for profile in ("dev", "legacy"):
        assert mine[profile][:5] == theirs[profile][:5]
        assert abs(mine[profile][5] - theirs[profile][5]) <= 5
    for h, before in ((ours_home, before_ours), (theirs_home, before_theirs)):
        after = token_doc(h, "my-sso")
        assert list(after) == list(before)  # same keys, same order
        assert after["accessToken"] != before["accessToken"]
        assert after["refreshToken"] != before["refreshToken"]
        for key in ("startUrl", "region", "clientId", "clientSecret", "registrationExpiresAt"):
            assert after[key] == before[key]
        assert len(after["expiresAt"]) == 20 and after["expiresAt"].endswith("Z")
    mode = stat.S_IMODE(os.stat(token_cache_path(theirs_home, "my-sso")).st_mode)
    assert mode == stat.S_IMODE(os.stat(token_cache_path(ours_home, "my-sso")).st_mode) == 0o600
