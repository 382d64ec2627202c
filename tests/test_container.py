"""The container provider (ECS task roles, EKS Pod Identity): in memory, on a frozen clock."""

from __future__ import annotations

import logging
import pickle
import socket
from datetime import timedelta

import pytest

from awsroles.errors import (
    CredentialRetrievalError,
    InvalidConfigError,
    MalformedResponseError,
    TransportError,
)
from awsroles.providers import container
from awsroles.providers.container import (
    ContainerEndpointError,
    ContainerProvider,
    resolve_container_uri,
)
from awsroles.testing.fake_container import FakeContainerEndpoint
from awsroles.transport import default_transport
from awsroles.transport.base import HttpResponse
from awsroles.transport.stdlib import StdlibTransport

from helpers import check, load, make_context

FULL = "AWS_CONTAINER_CREDENTIALS_FULL_URI"
REL = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
TOKEN = "AWS_CONTAINER_AUTHORIZATION_TOKEN"
TOKEN_FILE = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"
PLANTED_TOKEN = "planted-container-auth-token-SECRET"
LOCAL = "http://127.0.0.1:8080/v1/credentials"
GOOD_DOC = (
    b'{"AccessKeyId": "ASIAGOODKEY000000001", "SecretAccessKey": "planted-secret-key-XYZ", '
    b'"Token": "planted-session-token-XYZ", "Expiration": "2030-01-01T06:00:00Z"}'
)


@pytest.fixture
def fake(clock):
    return FakeContainerEndpoint(token=PLANTED_TOKEN, clock=clock)


def ctx_for(env, clock, transport):
    return make_context(env=env, clock=clock, transport=transport, background_refresh=False)


def load_env(env, clock, transport, **kw):
    return load(ContainerProvider(**kw), ctx_for(env, clock, transport))


class Recorder:
    """A transport that records requests and answers from a list (last answer repeats)."""

    def __init__(self, *answers):
        self.answers = list(answers) or [HttpResponse(200, {}, GOOD_DOC)]
        self.requests = []

    def __call__(self, request):
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return answer


def no_network(request):
    raise AssertionError(f"no request expected, got {request.url}")


# --- the URI ------------------------------------------------------------------------------


def test_not_configured_returns_none_and_check_says_why(clock):
    assert load_env({}, clock, no_network) is None
    applies, reason = check(ContainerProvider(), make_context(env={}))
    assert not applies and "neither" in reason and REL in reason and FULL in reason
    assert ContainerProvider.name == "container-role"


def test_relative_uri_keeps_query_and_wins_over_an_invalid_full_uri(clock, fake):
    env = {REL: "/v1/credentials?id=1", FULL: "http://10.0.0.1/x", TOKEN: PLANTED_TOKEN}
    creds = load_env(env, clock, fake.transport())
    assert creds.method == "container-role"
    assert fake.requests[0].path == "/v1/credentials?id=1"
    assert resolve_container_uri(env) == "http://169.254.170.2/v1/credentials?id=1"
    applies, reason = check(ContainerProvider(), make_context(env=env))
    assert applies and f"{FULL} is ignored" in reason and "?id" not in reason


@pytest.mark.parametrize("value", ["", "  ", "credentials", "v2/x", "@evil.com/x", "/x y"])
def test_bad_relative_uri_is_a_config_error(clock, value):
    with pytest.raises(InvalidConfigError) as info:
        load_env({REL: value}, clock, no_network)
    assert info.value.key == REL and REL in str(info.value)


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "8.8.8.8",
        "10.0.0.1",
        "172.16.0.5",
        "192.168.1.10",
        "169.254.169.254",
        "169.254.170.3",
        "[fd00:ec2::24]",
        "[::ffff:10.0.0.1]",
        "localhost.",
        "localhost.example.com",
        "127.0.0.1.nip.io",
        "2130706433",
    ],
)
def test_plain_http_to_a_public_or_private_host_is_refused(clock, host):
    env = {FULL: f"http://{host}:8080/creds?secretish=1"}
    with pytest.raises(InvalidConfigError) as info:
        load_env(env, clock, no_network)
    text = str(info.value)
    assert info.value.key == FULL and FULL in text
    for allowed in ("loopback", "localhost", "169.254.170.2", "169.254.170.23", "fd00:ec2::23"):
        assert allowed in text
    assert "https" in text and "secretish" not in text
    with pytest.raises(InvalidConfigError):  # explain shows it as "fails"
        check(ContainerProvider(), make_context(env=env))


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/x",
        "http://127.255.255.254/x",
        "http://[::1]:8080/x",
        "http://localhost/x",
        "http://LOCALHOST:80/x",
        "http://[::ffff:127.0.0.1]/x",
        "http://169.254.170.2/v2/credentials/abc",
        "http://169.254.170.23/v1/credentials",
        "http://[fd00:ec2::23]/v1/credentials",
        "https://example.com/creds",
        "https://10.0.0.1:8443/creds?a=b",
        "HTTPS://Example.COM/creds",
    ],
)
def test_allowed_full_uris_are_used_as_given(url):
    assert resolve_container_uri({FULL: url}) == url


@pytest.mark.parametrize(
    "url, words",
    [
        ("/credentials", "did not specify a host"),
        ("http:///x", "did not specify a host"),
        ("localhost:8080/credentials", "http:// or https://"),
        ("ftp://127.0.0.1/x", "http:// or https://"),
        ("http://127.0.0.1:99999/x", "not a valid URL"),
        ("http://127.0.0.1/x\n", "whitespace"),
        ("", "empty"),
    ],
)
def test_malformed_full_uri_is_a_config_error(clock, url, words):
    with pytest.raises(InvalidConfigError) as info:
        load_env({FULL: url}, clock, no_network)
    assert words in str(info.value) and info.value.key == FULL


def test_user_info_in_full_uri_is_refused_without_echoing_it(clock):
    with pytest.raises(InvalidConfigError) as info:
        load_env({FULL: "http://admin:hunter2pw@127.0.0.1/x"}, clock, no_network)
    assert "hunter2pw" not in str(info.value) and "user name or password" in str(info.value)


def test_no_dns_lookup_for_the_allow_list(monkeypatch):
    def boom(*a, **k):
        raise AssertionError("DNS must not be used")

    monkeypatch.setattr(socket, "getaddrinfo", boom)
    monkeypatch.setattr(socket, "gethostbyname", boom)
    assert resolve_container_uri({FULL: "http://localhost:8080/c"}) == "http://localhost:8080/c"
    with pytest.raises(InvalidConfigError):
        resolve_container_uri({FULL: "http://metadata.internal/c"})


# --- the request and the Authorization token ----------------------------------------------


def test_request_shape(clock):
    rec = Recorder()
    load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, rec)
    (req,) = rec.requests
    assert (req.method, req.url) == ("GET", LOCAL)
    assert dict(req.headers) == {"Accept": "application/json", "Authorization": PLANTED_TOKEN}
    assert req.timeout == (2.0, 2.0) and req.allow_redirects is False
    assert req.max_body == 64 * 1024 and req.body is None


def test_no_token_no_header_and_empty_env_token_is_no_token(clock):
    for env in ({FULL: LOCAL}, {FULL: LOCAL, TOKEN: ""}):
        rec = Recorder()
        load_env(env, clock, rec)
        assert "Authorization" not in rec.requests[0].headers


def test_token_file_wins_over_env_and_is_sent_verbatim(clock, fake, tmp_path):
    path = tmp_path / "token"
    path.write_text(PLANTED_TOKEN)
    env = {FULL: LOCAL, TOKEN: "env-token-loses", TOKEN_FILE: str(path)}
    load_env(env, clock, fake.transport())
    assert fake.requests[0].auth == "ok"
    applies, reason = check(ContainerProvider(), make_context(env=env))
    assert TOKEN_FILE in reason and str(path) in reason and PLANTED_TOKEN not in reason


@pytest.mark.parametrize("content", ["{t}\n", "{t}\r\n", "  {t}\n\n", "{t}"])
def test_token_file_surrounding_whitespace_is_dropped(clock, fake, tmp_path, content):
    path = tmp_path / "token"
    path.write_bytes(content.format(t=PLANTED_TOKEN).encode())
    load_env({FULL: LOCAL, TOKEN_FILE: str(path)}, clock, fake.transport())
    assert fake.requests[0].auth == "ok"


def test_token_rotation_in_the_file_is_picked_up_at_refresh(clock, fake, tmp_path):
    path = tmp_path / "token"
    path.write_text("token-one\n")
    fake.token = "token-one"
    creds = load_env({FULL: LOCAL, TOKEN_FILE: str(path)}, clock, fake.transport())
    first = creds.get_frozen_credentials()
    fake.token = "token-two"  # the agent now wants the rotated token ...
    with pytest.raises(ContainerEndpointError) as info:
        creds.refresh(force=True)  # ... and the file still holds the old one
    assert info.value.status == 403 and TOKEN_FILE in str(info.value)
    path.write_text("token-two\n")  # kubelet rotates the file
    clock.advance(minutes=50)  # inside the advisory window; the fake rotates (< 15 min left)
    new = creds.refresh()
    assert new.access_key != first.access_key
    assert [r.auth for r in fake.requests] == ["ok", "wrong", "ok"]


@pytest.mark.parametrize("token", ["a\nb", "a\rb", "tok\n", "\r\ntok"])
def test_line_breaks_in_env_token_are_refused(clock, token):
    with pytest.raises(InvalidConfigError) as info:
        load_env({FULL: LOCAL, TOKEN: token}, clock, no_network)
    assert info.value.key == TOKEN and "line break" in str(info.value)


def test_line_break_inside_token_file_is_refused(clock, tmp_path):
    path = tmp_path / "token"
    path.write_text("part-one\npart-two\n")
    with pytest.raises(InvalidConfigError) as info:
        load_env({FULL: LOCAL, TOKEN_FILE: str(path)}, clock, no_network)
    assert info.value.key == TOKEN_FILE and "part-" not in str(info.value)


def test_control_characters_in_token_are_refused(clock):
    with pytest.raises(InvalidConfigError):
        load_env({FULL: LOCAL, TOKEN: "tok\x00en"}, clock, no_network)


@pytest.mark.parametrize("kind", ["missing", "empty", "blank", "directory", "unset-path"])
def test_unusable_token_file_is_a_typed_error_naming_the_variable(clock, tmp_path, kind):
    path = tmp_path / "token"
    if kind == "empty":
        path.write_text("")
    elif kind == "blank":
        path.write_text(" \n")
    elif kind == "directory":
        path.mkdir()
    value = "" if kind == "unset-path" else str(path)
    with pytest.raises(CredentialRetrievalError) as info:
        load_env({FULL: LOCAL, TOKEN_FILE: value, TOKEN: "env-token"}, clock, no_network)
    assert info.value.key == TOKEN_FILE and not info.value.recoverable
    if kind == "missing":
        assert "does not exist" in str(info.value)
        with pytest.raises(CredentialRetrievalError, match="does not exist"):
            check(ContainerProvider(), make_context(env={FULL: LOCAL, TOKEN_FILE: value}))


# --- retries ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 302])
def test_4xx_and_redirects_are_not_retried(clock, fake, status):
    fake.fail_next(5, status)
    with pytest.raises(ContainerEndpointError) as info:
        load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    assert fake.count() == 1 and clock.slept == []
    assert info.value.status == status and not info.value.recoverable
    assert f"HTTP {status}" in str(info.value)


def test_wrong_or_missing_token_hint(clock, fake):
    with pytest.raises(ContainerEndpointError) as info:
        load_env({FULL: LOCAL}, clock, fake.transport())
    assert info.value.status == 401 and TOKEN_FILE in str(info.value)
    with pytest.raises(ContainerEndpointError) as info:
        load_env({FULL: LOCAL, TOKEN: "wrong"}, clock, fake.transport())
    assert info.value.status == 403 and f"from {TOKEN}" in str(info.value)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_5xx_and_429_are_retried_then_succeed(clock, fake, status):
    fake.fail_next(2, status)
    creds = load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    assert creds.access_key == fake.credentials.access_key
    assert [r.status for r in fake.requests] == [status, status, 200]
    assert clock.slept == [1.0, 1.0]


def test_5xx_three_times_gives_up_without_a_trailing_sleep(clock, fake):
    fake.fail_next(3, 503)
    with pytest.raises(ContainerEndpointError) as info:
        load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    assert fake.count() == 3 and clock.slept == [1.0, 1.0]
    assert info.value.recoverable and info.value.status == 503 and "3 attempts" in str(info.value)


def test_connection_errors_are_retried_and_recoverable(clock):
    rec = Recorder(TransportError("could not connect to http://127.0.0.1:8080/v1/credentials"))
    with pytest.raises(TransportError) as info:
        load_env({FULL: LOCAL}, clock, rec)
    assert len(rec.requests) == 3 and clock.slept == [1.0, 1.0]
    assert info.value.recoverable and info.value.provider == "container-role"


def test_a_slow_endpoint_times_out(clock, fake):
    fake.slow = 5
    with pytest.raises(TransportError) as info:
        load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    assert info.value.timeout and fake.count() == 3 and fake.requests[0].status == 0


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff\xfe", b'"str"', b""])
def test_malformed_json_is_retried(clock, fake, body):
    fake.fail_next(1, 200, body)
    creds = load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    assert creds.access_key and fake.count() == 2
    fake.reset()
    fake.fail_next(3, 200, body)
    with pytest.raises(MalformedResponseError) as info:
        load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    assert fake.count() == 3 and info.value.recoverable


def test_oversized_body_is_refused(clock):
    rec = Recorder(HttpResponse(200, {}, b" " * (64 * 1024 + 1)))
    with pytest.raises(MalformedResponseError):
        load_env({FULL: LOCAL}, clock, rec)


@pytest.mark.parametrize("field", ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"])
def test_missing_field_names_the_field_never_the_values(clock, field):
    import json

    doc = json.loads(GOOD_DOC)
    del doc[field]
    rec = Recorder(HttpResponse(200, {}, json.dumps(doc).encode()))
    with pytest.raises(MalformedResponseError) as info:
        load_env({FULL: LOCAL}, clock, rec)
    text = str(info.value)
    assert field in text and "planted" not in text and len(rec.requests) == 1


def test_bad_expiration_and_optional_account_id(clock):
    bad = GOOD_DOC.replace(b"2030-01-01T06:00:00Z", b"tomorrow-ish")
    with pytest.raises(MalformedResponseError) as info:
        load_env({FULL: LOCAL}, clock, Recorder(HttpResponse(200, {}, bad)))
    assert "Expiration" in str(info.value)
    creds = load_env({FULL: LOCAL}, clock, Recorder()).get_frozen_credentials()
    assert creds.account_id is None and creds.expiry.isoformat() == "2030-01-01T06:00:00+00:00"
    with_account = GOOD_DOC[:-1] + b', "AccountId": "210987654321", "RoleArn": "x"}'
    creds = load_env({FULL: LOCAL}, clock, Recorder(HttpResponse(200, {}, with_account)))
    assert creds.account_id == "210987654321" and creds.token == "planted-session-token-XYZ"


# --- refresh ------------------------------------------------------------------------------


def test_refresh_fetches_again_when_needed(clock, fake):
    creds = load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    first = creds.get_frozen_credentials()
    assert creds.get_frozen_credentials() is first and fake.count() == 1
    clock.advance(minutes=59, seconds=30)  # inside the mandatory window
    second = creds.get_frozen_credentials()
    assert second.access_key != first.access_key and fake.count() == 2
    assert second.expiry == clock.now().replace(microsecond=0) + timedelta(hours=1)


def test_static_stability_when_the_endpoint_fails_at_refresh(clock, fake, caplog):
    creds = load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    first = creds.get_frozen_credentials()
    fake.fail_next(3, 503)
    clock.advance(minutes=59, seconds=30)
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        assert creds.get_frozen_credentials() is first
    assert fake.count() == 4 and "serving the current credentials" in caplog.text


def test_non_recoverable_refresh_error_is_raised(clock, fake):
    creds = load_env({FULL: LOCAL, TOKEN: PLANTED_TOKEN}, clock, fake.transport())
    fake.token = "rotated-elsewhere"
    clock.advance(minutes=59, seconds=30)
    with pytest.raises(ContainerEndpointError):
        creds.get_frozen_credentials()


# --- plumbing and secrets -----------------------------------------------------------------


def test_default_transport_is_replaced_by_one_without_proxies():
    ctx = make_context(env={FULL: LOCAL})
    transport = container._transport(ctx)
    assert isinstance(transport, StdlibTransport) and transport is not default_transport()
    assert transport._trust_env is False
    custom = Recorder()
    assert container._transport(make_context(env={}, transport=custom)) is custom


def test_errors_pickle():
    err = ContainerEndpointError("x", status=503, recoverable=True)
    again = pickle.loads(pickle.dumps(err))
    assert again.status == 503 and again.recoverable and str(again) == str(err)


def test_no_secret_in_logs_reprs_or_errors(clock, fake, tmp_path, caplog):
    path = tmp_path / "token"
    path.write_text(PLANTED_TOKEN + "\n")
    env = {FULL: LOCAL, TOKEN_FILE: str(path)}
    leaky = (
        b'{"message": "oops", "SecretAccessKey": "planted-secret-in-error-body", '
        b'"Token": "planted-token-in-error-body"}'
    )
    seen = []
    with caplog.at_level(logging.DEBUG):
        creds = load_env(env, clock, fake.transport())
        seen += [repr(creds), str(creds), repr(creds.get_frozen_credentials()), repr(fake)]
        seen += [repr(r) for r in fake.requests] + [
            repr(ContainerProvider().fetcher(ctx_for(env, clock, fake.transport())))
        ]
        seen.append(str(check(ContainerProvider(), make_context(env=env))))
        for status, n in ((500, 3), (403, 1)):
            fake.fail_next(n, status, leaky)
            with pytest.raises(ContainerEndpointError) as info:
                load_env(env, clock, fake.transport())
            seen += [str(info.value), repr(info.value)]
        fake.fail_next(3, 200, leaky[:-5])
        with pytest.raises(MalformedResponseError) as info:
            load_env(env, clock, fake.transport())
        seen.append(str(info.value))
        for bad_env in ({FULL: LOCAL, TOKEN: PLANTED_TOKEN + "\n"},):
            with pytest.raises(InvalidConfigError) as info:
                load_env(bad_env, clock, fake.transport())
            seen.append(str(info.value))
        fake.fail_next(3, 503)
        clock.advance(minutes=59, seconds=30)
        creds.get_frozen_credentials()
        seen.append(repr(creds))
    seen += [r.getMessage() for r in caplog.records]
    secrets = [
        PLANTED_TOKEN,
        fake.credentials.secret_key,
        fake.credentials.token,
        creds.get_frozen_credentials().secret_key,
        "planted-secret-in-error-body",
        "planted-token-in-error-body",
    ]
    blob = "\n".join(seen)
    assert caplog.records, "expected some log records"
    for secret in secrets:
        assert secret not in blob


# --- the allow-list compared with botocore's (no network: its validator only) ----------------

ALLOW_LIST_CASES = [
    "http://example.com/x",
    "http://8.8.8.8/x",
    "http://10.0.0.1/x",
    "http://169.254.169.254/x",
    "http://169.254.170.3/",
    "http://[fd00:ec2::24]/",
    "http://localhost./",
    "http://2130706433/",
    "http://127.0.0.1:9/x",
    "http://127.255.255.254/x",
    "http://[::1]:8080/x",
    "http://localhost/x",
    "http://LOCALHOST:80/x",
    "http://169.254.170.2/v2/x",
    "http://169.254.170.23/v1/credentials",
    "http://[fd00:ec2::23]/v1/credentials",
    "http://[FD00:EC2::23]/x",
    "https://example.com/c",
    "https://10.0.0.1:8443/c",
    "/credentials",
    "localhost:8080/credentials",
    "http:///x",
]
#: Where we differ, and why: the same address spelled differently is the same address; a URL
#: botocore accepts but cannot fetch (no host, not http) is refused up front.
#: Values: (ours, botocore's); None where botocore's answer depends on the Python version
#: (``ipaddress`` counts IPv4-mapped loopback as loopback from 3.13 on).
ALLOW_LIST_DIFFERENCES = {
    "http://[::ffff:127.0.0.1]/x": (True, None),  # IPv4-mapped loopback
    "http://[fd00:ec2:0::23]/x": (True, False),  # fd00:ec2::23 written out
    "ftp://127.0.0.1/x": (False, True),
    "https:///x": (False, True),
}


def _botocore_allows(url):
    from botocore.utils import ContainerMetadataFetcher

    try:
        ContainerMetadataFetcher()._validate_allowed_url(url)
    except ValueError:
        return False
    return True


def _we_allow(url):
    try:
        resolve_container_uri({FULL: url})
    except InvalidConfigError:
        return False
    return True


@pytest.mark.parametrize("url", ALLOW_LIST_CASES + list(ALLOW_LIST_DIFFERENCES))
def test_allow_list_matches_botocore_except_listed_differences(url):
    if url in ALLOW_LIST_DIFFERENCES:
        ours, theirs = ALLOW_LIST_DIFFERENCES[url]
        assert _we_allow(url) is ours
        assert theirs is None or _botocore_allows(url) is theirs
    else:
        assert _we_allow(url) is _botocore_allows(url)
