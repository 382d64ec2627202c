"""``login_session`` profiles (``aws login``): the session cache, its refresh against the local
sign-in endpoint (which verifies every DPoP proof), the lock around the write-back, static
stability, the typed errors, secrets, ``explain``, the place in the chain, and botocore as an
oracle (its own LoginProvider, with its EC primitives taken from cryptography when
``awscrt`` is not installed)."""

from __future__ import annotations

import errno
import hashlib
import json
import logging
import os
import stat
import subprocess
import sys
import threading
import time
import types
from datetime import timedelta

import pytest

import awsroles
from awsroles.config.model import LoginSource
from awsroles.errors import (
    AwsRolesError,
    InvalidConfigError,
    MalformedResponseError,
    TransportError,
)
from awsroles.providers.login import (
    REFRESH_WINDOW,
    LoginError,
    LoginFetcher,
    LoginRefreshRequired,
    LoginTokenError,
    login_credentials,
    signin_endpoint,
)
from awsroles.providers.login_token import (
    dpop_proof,
    load_dpop_key,
    login_cache_dir,
    login_cache_key,
)
from awsroles.resolver.profile import ProfileProvider
from awsroles.testing._secrets import remember
from awsroles.testing.clock import FrozenClock
from awsroles.testing.fake_signin import FakeSignin, verify_dpop
from awsroles.testing.login_cache import (
    login_cache_path,
    new_dpop_key,
    read_login_cache,
)

from helpers import make_context, write_aws_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCOUNT = "111122223333"
SESSION = f"arn:aws:iam::{ACCOUNT}:user/me"
OTHER = f"arn:aws:sts::{ACCOUNT}:assumed-role/Admin/other"
ROLE = "arn:aws:iam::123456789012:role/Dev"

CONFIG = f"""\
[profile me]
login_session = {SESSION}
region = eu-west-1

[profile other]
login_session = {OTHER}
region = eu-west-1

[profile dev]
role_arn = {ROLE}
source_profile = me
region = eu-west-1
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
def signin(clock):
    return FakeSignin(clock=clock)


def resolve(home, clock, transport, profile="me", **kw):
    env = {"HOME": str(home)}
    env.update(kw.pop("env", {}))
    options = dict(cache=None, background_refresh=False)
    options.update(kw)
    return awsroles.resolve(profile, env=env, clock=clock, transport=transport, **options)


def login_expired(signin, home, clock, session=SESSION):
    return signin.login(home, session, expires_at=clock.now() - timedelta(minutes=1))


def lock_is_held(path):
    """Whether someone holds the flock on ``path`` (a second open file conflicts, even in
    this process)."""
    import fcntl

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        assert exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES)
        return True
    finally:
        os.close(fd)
    return False


# --- the cache file -------------------------------------------------------------------------


def test_cache_file_name_and_directory(tmp_path):
    # the file name of the shared vectors' session (the SHA-256 of login_session)
    vector = "arn:aws:sts::012345678910:assumed-role/Admin/admin"
    assert login_cache_key(vector) == (
        "4b0ba8f99f075c0633e122fd73346ce203a3faf18ea0310eb2d29df1bab2e255"
    )
    assert login_cache_key(SESSION) == hashlib.sha256(SESSION.encode()).hexdigest()
    home = str(tmp_path)
    assert login_cache_dir({"HOME": home}) == os.path.join(home, ".aws", "login", "cache")
    env = {"HOME": home, "X": "elsewhere", "AWS_LOGIN_CACHE_DIRECTORY": "~/$X/cache"}
    assert login_cache_dir(env) == os.path.join(home, "elsewhere", "cache")
    # an empty override is no override (botocore would read the current directory)
    assert login_cache_dir({"HOME": home, "AWS_LOGIN_CACHE_DIRECTORY": ""}).endswith("cache")


def test_valid_session_is_served_without_a_call(home, clock, signin):
    session = signin.login(home, SESSION)
    creds = resolve(home, clock, signin.transport())
    frozen = creds.get_frozen_credentials()
    assert creds.method == "login" and frozen.method == "login"
    assert frozen == session.credentials
    assert frozen.account_id == ACCOUNT and frozen.expiry == clock.now() + timedelta(minutes=15)
    assert signin.calls == []


def test_the_cache_directory_override(home, clock, signin, tmp_path):
    elsewhere = tmp_path / "login-cache"
    signin.login(None, SESSION, cache_dir=elsewhere)
    env = {"AWS_LOGIN_CACHE_DIRECTORY": str(elsewhere)}
    assert resolve(home, clock, signin.transport(), env=env).get_frozen_credentials()


def test_missing_session_names_the_login_command(home, clock, signin):
    with pytest.raises(LoginTokenError) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    text = str(err.value)
    assert "not logged in" in text and "`aws login --profile me`" in text
    assert login_cache_key(SESSION) in text and err.value.profile == "me"
    assert not err.value.recoverable


def _doc(signin, home):
    return json.loads(json.dumps(read_login_cache(home, SESSION)))


@pytest.mark.parametrize(
    "breakage, words",
    [
        (lambda doc: "{not json", "not a session the AWS CLI wrote"),
        (lambda doc: [doc], "not a session the AWS CLI wrote"),
        (lambda doc: {k: v for k, v in doc.items() if k != "clientId"}, "clientId"),
        (lambda doc: dict(doc, accessToken="x"), "not an object"),
        (lambda doc: dict(doc, refreshToken=7), "refreshToken"),
        (
            lambda doc: dict(doc, accessToken=dict(doc["accessToken"], secretAccessKey="")),
            "secretAccessKey",
        ),
        (lambda doc: dict(doc, accessToken=dict(doc["accessToken"], expiresAt="soon")), "time"),
        (
            lambda doc: dict(doc, accessToken=dict(doc["accessToken"], sessionToken="a\x00b")),
            "NUL",
        ),
    ],
)
def test_unusable_session_files_are_typed_and_not_echoed(home, clock, signin, breakage, words):
    session = signin.login(home, SESSION)
    broken = breakage(_doc(signin, home))
    with open(session.path, "w") as f:
        f.write(broken if isinstance(broken, str) else json.dumps(broken))
    with pytest.raises(LoginTokenError) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    text = str(err.value)
    assert words in text and session.path in text and "aws login --profile me" in text
    for secret in (session.refresh_token, session.credentials.secret_key, "PRIVATE KEY"):
        assert secret not in text


def test_a_fifo_or_directory_at_the_path_is_refused_at_once(home, clock, signin):
    path = login_cache_path(home, SESSION)
    os.makedirs(os.path.dirname(path))
    os.mkfifo(path)
    with pytest.raises(LoginTokenError, match="not a regular file"):
        resolve(home, clock, signin.transport()).get_frozen_credentials()


def test_empty_login_session_is_a_config_error(tmp_path, clock, signin):
    home = tmp_path / "h"
    write_aws_files(home, "[profile me]\nlogin_session =\n", credentials="")
    with pytest.raises(InvalidConfigError) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    assert err.value.key == "login_session" and err.value.profile == "me"


# --- the refresh ----------------------------------------------------------------------------


def test_expired_session_is_refreshed_with_a_verified_dpop_proof(home, clock, signin, umask022):
    session = login_expired(signin, home, clock)
    before = _doc(signin, home)
    frozen = resolve(home, clock, signin.transport()).get_frozen_credentials()
    (call,) = signin.calls
    assert call.status == 200 and call.proof == "ok" and call.token_known
    assert call.jkt == session.jkt  # signed with the session's own key
    assert (call.grant_type, call.client_id) == ("refresh_token", before["clientId"])
    assert call.layout == (
        ("typ", "alg", "jwk"),
        ("kty", "x", "y", "crv"),
        ("htm", "htu", "iat", "jti"),
    )
    issued = signin.issued[-1]
    assert frozen == issued and frozen.expiry == clock.now() + timedelta(seconds=900)
    after = _doc(signin, home)
    # written back: the new credentials and refresh token; every other field as it was
    assert list(after) == list(before)
    assert after["accessToken"] == {
        "accessKeyId": issued.access_key,
        "secretAccessKey": issued.secret_key,
        "sessionToken": issued.token,
        "accountId": ACCOUNT,
        "expiresAt": "2030-01-01T00:15:00Z",
    }
    assert after["refreshToken"] != before["refreshToken"]
    assert {k: v for k, v in after.items() if k not in ("accessToken", "refreshToken")} == {
        k: v for k, v in before.items() if k not in ("accessToken", "refreshToken")
    }
    mode = stat.S_IMODE(os.stat(session.path).st_mode)
    assert mode == 0o600  # whatever the umask
    names = os.listdir(os.path.dirname(session.path))
    assert not [n for n in names if n.endswith(".tmp")]  # written whole, then renamed


def test_refreshed_inside_the_last_five_minutes_and_not_before(home, clock, signin):
    signin.login(home, SESSION, expires_in=15 * 60)
    creds = resolve(home, clock, signin.transport())
    first = creds.get_frozen_credentials()
    clock.advance(minutes=9, seconds=59)  # 5 min 1 s left: nothing to do
    assert creds.get_frozen_credentials() == first and signin.calls == []
    clock.advance(seconds=2)  # 4 min 59 s left: botocore's threshold, the advisory window
    second = creds.get_frozen_credentials()
    assert signin.count(status=200) == 1 and second.expiry > first.expiry
    assert second.access_key != first.access_key
    assert REFRESH_WINDOW == 300


def test_read_refresh_write_runs_under_the_lock(home, clock, signin, monkeypatch):
    session = login_expired(signin, home, clock)
    lock = session.path + ".lock"
    seen = []
    inner = signin.transport()

    def transport(request):
        seen.append(("call", lock_is_held(lock)))
        return inner(request)

    import awsroles.providers.login as login_module

    real_write = login_module.write_login_token

    def write(path, doc):
        seen.append(("write", lock_is_held(lock)))
        real_write(path, doc)

    monkeypatch.setattr(login_module, "write_login_token", write)
    resolve(home, clock, transport).get_frozen_credentials()
    assert seen == [("call", True), ("write", True)]
    assert not lock_is_held(lock)  # released afterwards
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600


def test_a_session_that_cannot_be_written_back_is_used_in_memory(
    home, clock, signin, monkeypatch, caplog
):
    login_expired(signin, home, clock)
    import awsroles.providers.login as login_module

    def refuse(path, doc):
        raise OSError(errno.EROFS, "Read-only file system", path)

    monkeypatch.setattr(login_module, "write_login_token", refuse)
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        frozen = resolve(home, clock, signin.transport()).get_frozen_credentials()
    assert frozen == signin.issued[0]
    assert "refreshed but not saved" in caplog.text and "Read-only file system" in caplog.text


def test_a_session_another_process_refreshed_is_taken(home, clock, signin):
    signin.login(home, SESSION, expires_in=15 * 60)
    creds = resolve(home, clock, signin.transport())
    creds.get_frozen_credentials()
    clock.advance(minutes=11)  # inside the advisory window
    other = signin.login(home, SESSION, expires_in=15 * 60)  # e.g. the AWS CLI refreshed it
    assert creds.get_frozen_credentials() == other.credentials
    assert signin.calls == []


def test_threads_spend_the_refresh_token_once(home, clock, signin):
    login_expired(signin, home, clock)
    keys, errors = [], []

    def one():
        try:
            keys.append(resolve(home, clock, signin.transport()).access_key)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=one) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and signin.count() == 1 and len(set(keys)) == 1 and len(keys) == 8


WORKER = r"""
import os, sys, time
gate = sys.argv[1]
while not os.path.exists(gate):
    time.sleep(0.002)
import awsroles
from awsroles.transport.stdlib import StdlibTransport

creds = awsroles.resolve(transport=StdlibTransport(trust_env=False), background_refresh=False)
print(creds.get_frozen_credentials().access_key)
"""


@pytest.mark.e2e
def test_processes_spend_the_refresh_token_once(home, tmp_path):
    with FakeSignin() as signin:  # real time: the processes read the system clock
        signin.login(home, SESSION, expires_at=signin.clock.now() - timedelta(minutes=1))
        env = {
            "HOME": str(home),
            "PATH": os.environ.get("PATH", os.defpath),
            "PYTHONPATH": ROOT,
            "AWS_PROFILE": "me",
            "AWS_ENDPOINT_URL_SIGNIN": signin.url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        gate = tmp_path / "go"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(gate)],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(4)
        ]
        time.sleep(1.0)  # every interpreter started and spinning on the gate
        gate.write_text("go")
        outs = [p.communicate(timeout=120) for p in procs]
        for p, (_out, err) in zip(procs, outs):
            assert p.returncode == 0, err[-2000:]
        assert signin.count() == 1 and signin.calls[0].proof == "ok"
        assert {out.strip() for out, _ in outs} == {signin.issued[0].access_key}


# --- where the refresh goes -----------------------------------------------------------------


@pytest.mark.parametrize(
    "extra, config, expected",
    [
        ({}, "", "https://eu-west-1.signin.aws.amazon.com/v1/token"),
        (
            {"AWS_DEFAULT_REGION": "cn-north-1"},
            "",
            "https://cn-north-1.signin.amazonaws.cn/v1/token",
        ),
        ({"AWS_ENDPOINT_URL_SIGNIN": "http://127.0.0.1:9/"}, "", "http://127.0.0.1:9/v1/token"),
        ({"AWS_ENDPOINT_URL": "http://127.0.0.1:8"}, "", "http://127.0.0.1:8/v1/token"),
        ({}, "endpoint_url = http://127.0.0.1:7\n", "http://127.0.0.1:7/v1/token"),
        (
            {},
            "services = local\n[services local]\nsignin =\n  endpoint_url = http://127.0.0.1:6\n",
            "http://127.0.0.1:6/v1/token",
        ),
    ],
)
def test_refresh_endpoint(tmp_path, clock, extra, config, expected):
    home = tmp_path / "h"
    write_aws_files(home, CONFIG.replace("[profile other]", config + "[profile other]"), "")
    signin = FakeSignin(clock=clock)
    login_expired(signin, home, clock)
    urls = []
    inner = signin.transport()

    def transport(request):
        urls.append(request.url)
        return inner(request)

    resolve(home, clock, transport, env=extra).get_frozen_credentials()
    assert urls == [expected] and signin.calls[0].proof == "ok"  # htu: that very URL


def test_no_region_fails_only_when_a_refresh_is_needed(tmp_path, clock, signin):
    home = tmp_path / "h"
    write_aws_files(home, f"[profile me]\nlogin_session = {SESSION}\n", credentials="")
    signin.login(home, SESSION)
    assert resolve(home, clock, signin.transport()).get_frozen_credentials()
    login_expired(signin, home, clock)
    with pytest.raises(InvalidConfigError) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    assert err.value.key == "region" and "AWS_REGION" in str(err.value)


# --- errors and static stability ------------------------------------------------------------


def test_revoked_refresh_token_means_log_in_again(home, clock, signin):
    session = login_expired(signin, home, clock)
    signin.revoke(session.refresh_token)
    with pytest.raises(LoginRefreshRequired) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    e = err.value
    assert not e.recoverable and e.status == 401 and e.code == "TOKEN_EXPIRED"
    assert e.profile == "me" and "Run `aws login --profile me`" in str(e)
    assert signin.count() == 1  # a 4xx is not retried


@pytest.mark.parametrize(
    "error, cls, words",
    [
        ("USER_CREDENTIALS_CHANGED", LoginRefreshRequired, "aws login --profile me"),
        ("INSUFFICIENT_PERMISSIONS", LoginError, "signin:CreateOAuth2Token"),
    ],
)
def test_access_denied_reasons(home, clock, signin, error, cls, words):
    session = login_expired(signin, home, clock)
    signin.revoke(session.refresh_token, error)
    with pytest.raises(cls) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    assert type(err.value) is cls and err.value.status == 403 and err.value.code == error
    assert words in str(err.value) and not err.value.recoverable


def test_a_4xx_without_a_body_is_not_recoverable(home, clock, signin):
    login_expired(signin, home, clock)
    signin.fail_next(1, 400, body=b"")
    with pytest.raises(LoginRefreshRequired, match="HTTP 400"):
        resolve(home, clock, signin.transport()).get_frozen_credentials()


def test_an_unexpected_status_is_not_a_reason_to_log_in_again(home, clock, signin):
    login_expired(signin, home, clock)
    signin.fail_next(1, 302, body=b"")
    with pytest.raises(LoginError, match="HTTP 302") as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    assert type(err.value) is LoginError and not err.value.recoverable


def test_5xx_and_throttling_are_retried_then_recoverable(home, clock, signin):
    login_expired(signin, home, clock)
    signin.fail_next(1, 429, "INVALID_REQUEST", "slow down")
    signin.fail_next(1, 500)
    creds = resolve(home, clock, signin.transport()).get_frozen_credentials()
    assert signin.count() == 3 and creds == signin.issued[0]
    clock.advance(minutes=20)
    signin.fail_next(3, 503)
    with pytest.raises(LoginError) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    assert err.value.recoverable and err.value.status == 503 and signin.count() == 6


def test_static_stability_keeps_valid_credentials_while_the_service_fails(home, clock, signin):
    session = signin.login(home, SESSION, expires_in=4 * 60)  # inside the refresh window
    signin.fail_next(100, 503)
    creds = resolve(home, clock, signin.transport())
    assert creds.get_frozen_credentials() == session.credentials  # refresh failed: served
    assert signin.count() == 3
    clock.advance(minutes=3, seconds=30)  # 30 s left: a caller would wait for a refresh
    assert creds.get_frozen_credentials() == session.credentials
    calls = signin.count()
    clock.advance(seconds=31)  # expired, service still down: a recoverable error
    with pytest.raises(LoginError) as err:
        creds.get_frozen_credentials()
    assert err.value.recoverable and signin.count() > calls
    signin.reset()
    clock.advance(seconds=6)  # past the error memory
    assert creds.get_frozen_credentials() == signin.issued[-1]


def test_connection_errors_are_recoverable(home, clock, signin):
    session = signin.login(home, SESSION, expires_in=4 * 60)
    attempts = []

    def down(request):
        attempts.append(request.url)
        raise TransportError("connection refused", url=request.url)

    creds = resolve(home, clock, down)
    assert creds.get_frozen_credentials() == session.credentials and len(attempts) == 3
    clock.advance(minutes=5)
    with pytest.raises(TransportError) as err:
        creds.get_frozen_credentials()
    assert err.value.recoverable


def test_a_garbled_answer_is_malformed_and_not_shown(home, clock, signin):
    login_expired(signin, home, clock)
    signin.fail_next(1, 200, body=b'{"accessToken": {"accessKeyId": "only"}}')
    with pytest.raises(MalformedResponseError, match="not shown"):
        resolve(home, clock, signin.transport()).get_frozen_credentials()


def test_a_rejected_set_is_refreshed_even_when_the_file_holds_it(home, clock, signin):
    session = signin.login(home, SESSION)
    creds = resolve(home, clock, signin.transport())
    assert creds.get_frozen_credentials() == session.credentials
    assert creds.invalidate(session.credentials.access_key)  # e.g. a service said expired
    assert creds.get_frozen_credentials() == signin.issued[0] and signin.count() == 1


# --- DPoP -----------------------------------------------------------------------------------


def test_the_proof_verifies_and_the_fake_refuses_bad_ones(clock):
    import base64

    key = load_dpop_key(new_dpop_key(), path="p", profile="me")
    url = "https://us-east-1.signin.aws.amazon.com/v1/token"
    now = int(clock.now().timestamp())
    proof = dpop_proof(key, url + "?x=1", issued_at=now, jti="j-1")
    header, claims = verify_dpop(proof, method="POST", url=url, now=clock.now())
    assert header["typ"] == "dpop+jwt" and header["alg"] == "ES256" and "d" not in header["jwk"]
    assert claims == {"htm": "POST", "htu": url, "iat": now, "jti": "j-1"}

    other = load_dpop_key(new_dpop_key(), path="p", profile="me")
    forged = dpop_proof(other, url, issued_at=now, jti="j-2")
    swapped = ".".join([proof.split(".")[0], *forged.split(".")[1:]])  # header of another key
    cases = {
        "htu": dpop_proof(key, "https://elsewhere/v1/token", issued_at=now, jti="j"),
        "iat": dpop_proof(key, url, issued_at=now - 3600, jti="j"),
        "signature does not verify": swapped,
        "three": "a.b",
    }
    for words, bad in cases.items():
        with pytest.raises(ValueError, match=words):
            verify_dpop(bad, method="POST", url=url, now=clock.now())
    with pytest.raises(ValueError, match="htm"):
        verify_dpop(proof, method="GET", url=url, now=clock.now())
    # a private key in the header is refused
    head = json.loads(base64.urlsafe_b64decode(proof.split(".")[0] + "=="))
    head["jwk"]["d"] = "AAAA"
    raw = base64.urlsafe_b64encode(json.dumps(head).encode()).rstrip(b"=").decode()
    with pytest.raises(ValueError, match="private"):
        verify_dpop(raw + "." + proof.split(".", 1)[1], method="POST", url=url, now=clock.now())


def test_the_fake_endpoint_is_strict(home, clock, signin):
    session = login_expired(signin, home, clock)
    transport = signin.transport()
    key = load_dpop_key(session.dpop_key, path="p", profile="me")
    url = "https://eu-west-1.signin.aws.amazon.com/v1/token"
    body = json.dumps(
        {
            "clientId": "arn:aws:signin:::devtools/same-device",
            "refreshToken": session.refresh_token,
            "grantType": "refresh_token",
        }
    ).encode()

    def post(proof, data=body):
        from awsroles.transport.base import HttpRequest

        headers = {"Content-Type": "application/json"}
        if proof:
            headers["DPoP"] = proof
        return transport(HttpRequest("POST", url, headers, data)).status

    now = int(clock.now().timestamp())
    stranger = load_dpop_key(new_dpop_key(), path="p", profile="me")
    assert post(None) == 400
    assert post(dpop_proof(stranger, url, issued_at=now, jti="a")) == 400  # not the bound key
    good = dpop_proof(key, url, issued_at=now, jti="b")
    assert post(good) == 200
    assert post(dpop_proof(key, url, issued_at=now, jti="c")) == 401  # the token was spent
    assert post(good) == 400  # jti replayed
    reasons = [c.proof if c.proof != "ok" else c.reason for c in signin.calls]
    assert reasons[0] == "missing" and "DPoP key does not match" in reasons[1]
    assert "not valid" in reasons[3] and reasons[4] == "jti replayed"


@pytest.mark.parametrize("variant", ["shim", "awscrt"])
def test_the_proof_has_botocores_layout(monkeypatch, variant):
    """botocore's own ``_build_dpop_header`` (its EC from awscrt, or the cryptography shim)
    and ours: the same header and claims, byte for byte, for the same key, URL, time and jti;
    both signatures verify."""
    import base64

    import botocore.credentials as bc

    if variant == "awscrt":
        if not _has_awscrt():
            pytest.skip("awscrt (botocore[crt]) is not installed; the shim variant runs")
        from awscrt.crypto import EC
    else:
        EC = _shim_module().EC
    monkeypatch.setattr(bc, "EC", EC)
    pem = new_dpop_key()
    url = "https://us-east-1.signin.aws.amazon.com/v1/token"
    der = "".join(line for line in pem.splitlines() if not line.startswith("-----"))
    key = EC.new_key_from_der_data(base64.b64decode(der))
    theirs = bc._build_dpop_header(key, url, uid="jti-1", ts=1893456000)
    ours = dpop_proof(
        load_dpop_key(pem, path="p", profile="me"), url, issued_at=1893456000, jti="jti-1"
    )
    assert ours.rsplit(".", 1)[0] == theirs.rsplit(".", 1)[0]
    for proof in (ours, theirs):
        verify_dpop(proof, method="POST", url=url, now=FrozenClock("2030-01-01T00:00:00Z").now())


# --- chain position -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "config, credentials, kind",
    [
        (f"login_session = {SESSION}\n", "", "login"),
        # botocore: web identity, SSO, credentials-file keys, login, process, config-file keys
        (f"login_session = {SESSION}\ncredential_process = false\n", "", "login"),
        (
            f"login_session = {SESSION}\naws_access_key_id = A\naws_secret_access_key = S\n",
            "",
            "login",
        ),
        (
            f"login_session = {SESSION}\n",
            "aws_access_key_id = A\naws_secret_access_key = S\n",
            "static-keys",
        ),
        (
            f"login_session = {SESSION}\nsso_account_id = 1\nsso_role_name = R\n"
            "sso_start_url = https://x/start\nsso_region = us-east-1\n",
            "",
            "sso",
        ),
        (
            f"login_session = {SESSION}\nweb_identity_token_file = /t\nrole_arn = {ROLE}\n",
            "",
            "web-identity",
        ),
    ],
)
def test_place_in_the_profile_order(tmp_path, config, credentials, kind):
    home = tmp_path / "h"
    creds_text = f"[me]\n{credentials}" if credentials else ""
    write_aws_files(home, "[profile me]\n" + config, credentials=creds_text)
    plan = ProfileProvider().plan(make_context("me", env={"HOME": str(home)}))
    assert plan is not None and plan.base.kind == kind and not plan.hops
    if kind == "login":
        assert plan.base == LoginSource("me", SESSION)


def test_a_role_whose_source_profile_is_a_login_session(home, clock, fake_sts):
    fake_sts.add_role(ROLE)
    signin = FakeSignin(
        clock=clock, on_issue=lambda c: fake_sts.add_user(c.access_key, c.secret_key, ACCOUNT, "me")
    )
    plan = ProfileProvider().plan(make_context("dev", env={"HOME": str(home)}))
    assert plan.base == LoginSource("me", SESSION) and [h.role_arn for h in plan.hops] == [ROLE]
    login_expired(signin, home, clock)  # the source must be refreshed before AssumeRole
    from awsroles.transport.stdlib import StdlibTransport

    with signin:
        env = {"AWS_ENDPOINT_URL_SIGNIN": signin.url, "AWS_ENDPOINT_URL_STS": fake_sts.url}
        transport = StdlibTransport(trust_env=False)
        creds = resolve(home, clock, transport, profile="dev", env=env)
        frozen = creds.get_frozen_credentials()
    assert creds.method == "assume-role" and frozen.account_id == "123456789012"
    assert signin.count(status=200) == 1 and fake_sts.count("AssumeRole") == 1
    assert fake_sts.calls[-1].access_key == signin.issued[0].access_key


# --- the cryptography extra -----------------------------------------------------------------


NO_CRYPTOGRAPHY = r"""
import sys
sys.modules["cryptography"] = None  # as if it were not installed
import awsroles
from awsroles.errors import CredentialRetrievalError
print(awsroles.explain("me").splitlines()[-1])
try:
    awsroles.resolve("me").get_frozen_credentials()
except CredentialRetrievalError as e:
    print(type(e).__name__)
    print(e.profile, e.key)
    print(e)
"""


def test_without_cryptography_a_login_profile_is_a_typed_error(home, clock):
    FakeSignin().login(home, SESSION)  # a valid session: the error is not about it
    env = {"HOME": str(home), "PYTHONPATH": ROOT, "PATH": os.environ.get("PATH", "")}
    proc = subprocess.run(
        [sys.executable, "-c", NO_CRYPTOGRAPHY], env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    explain, name, where, message = proc.stdout.splitlines()
    assert "cryptography is not installed" in explain
    assert name == "LoginDependencyError" and where == "me login_session"
    assert "profile 'me', key 'login_session'" in message
    assert "pip install 'awsroles[login]'" in message


def test_importing_awsroles_does_not_import_cryptography(tmp_path):
    home = tmp_path / "h"
    write_aws_files(home, "[profile k]\naws_access_key_id = A\naws_secret_access_key = S\n", "")
    code = (
        "import sys, awsroles\n"
        "awsroles.resolve('k').get_frozen_credentials()\n"
        "print('cryptography' in sys.modules)\n"
    )
    env = {"HOME": str(home), "PYTHONPATH": ROOT, "PATH": os.environ.get("PATH", "")}
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False"


# --- secrets and explain --------------------------------------------------------------------


def test_no_secret_in_logs_reprs_or_errors(home, clock, signin, caplog):
    seen = []
    with caplog.at_level(logging.DEBUG):
        session = login_expired(signin, home, clock)
        secrets_ = [
            session.refresh_token,
            session.credentials.secret_key,
            session.credentials.token,
        ]
        secrets_ += [line for line in session.dpop_key.splitlines() if "-----" not in line]
        creds = resolve(home, clock, signin.transport())
        frozen = creds.get_frozen_credentials()
        doc = read_login_cache(home, SESSION)
        secrets_ += [doc["refreshToken"], frozen.secret_key, frozen.token]
        ctx = make_context("me", env={"HOME": str(home)}, clock=clock)
        fetcher = LoginFetcher(LoginSource("me", SESSION), ctx)
        seen += [repr(creds), repr(frozen), str(frozen), repr(fetcher), repr(session)]
        seen += [repr(signin.calls), repr(signin), repr(login_credentials(fetcher.source, ctx))]
        seen.append(awsroles.explain("me", env={"HOME": str(home)}, clock=clock, cache=None))
        signin.revoke(doc["refreshToken"])
        clock.advance(minutes=20)
        with pytest.raises(AwsRolesError) as err:  # 401
            resolve(home, clock, signin.transport()).get_frozen_credentials()
        seen += [str(err.value), repr(err.value)]
        with open(session.path, "w") as f:
            f.write(json.dumps(doc)[:-5])  # a torn file
        with pytest.raises(AwsRolesError) as err:
            resolve(home, clock, signin.transport()).get_frozen_credentials()
        seen += [str(err.value), repr(err.value)]
    seen.append(caplog.text)
    remember(*secrets_)  # the suite-wide check looks for them in every record, too
    for text in seen:
        for secret in secrets_:
            assert secret not in text


def test_explain_shows_the_login_session_without_secrets(home, clock, signin):
    session = signin.login(home, SESSION)

    def explain():
        return awsroles.explain("me", env={"HOME": str(home)}, clock=clock, cache=None)

    text = explain()
    assert "resolves as login" in text
    assert f"aws login session {SESSION} (profile 'me')" in text
    assert "login:" in text and session.path in text and "valid until 2030-01-01T00:15:00" in text
    assert "https://eu-west-1.signin.aws.amazon.com/v1/token" in text
    for secret in (session.refresh_token, session.credentials.secret_key, "PRIVATE"):
        assert secret not in text
    clock.advance(minutes=16)
    assert "expired (2030-01-01T00:15:00+00:00); will be refreshed" in explain()
    os.unlink(session.path)
    assert "not logged in" in explain() and "aws login --profile me" in explain()
    assert signin.calls == []  # explain never calls out


# --- botocore as the oracle -----------------------------------------------------------------

#: awscrt's ``EC`` as botocore's login code uses it, made of cryptography: what botocore runs
#: when awscrt (botocore[crt]) is not installed. Only the key loading, public coordinates,
#: signing and signature conversion are replaced; everything else is botocore's own.
EC_SHIM = r"""
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils


class _Key:
    def __init__(self, key):
        self._key = key

    def get_public_coords(self):
        n = self._key.public_key().public_numbers()
        return n.x.to_bytes(32, "big"), n.y.to_bytes(32, "big")

    def sign(self, digest):
        return self._key.sign(digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))


class EC:
    @staticmethod
    def new_key_from_der_data(der):
        return _Key(serialization.load_der_private_key(der, None))

    @staticmethod
    def decode_der_signature_to_padded_pair(signature, pad_to):
        r, s = utils.decode_dss_signature(signature)
        return r.to_bytes(pad_to, "big") + s.to_bytes(pad_to, "big")
"""


def _shim_module():
    module = types.ModuleType("ec_shim")
    exec(compile(EC_SHIM, "ec_shim", "exec"), module.__dict__)
    return module


def _has_awscrt():
    import importlib.util

    return importlib.util.find_spec("awscrt") is not None


BOTOCORE = r"""
import json, sys
variant, shim_dir = sys.argv[1], sys.argv[2]
if variant == "shim":
    sys.path.insert(0, shim_dir)
    import ec_shim
    import botocore.credentials
    botocore.credentials.EC = ec_shim.EC
import botocore.session
out = {}
for profile in sys.argv[3:]:
    try:
        c = botocore.session.Session(profile=profile).get_credentials()
        f = c.get_frozen_credentials()
        out[profile] = [c.method, f.access_key, f.secret_key, f.token, f.account_id]
    except Exception as e:
        out[profile] = ["error", type(e).__name__]
print(json.dumps(out))
"""


def _ours(home, env, profile):
    from awsroles.transport.stdlib import StdlibTransport

    try:
        c = awsroles.resolve(
            profile,
            env=dict(env, HOME=str(home)),
            cache=None,
            background_refresh=False,
            transport=StdlibTransport(trust_env=False),
        )
        f = c.get_frozen_credentials()
        return [c.method, f.access_key, f.secret_key, f.token, f.account_id]
    except LoginTokenError:
        return ["error", "LoginTokenLoadError"]  # botocore's name for the same failure


@pytest.mark.parametrize("variant", ["shim", "awscrt"])
def test_same_credentials_and_session_file_as_botocore(tmp_path, variant):
    """botocore's LoginProvider (through ``Session.get_credentials``, pointed at the fake
    with AWS_ENDPOINT_URL_SIGNIN) and awsroles, each on its own copy of the same kind of
    sessions: a valid one (no call), an expired one (refreshed, the fake verifying each
    proof) and a missing one. Same credentials and errors, same request, and session files
    rewritten alike."""
    if variant == "awscrt" and not _has_awscrt():
        pytest.skip(
            "awscrt (botocore[crt]) is not installed: botocore's own EC code cannot run; "
            "the shim variant runs botocore's login code on cryptography instead"
        )
    (tmp_path / "ec_shim.py").write_text(EC_SHIM)
    config = (
        CONFIG + f"\n[profile missing]\nlogin_session = {SESSION}/missing\nregion = eu-west-1\n"
    )
    homes = {"ours": tmp_path / "ours", "theirs": tmp_path / "theirs"}
    with FakeSignin() as signin:  # real time: botocore reads the system clock
        now = signin.clock.now()
        sessions = {}
        for side, h in homes.items():
            h.mkdir()
            write_aws_files(h, config, credentials="")
            sessions[side] = (
                signin.login(h, SESSION, expires_at=now - timedelta(minutes=1)),
                signin.login(h, OTHER),
            )
        env = {
            "PATH": os.environ.get("PATH", os.defpath),
            # where awscrt may have been put for this run, outside the environment
            "PYTHONPATH": os.environ.get("PYTHONPATH", ""),
            "AWS_ENDPOINT_URL_SIGNIN": signin.url,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
        proc = subprocess.run(
            [sys.executable, "-c", BOTOCORE, variant, str(tmp_path), "me", "other", "missing"],
            env=dict(env, HOME=str(homes["theirs"])),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        theirs = json.loads(proc.stdout)
        assert len(signin.calls) == 1  # botocore's refresh, its proof verified
        mine = {p: _ours(homes["ours"], env, p) for p in ("me", "other", "missing")}
        calls = signin.calls
    assert [c.status for c in calls] == [200, 200] and all(c.proof == "ok" for c in calls)
    assert calls[0][:2] == calls[1][:2] and calls[0].layout == calls[1].layout
    assert [calls[0].jkt, calls[1].jkt] == [sessions["theirs"][0].jkt, sessions["ours"][0].jkt]
    issued_theirs, issued_ours = signin.issued
    assert theirs["me"] == ["login", *issued_theirs[:4]]
    assert mine["me"] == ["login", *issued_ours[:4]]
    assert theirs["other"] == ["login", *sessions["theirs"][1].credentials[:4]]
    assert mine["other"] == ["login", *sessions["ours"][1].credentials[:4]]
    assert theirs["missing"] == mine["missing"] == ["error", "LoginTokenLoadError"]
    docs = {side: read_login_cache(h, SESSION) for side, h in homes.items()}
    for side, issued in (("ours", issued_ours), ("theirs", issued_theirs)):
        assert docs[side]["accessToken"]["accessKeyId"] == issued.access_key
    assert [list(d) for d in docs.values()] == [list(docs["ours"])] * 2
    assert [list(d["accessToken"]) for d in docs.values()] == [
        list(docs["ours"]["accessToken"])
    ] * 2
    from awsroles.timestamps import parse_timestamp

    first, second = (parse_timestamp(d["accessToken"]["expiresAt"]) for d in docs.values())
    assert abs((first - second).total_seconds()) <= 5
    for side in homes:
        before = sessions[side][0]
        assert docs[side]["refreshToken"] not in (before.refresh_token, "")
        assert docs[side]["dpopKey"] == before.dpop_key


@pytest.mark.parametrize(
    "region",
    [
        "us-east-1",
        "eu-west-1",
        "cn-north-1",
        "us-gov-west-1",
        "us-gov-east-1",
        "us-iso-east-1",
        "us-isob-east-1",
        "eusc-de-east-1",
        "ap-southeast-7",
    ],
)
@pytest.mark.parametrize("fips, dual", [(False, False), (True, False), (False, True), (True, True)])
def test_signin_endpoint_matches_botocore(tmp_path, region, fips, dual):
    """The URL botocore's signin client sends CreateOAuth2Token to (captured before it is
    sent) and the one awsroles computes, for the same region and FIPS/dual-stack flags."""
    import botocore.session
    from botocore import UNSIGNED
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    answer = {
        "accessToken": {"accessKeyId": "a", "secretAccessKey": "b", "sessionToken": "c"},
        "expiresIn": 900,
        "refreshToken": "r",
        "tokenType": "aws_sigv4",
    }

    class Raw:
        def stream(self, **kw):
            yield json.dumps(answer).encode()

    sent = []

    def capture(request, **kw):
        sent.append(request.url)
        return AWSResponse(request.url, 200, {"content-type": "application/json"}, Raw())

    session = botocore.session.Session()
    session.set_config_variable("config_file", str(tmp_path / "none"))
    config = Config(
        region_name=region,
        use_fips_endpoint=fips,
        use_dualstack_endpoint=dual,
        signature_version=UNSIGNED,
        retries={"max_attempts": 1},
    )
    try:
        client = session.create_client("signin", config=config)
        client.meta.events.register("before-send", capture)
        client.create_o_auth2_token(
            tokenInput={"clientId": "c", "refreshToken": "r", "grantType": "refresh_token"}
        )
    except Exception as exc:  # botocore's rules refuse the combination
        pytest.skip(f"botocore has no endpoint here: {type(exc).__name__}")
    env = {
        "HOME": str(tmp_path),
        "AWS_DEFAULT_REGION": region,
        "AWS_USE_FIPS_ENDPOINT": str(fips).lower(),
        "AWS_USE_DUALSTACK_ENDPOINT": str(dual).lower(),
    }
    url, _ = signin_endpoint(make_context(env=env))
    assert sent == [url + "/v1/token"]


def test_profile_order_matches_botocore(tmp_path, monkeypatch):
    """Which provider botocore's chain picks for profiles that hold a login_session with
    other credentials (its EC primitives from the shim), and which awsroles picks."""
    import botocore.credentials as bc
    import botocore.session

    monkeypatch.setattr(bc, "EC", _shim_module().EC)
    home = tmp_path / "h"
    profiles = {
        "login": "",
        "process": "credential_process = false\n",
        "config_keys": "aws_access_key_id = AKIACONFIG\naws_secret_access_key = S\n",
        "file_keys": "",
    }
    config = "".join(
        f"[profile {name}]\nlogin_session = {SESSION}\nregion = eu-west-1\n{extra}\n"
        for name, extra in profiles.items()
    )
    write_aws_files(
        home, config, "[file_keys]\naws_access_key_id = AKIAFILE\naws_secret_access_key = S\n"
    )
    FakeSignin().login(home, SESSION)
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ACCESS_KEY_ID",
        "AWS_CONFIG_FILE",
        "AWS_SHARED_CREDENTIALS_FILE",
        "AWS_LOGIN_CACHE_DIRECTORY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(home))
    for name in profiles:
        theirs = botocore.session.Session(profile=name).get_credentials().method
        ours = awsroles.resolve(name, env={"HOME": str(home)}, cache=None).method
        assert ours == theirs, name


def test_a_botocore_session_with_awsroles_installed_resolves_login_through_awsroles(
    home, clock, signin, monkeypatch
):
    # install() takes botocore's login provider out of the chain: the session is read (and
    # refreshed) by awsroles, under its lock, whatever botocore's crt extra.
    import botocore.session

    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))  # botocore reads the files through os.environ
    signin.login(home, SESSION)
    session = botocore.session.Session(profile="me")
    front = awsroles.install(
        session,
        env={"HOME": str(home)},
        clock=clock,
        transport=signin.transport(),
        cache=None,
    )
    methods = [p.METHOD for p in session.get_component("credential_provider").providers]
    assert "login" not in methods
    creds = session.get_credentials()
    assert creds is front.credentials and creds.method == "login"
    assert creds.get_frozen_credentials().access_key.startswith("ASIA")


@pytest.mark.parametrize("field", ["message", "error"])
def test_a_refresh_token_echoed_anywhere_in_an_error_is_never_repeated(home, clock, signin, field):
    session = login_expired(signin, home, clock)
    padding = "x" * 150  # past the length a message is cut to
    doc = {"error": "AccessDeniedException", "message": "denied"}
    doc[field] = f"{padding} {session.refresh_token}"
    signin.fail_next(1, 400, body=json.dumps(doc).encode())
    with pytest.raises(LoginError) as err:
        resolve(home, clock, signin.transport()).get_frozen_credentials()
    text = str(err.value) + (err.value.code or "")
    for piece in (session.refresh_token[:20], session.refresh_token[-20:]):
        assert piece not in text
