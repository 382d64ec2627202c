"""The IMDS provider, in memory (FakeIMDS.transport + FrozenClock): settings, token reuse, the
IMDSv1 fallback matrix, retries, static stability and secrets."""

import logging
from datetime import timedelta

import pytest

from awsroles.errors import (
    CredentialRetrievalError,
    InvalidConfigError,
    MalformedResponseError,
    TransportError,
)
from awsroles.providers.imds import ImdsProvider, ImdsV1DisabledError
from awsroles.testing.fake_imds import CREDENTIALS_PATH, TOKEN_PATH, FakeIMDS
from awsroles.transport.base import HttpResponse

from helpers import check, load, make_context

ROLE = "fake-instance-role"
ROLE_PATH = CREDENTIALS_PATH + ROLE
IPV4, IPV6 = "http://169.254.169.254/", "http://[fd00:ec2::254]/"


def make_ctx(tmp_path, clock, transport, config="", **env):
    path = tmp_path / "config"
    path.write_text(config)
    full = {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(path),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }
    full.update(env)
    return make_context(env=full, clock=clock, transport=transport, background_refresh=False)


@pytest.fixture
def imds(clock):
    return FakeIMDS(clock=clock, lifetime=3600)


@pytest.fixture
def ctx(tmp_path, clock, imds):
    return make_ctx(tmp_path, clock, imds.transport())


def no_network(request):
    raise AssertionError(f"unexpected request {request.method} {request.url}")


def recording(transport, log):
    def send(request):
        log.append(request)
        return transport(request)

    return send


# --- settings --------------------------------------------------------------------------------


def test_defaults(tmp_path, clock):
    cfg = ImdsProvider().config(make_ctx(tmp_path, clock, no_network))
    assert cfg.token_url == "http://169.254.169.254/latest/api/token"
    assert (cfg.timeout, cfg.attempts, cfg.v1_disabled, cfg.disabled) == (1.0, 1, False, False)


@pytest.mark.parametrize(
    "var, key, env_value, profile_value, attr, from_env, from_profile",
    [
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "ec2_metadata_service_endpoint",
            "http://env:1",
            "http://prof:2",
            "base_url",
            "http://env:1",
            "http://prof:2",
        ),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            "ec2_metadata_service_endpoint_mode",
            "IPv6",
            "IPv4",
            "base_url",
            IPV6,
            IPV4,
        ),
        ("AWS_IMDS_USE_IPV6", "imds_use_ipv6", "true", "false", "base_url", IPV6, IPV4),
        ("AWS_IMDS_USE_IPV6", "imds_use_ipv6", "false", "true", "base_url", IPV4, IPV6),
        (
            "AWS_EC2_METADATA_V1_DISABLED",
            "ec2_metadata_v1_disabled",
            "TRUE",
            "false",
            "v1_disabled",
            True,
            False,
        ),
        ("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", "0.5", "7", "timeout", 0.5, 7),
        (
            "AWS_METADATA_SERVICE_NUM_ATTEMPTS",
            "metadata_service_num_attempts",
            "3",
            "5",
            "attempts",
            3,
            5,
        ),
    ],
)
def test_env_beats_profile(
    tmp_path, clock, var, key, env_value, profile_value, attr, from_env, from_profile
):
    config = f"[default]\n{key} = {profile_value}\n"
    both = ImdsProvider().config(make_ctx(tmp_path, clock, no_network, config, **{var: env_value}))
    assert getattr(both, attr) == from_env
    only_profile = ImdsProvider().config(make_ctx(tmp_path, clock, no_network, config))
    assert getattr(only_profile, attr) == from_profile
    blank_env = make_ctx(tmp_path, clock, no_network, config, **{var: " "})
    assert getattr(ImdsProvider().config(blank_env), attr) == from_profile


def test_profile_values_apply_from_the_selected_profile(tmp_path, clock):
    config = (
        "[default]\nmetadata_service_timeout = 9\n[profile p]\nmetadata_service_timeout = 2.5\n"
        "metadata_service_num_attempts = 4\nec2_metadata_v1_disabled = true\n"
        "ec2_metadata_service_endpoint = http://127.0.0.1:9/\n"
    )
    cfg = ImdsProvider().config(make_ctx(tmp_path, clock, no_network, config, AWS_PROFILE="p"))
    assert (cfg.timeout, cfg.attempts, cfg.v1_disabled) == (2.5, 4, True)
    assert cfg.token_url == "http://127.0.0.1:9/latest/api/token"  # no doubled slash


def test_mode_beats_legacy_ipv6_switch_and_endpoint_beats_mode(tmp_path, clock):
    env = {"AWS_IMDS_USE_IPV6": "true", "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE": "ipv4"}
    assert ImdsProvider().config(make_ctx(tmp_path, clock, no_network, **env)).base_url == (
        "http://169.254.169.254/"
    )
    env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": "http://h:1", "AWS_IMDS_USE_IPV6": "true"}
    assert (
        ImdsProvider().config(make_ctx(tmp_path, clock, no_network, **env)).base_url == "http://h:1"
    )


@pytest.mark.parametrize(
    "var, key, value, words",
    [
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint", "not a url", "uri"),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT",
            "ec2_metadata_service_endpoint",
            "169.254.1.1",
            "http",
        ),
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "ec2_metadata_service_endpoint", "http://", "host"),
        (
            "AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE",
            "ec2_metadata_service_endpoint_mode",
            "ipv5",
            "IPv4, IPv6",
        ),
        ("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", "abc", "positive"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", "0", "positive"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", "-1", "positive"),
        ("AWS_METADATA_SERVICE_TIMEOUT", "metadata_service_timeout", "nan", "positive"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts", "0", "whole"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts", "1.5", "whole"),
        ("AWS_METADATA_SERVICE_NUM_ATTEMPTS", "metadata_service_num_attempts", "x", "whole"),
    ],
)
def test_bad_settings_are_typed_errors_naming_var_or_key(tmp_path, clock, var, key, value, words):
    with pytest.raises(InvalidConfigError) as err:
        load(ImdsProvider(), make_ctx(tmp_path, clock, no_network, **{var: value}))
    assert err.value.key == var and var in str(err.value) and words in str(err.value)
    ctx = make_ctx(tmp_path, clock, no_network, f"[profile p]\n{key} = {value}\n", AWS_PROFILE="p")
    with pytest.raises(InvalidConfigError) as err:
        load(ImdsProvider(), ctx)
    assert err.value.key == key and err.value.profile == "p"


def test_explicit_constructor_settings(tmp_path, clock):
    ctx = make_ctx(tmp_path, clock, no_network, AWS_EC2_METADATA_SERVICE_ENDPOINT="http://env:1")
    assert ImdsProvider(endpoint="https://custom").config(ctx).base_url == "https://custom"
    assert ImdsProvider(mode="IPv6").config(ctx).base_url == "http://env:1"
    with pytest.raises(InvalidConfigError):
        ImdsProvider(mode="ipv7").config(ctx)


@pytest.mark.parametrize("value", ["true", "TRUE", "True"])
def test_disabled_makes_no_request_and_skips_validation(tmp_path, clock, value):
    ctx = make_ctx(
        tmp_path,
        clock,
        no_network,
        AWS_EC2_METADATA_DISABLED=value,
        AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE="bogus",
    )
    provider = ImdsProvider()
    assert load(provider, ctx) is None
    assert check(provider, ctx) == (False, "disabled by AWS_EC2_METADATA_DISABLED")
    with pytest.raises(CredentialRetrievalError) as err:
        provider.load_or_raise(ctx)
    assert err.value.key == "AWS_EC2_METADATA_DISABLED"


def test_check_is_offline(tmp_path, clock):
    ctx = make_ctx(tmp_path, clock, no_network)
    assert check(ImdsProvider(), ctx) == (True, "will query http://169.254.169.254 (IMDSv2)")
    ctx = make_ctx(tmp_path, clock, no_network, AWS_EC2_METADATA_V1_DISABLED="true")
    assert check(ImdsProvider(), ctx) == (True, "will query http://169.254.169.254 (IMDSv2 only)")


def test_non_boolean_v1_disabled_is_false_with_a_warning(tmp_path, clock, caplog):
    ctx = make_ctx(tmp_path, clock, no_network, AWS_EC2_METADATA_V1_DISABLED="yes")
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        assert ImdsProvider().config(ctx).v1_disabled is False
    assert "AWS_EC2_METADATA_V1_DISABLED" in caplog.text


# --- protocol and token reuse -----------------------------------------------------------------


def test_first_fetch_is_three_requests_then_two_per_refresh(ctx, imds, clock):
    creds = load(ImdsProvider(), ctx)
    assert [(r.method, r.path, r.auth) for r in imds.requests] == [
        ("PUT", TOKEN_PATH, "none"),
        ("GET", CREDENTIALS_PATH, "token"),
        ("GET", ROLE_PATH, "token"),
    ]
    assert creds.method == "iam-role"
    assert creds.get_frozen_credentials().access_key == imds.credentials.access_key
    for _ in range(4):  # advisory refreshes, each inside the 6 h token's life
        imds.reset()
        clock.advance(minutes=46)
        new = imds.rotate()
        assert creds.get_frozen_credentials().access_key == new.access_key
        assert imds.count() <= 2 and imds.count("PUT") == 0
        assert {r.auth for r in imds.requests} == {"token"}


def test_every_request_is_bounded_by_the_timeout(tmp_path, clock, imds):
    ctx = make_ctx(tmp_path, clock, imds.transport(), AWS_METADATA_SERVICE_TIMEOUT="0.5")
    load(ImdsProvider(), ctx)
    assert {r.timeout for r in imds.requests} == {0.5}


def test_token_renewed_near_its_ttl(ctx, imds, clock):
    creds = load(ImdsProvider(), ctx)
    clock.advance(hours=5, minutes=56)  # within 5 min of the 6 h TTL
    imds.reset()
    creds.refresh(force=True)
    assert imds.count("PUT", TOKEN_PATH) == 1 and imds.count() == 3


def test_ttl_header_of_the_answer_is_honoured(tmp_path, clock, imds):
    inner = imds.transport()

    def short_ttl(request):
        resp = inner(request)
        if request.method == "PUT":
            return HttpResponse(
                resp.status,
                dict(resp.headers, **{"x-aws-ec2-metadata-token-ttl-seconds": "900"}),
                resp.body,
            )
        return resp

    creds = load(ImdsProvider(), make_ctx(tmp_path, clock, short_ttl))
    clock.advance(minutes=9)
    imds.reset()
    creds.refresh(force=True)
    assert imds.count("PUT") == 0
    clock.advance(minutes=2)  # 11 min: inside the last 5 min of the 15 min TTL
    creds.refresh(force=True)
    assert imds.count("PUT") == 1


def test_401_takes_one_new_token(ctx, imds):
    creds = load(ImdsProvider(), ctx)
    imds.expire_tokens()
    imds.reset()
    creds.refresh(force=True)
    assert [(r.method, r.status) for r in imds.requests] == [
        ("GET", 401),
        ("PUT", 200),
        ("GET", 200),
        ("GET", 200),
    ]
    imds.reset()
    imds.fail_next(5, 401, path=CREDENTIALS_PATH)
    with pytest.raises(MalformedResponseError) as err:
        ctx_client_fetch(creds)
    assert "401" in str(err.value) and err.value.recoverable
    assert imds.count("PUT") == 1


def ctx_client_fetch(creds):
    """Run the provider's fetch function directly (what a refresh runs)."""
    return creds._fetch("mandatory", creds.get_frozen_credentials())


# --- the IMDSv1 fallback matrix ----------------------------------------------------------------


@pytest.mark.parametrize("status", [403, 404, 405])
def test_token_refused_falls_back_to_v1(tmp_path, clock, status):
    imds = FakeIMDS(clock=clock, token_status=status, v1_allowed=True)
    creds = load(
        ImdsProvider(),
        make_ctx(tmp_path, clock, imds.transport(), AWS_METADATA_SERVICE_NUM_ATTEMPTS="3"),
    )
    assert creds is not None
    assert [(r.method, r.auth) for r in imds.requests] == [
        ("PUT", "none"),
        ("GET", "none"),
        ("GET", "none"),
    ]


def test_token_400_gives_none_without_gets(tmp_path, clock, imds):
    imds.fail_next(1, 400, path=TOKEN_PATH)
    provider = ImdsProvider()
    assert load(provider, make_ctx(tmp_path, clock, imds.transport())) is None
    assert imds.count() == 1 and "400" in provider.last_reason


def test_token_5xx_retried_then_falls_back(tmp_path, clock):
    imds = FakeIMDS(clock=clock, v1_allowed=True)
    imds.fail_next(2, 500, path=TOKEN_PATH)
    ctx = make_ctx(tmp_path, clock, imds.transport(), AWS_METADATA_SERVICE_NUM_ATTEMPTS="2")
    assert load(ImdsProvider(), ctx) is not None
    assert imds.count("PUT") == 2 and imds.count("GET") == 2
    assert {r.auth for r in imds.requests if r.method == "GET"} == {"none"}


def test_token_read_timeout_falls_back_at_once(tmp_path, clock):
    imds = FakeIMDS(clock=clock, v1_allowed=True, slow=5, slow_path=TOKEN_PATH)
    ctx = make_ctx(tmp_path, clock, imds.transport(), AWS_METADATA_SERVICE_NUM_ATTEMPTS="3")
    assert load(ImdsProvider(), ctx) is not None
    assert imds.count("PUT") == 1 and imds.count("GET", status=200) == 2


def test_token_connection_errors_retried_then_fall_back(tmp_path, clock):
    imds = FakeIMDS(clock=clock, v1_allowed=True)
    inner, puts = imds.transport(), []

    def refuse_put(request):
        if request.method == "PUT":
            puts.append(request)
            raise TransportError("could not connect", url=request.url)
        return inner(request)

    ctx = make_ctx(tmp_path, clock, refuse_put, AWS_METADATA_SERVICE_NUM_ATTEMPTS="2")
    assert load(ImdsProvider(), ctx) is not None
    assert len(puts) == 2 and imds.count("GET") == 2


def test_v1_fallback_refused_by_a_v2_only_service_gives_none(tmp_path, clock):
    imds = FakeIMDS(clock=clock, token_status=404)  # v1 not allowed: the GET answers 401
    provider = ImdsProvider()
    assert load(provider, make_ctx(tmp_path, clock, imds.transport())) is None
    assert "401" in provider.last_reason


@pytest.mark.parametrize("where", ["env", "profile"])
def test_v1_disabled_without_token_is_an_error(tmp_path, clock, where):
    imds = FakeIMDS(clock=clock, token_status=403, v1_allowed=True)
    if where == "env":
        ctx = make_ctx(tmp_path, clock, imds.transport(), AWS_EC2_METADATA_V1_DISABLED="true")
    else:
        ctx = make_ctx(
            tmp_path, clock, imds.transport(), "[default]\nec2_metadata_v1_disabled = true\n"
        )
    with pytest.raises(ImdsV1DisabledError) as err:
        load(ImdsProvider(), ctx)
    assert isinstance(err.value, CredentialRetrievalError) and not err.value.recoverable
    assert "IMDSv1 is disabled" in str(err.value) and "403" in str(err.value)
    assert imds.count("GET") == 0


def test_v1_disabled_with_unreachable_token_is_a_recoverable_error(tmp_path, clock, imds):
    imds.fail_next(3, 503, path=TOKEN_PATH)
    ctx = make_ctx(
        tmp_path,
        clock,
        imds.transport(),
        AWS_EC2_METADATA_V1_DISABLED="true",
        AWS_METADATA_SERVICE_NUM_ATTEMPTS="3",
    )
    with pytest.raises(ImdsV1DisabledError) as err:
        load(ImdsProvider(), ctx)  # the first fetch still stops the chain, as botocore
    assert err.value.recoverable and imds.count("PUT") == 3


def test_v1_disabled_with_token_works(tmp_path, clock, imds):
    ctx = make_ctx(tmp_path, clock, imds.transport(), AWS_EC2_METADATA_V1_DISABLED="true")
    assert load(ImdsProvider(), ctx) is not None


# --- GET retries and bad answers ---------------------------------------------------------------


def test_get_retries_non_200_and_bad_json(tmp_path, clock, imds):
    imds.fail_next(1, 503, path=CREDENTIALS_PATH)
    imds.fail_next(1, 200, b"{not json", path=ROLE_PATH)
    ctx = make_ctx(tmp_path, clock, imds.transport(), AWS_METADATA_SERVICE_NUM_ATTEMPTS="2")
    assert load(ImdsProvider(), ctx) is not None
    assert imds.count("GET", CREDENTIALS_PATH) == 2 and imds.count("GET", ROLE_PATH) == 2


def test_get_connection_errors_retried(tmp_path, clock, imds):
    inner, failed = imds.transport(), []

    def flaky(request):
        if request.method == "GET" and not failed:
            failed.append(request)
            raise TransportError("connection reset", url=request.url)
        return inner(request)

    ctx = make_ctx(tmp_path, clock, flaky, AWS_METADATA_SERVICE_NUM_ATTEMPTS="2")
    assert load(ImdsProvider(), ctx) is not None and len(failed) == 1


@pytest.mark.parametrize("attempts", ["1", "3"])
def test_no_instance_profile_gives_none_after_the_attempts(tmp_path, clock, attempts):
    imds = FakeIMDS(clock=clock, role=None)
    provider = ImdsProvider()
    ctx = make_ctx(tmp_path, clock, imds.transport(), AWS_METADATA_SERVICE_NUM_ATTEMPTS=attempts)
    assert load(provider, ctx) is None
    assert imds.count("GET", CREDENTIALS_PATH) == int(attempts)
    assert "no IAM role is attached" in provider.last_reason
    with pytest.raises(MalformedResponseError):
        provider.load_or_raise(ctx)


@pytest.mark.parametrize(
    "body, words",
    [
        (
            b'{"Code": "AssumeRoleUnauthorizedAccess", "Message": "EC2 cannot assume the role"}',
            "AssumeRoleUnauthorizedAccess",
        ),
        (
            b'{"AccessKeyId": "ASIAX", "SecretAccessKey": "s3cr3t-PLANTED", '
            b'"Expiration": "2030-01-01T01:00:00Z"}',
            "Token",
        ),
        (
            b'{"AccessKeyId": "A", "SecretAccessKey": "s", "Token": "t", "Expiration": "soon"}',
            "Expiration",
        ),
        (b"[1, 2]", "JSON object"),
    ],
)
def test_bad_credential_documents_give_none(tmp_path, clock, imds, body, words):
    imds.fail_next(1, 200, body, path=ROLE_PATH)
    provider = ImdsProvider()
    assert load(provider, make_ctx(tmp_path, clock, imds.transport())) is None
    assert words in provider.last_reason and "PLANTED" not in provider.last_reason


@pytest.mark.parametrize("body", [b"role\nother", b"a/b", b"x" * 65])
def test_bad_role_names_give_none(tmp_path, clock, imds, body):
    imds.fail_next(1, 200, body, path=CREDENTIALS_PATH)
    assert load(ImdsProvider(), make_ctx(tmp_path, clock, imds.transport())) is None
    assert imds.count("GET") == 1


def test_oversized_answer_refused(tmp_path, clock, imds):
    imds.fail_next(1, 200, b"{" + b" " * (70 * 1024) + b"}", path=ROLE_PATH)
    provider = ImdsProvider()
    assert load(provider, make_ctx(tmp_path, clock, imds.transport())) is None
    assert "larger than" in provider.last_reason


def test_unreachable_gives_none(ctx, imds):
    imds.down = True
    provider = ImdsProvider()
    assert load(provider, ctx) is None and "connect" in provider.last_reason


def test_timed_out_metadata_is_explained_in_the_no_credentials_error(tmp_path, clock):
    """In a container whose instance answers metadata only one hop away, every IMDS request
    times out: the error the user sees says so, and what to change."""
    from awsroles.errors import NoCredentialsError
    from awsroles.resolver.chain import CredentialChain
    from awsroles.testing import SlowPeer

    with SlowPeer(stall=30) as peer:
        env = {"AWS_EC2_METADATA_SERVICE_ENDPOINT": peer.url, "AWS_METADATA_SERVICE_TIMEOUT": "0.3"}
        ctx = make_ctx(tmp_path, clock, None, **env)
        with pytest.raises(NoCredentialsError) as info:
            CredentialChain([ImdsProvider()]).resolve(ctx)
        url = peer.url
    text = str(info.value)
    assert "iam-role: timed out" in text and url in text
    assert "hop limit is 2" in text


# --- static stability --------------------------------------------------------------------------

STALE_WARNING = "returned credentials expiring"


def stale_warnings(caplog):
    return [r for r in caplog.records if STALE_WARNING in r.getMessage()]


def test_expired_credentials_from_imds_are_extended_with_one_warning(tmp_path, clock, caplog):
    imds = FakeIMDS(clock=clock, lifetime=3600, auto_rotate_before=None)  # IMDS cannot refresh
    creds = load(ImdsProvider(), make_ctx(tmp_path, clock, imds.transport()))
    first = creds.get_frozen_credentials()
    caplog.set_level(logging.WARNING, logger="awsroles")
    clock.advance(minutes=59, seconds=30)  # mandatory window; IMDS hands back the same set
    imds.reset()
    served = creds.get_frozen_credentials()
    assert served.access_key == first.access_key and served.secret_key == first.secret_key
    left = served.seconds_left(clock.now())
    assert 600 <= left <= 900  # next attempt after 5-10 minutes (advisory window 5 min)
    assert imds.count() == 2 and len(stale_warnings(caplog)) == 1
    imds.reset()
    clock.advance(seconds=left - 300 - 5)
    creds.get_frozen_credentials()
    assert imds.count() == 0  # no request before the 5-10 minutes are up
    clock.advance(seconds=10)  # IMDS still stale: extended again, no second warning
    again = creds.get_frozen_credentials()
    assert imds.count() == 2 and again.expiry > served.expiry
    assert len(stale_warnings(caplog)) == 1
    new = imds.rotate()  # IMDS recovers
    clock.advance(seconds=again.seconds_left(clock.now()) - 299)
    assert creds.get_frozen_credentials().access_key == new.access_key
    assert not creds.refresh_needed()
    imds.rotate(expiry=clock.now() - timedelta(hours=1))  # a new episode warns again
    clock.advance(seconds=new.seconds_left(clock.now()) - 30)
    creds.get_frozen_credentials()
    assert len(stale_warnings(caplog)) == 2


def test_expired_credentials_on_the_first_fetch_are_served(tmp_path, clock, caplog):
    imds = FakeIMDS(clock=clock, expiry=clock.now() - timedelta(hours=2), auto_rotate_before=None)
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        creds = load(ImdsProvider(), make_ctx(tmp_path, clock, imds.transport()))
    frozen = creds.get_frozen_credentials()
    assert frozen.access_key == imds.credentials.access_key
    assert 600 <= frozen.seconds_left(clock.now()) <= 900
    assert len(stale_warnings(caplog)) == 1


@pytest.mark.parametrize("minutes", [50, 59.5])  # advisory, then mandatory window
def test_imds_down_after_success_keeps_serving(ctx, imds, clock, caplog, minutes):
    creds = load(ImdsProvider(), ctx)
    first = creds.get_frozen_credentials()
    imds.down = True
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        clock.advance(minutes=minutes)
        assert creds.get_frozen_credentials() is first
        clock.advance(seconds=20)
        assert creds.get_frozen_credentials() is first
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1
    with pytest.raises(TransportError) as err:  # the fetch raises typed, recoverable errors
        ctx_client_fetch(creds)
    assert err.value.recoverable
    imds.down = False
    imds.rotate()
    clock.advance(minutes=11)
    assert creds.get_frozen_credentials().access_key == imds.credentials.access_key


@pytest.mark.parametrize("fault", [(503, b""), (200, b"garbage"), (404, b"")])
def test_refresh_failures_are_recoverable_errors_not_empty_results(ctx, imds, fault):
    creds = load(ImdsProvider(), ctx)
    imds.fail_next(5, fault[0], fault[1], path=ROLE_PATH)
    with pytest.raises(MalformedResponseError) as err:
        ctx_client_fetch(creds)
    assert err.value.recoverable


# --- secrets -----------------------------------------------------------------------------------


def test_no_secret_in_logs_reprs_or_errors(tmp_path, clock, caplog):
    imds = FakeIMDS(clock=clock, lifetime=3600, auto_rotate_before=None)
    tokens, inner = [], imds.transport()

    def spy(request):
        resp = inner(request)
        if request.method == "PUT" and resp.status == 200:
            tokens.append(resp.text)
        return resp

    seen = []
    with caplog.at_level(logging.DEBUG):
        provider = ImdsProvider()
        ctx = make_ctx(tmp_path, clock, spy, AWS_METADATA_SERVICE_NUM_ATTEMPTS="2")
        creds = load(provider, ctx)
        frozen = creds.get_frozen_credentials()
        imds.expire_tokens()
        clock.advance(minutes=59, seconds=30)  # 401 -> new token; expired set -> extended
        creds.get_frozen_credentials()
        leaky = b'{"AccessKeyId": "ASIAX", "SecretAccessKey": "%s", "Expiration": "x"}'
        imds.fail_next(2, 200, leaky % frozen.secret_key.encode(), path=ROLE_PATH)
        for fetch in (lambda: ctx_client_fetch(creds), lambda: provider.load_or_raise(ctx)):
            with pytest.raises(CredentialRetrievalError) as err:
                fetch()
            seen += [str(err.value), repr(err.value)]
        imds.down = True
        with pytest.raises(TransportError) as err:
            ctx_client_fetch(creds)
        seen += [str(err.value), repr(creds), str(creds), repr(frozen), repr(provider)]
        from awsroles.providers.imds import _CLIENTS

        seen += [repr(c) for c in _CLIENTS._clients.values()]
    seen += [r.getMessage() for r in caplog.records]
    blob = "\n".join(seen)
    assert len(tokens) == 2 and caplog.records
    for secret in [frozen.secret_key, frozen.token] + tokens:
        assert secret not in blob, f"secret leaked: {secret[:4]}..."


# --- the fake itself is strict ------------------------------------------------------------------


def _call(imds, method, path, headers=None):
    from awsroles.transport.base import HttpRequest

    return imds.transport()(HttpRequest(method, "http://imds" + path, headers=headers or {})).status


@pytest.mark.parametrize(
    "headers, status",
    [
        ({}, 400),
        ({"x-aws-ec2-metadata-token-ttl-seconds": "0"}, 400),
        ({"x-aws-ec2-metadata-token-ttl-seconds": "21601"}, 400),
        ({"x-aws-ec2-metadata-token-ttl-seconds": "abc"}, 400),
        ({"x-aws-ec2-metadata-token-ttl-seconds": "60", "X-Forwarded-For": "10.0.0.1"}, 403),
        ({"x-aws-ec2-metadata-token-ttl-seconds": "1"}, 200),
    ],
)
def test_fake_token_request_rules(clock, headers, status):
    assert _call(FakeIMDS(clock=clock), "PUT", TOKEN_PATH, headers) == status


def test_fake_enforces_tokens_and_their_ttl(clock):
    imds = FakeIMDS(clock=clock)
    send = imds.transport()
    from awsroles.transport.base import HttpRequest

    ttl = {"x-aws-ec2-metadata-token-ttl-seconds": "60"}
    token = send(HttpRequest("PUT", "http://imds" + TOKEN_PATH, headers=ttl)).text
    auth = {"x-aws-ec2-metadata-token": token}
    assert _call(imds, "GET", CREDENTIALS_PATH) == 401  # IMDSv1 off
    assert _call(imds, "GET", CREDENTIALS_PATH, {"x-aws-ec2-metadata-token": "forged"}) == 401
    assert _call(imds, "GET", CREDENTIALS_PATH, auth) == 200
    assert _call(imds, "GET", TOKEN_PATH, auth) == 405
    assert _call(imds, "GET", CREDENTIALS_PATH + "other-role", auth) == 404
    clock.advance(seconds=61)
    assert _call(imds, "GET", CREDENTIALS_PATH, auth) == 401
    imds.v1_allowed = True
    assert _call(imds, "GET", CREDENTIALS_PATH) == 200
    assert _call(imds, "GET", CREDENTIALS_PATH, auth) == 401  # a bad token is never v1
    assert [r.auth for r in imds.requests[-2:]] == ["none", "bad-token"]
    assert imds.count("GET", CREDENTIALS_PATH, status=401) == 4


# --- one token per process ---------------------------------------------------------------------


def test_token_is_shared_by_providers_with_the_same_settings(ctx, imds):
    load(ImdsProvider(), ctx)
    imds.reset()
    assert load(ImdsProvider(), ctx) is not None
    assert imds.count() == 2 and imds.count("PUT") == 0


def test_threads_share_one_token_request(ctx, imds):
    import threading

    barrier, results = threading.Barrier(8), []

    def run():
        barrier.wait()
        results.append(load(ImdsProvider(), ctx))

    threads = [threading.Thread(target=run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len(results) == 8 and all(results)
    assert imds.count("PUT") == 1 and imds.count("GET") == 16


def test_locks_are_fresh_in_a_forked_child(ctx):
    from awsroles import _fork
    from awsroles.providers import imds as module

    load(ImdsProvider(), ctx)
    client = next(iter(module._CLIENTS._clients.values()))
    client._lock.acquire()  # as if another thread held it at fork()
    _fork._in_child()
    assert client._lock.acquire(timeout=1)
    client._lock.release()
