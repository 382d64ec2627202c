"""Every HTTP reader ends within its deadline (connect timeout + read timeout) against a peer
that sends a byte at a time, drips its headers or stalls after them: both transports, the STS
client, IMDS, the container endpoint, the SSO portal and sso-oidc. A read timeout alone resets
with every byte, so without the total deadline these would wait for as long as the peer keeps
dripping, holding the cache lock all along. Also: a slow peer that finishes in time succeeds,
a body cut short of its Content-Length is an error, a timed-out connection never goes back to
the pool, the lock is free once the deadline ends and no thread outlives its request."""

from __future__ import annotations

import glob
import logging
import os
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import awsroles
from awsroles.cache.lock import LockTimeout, acquire
from awsroles.credentials import Credentials
from awsroles.errors import TransportError
from awsroles.providers.container import ContainerProvider
from awsroles.providers.imds import ImdsProvider, ImdsV1DisabledError
from awsroles.providers.sso_token import SsoTokenError
from awsroles.sts.client import AssumeRoleParams, StsClient
from awsroles.sts.endpoint import StsEndpoint
from awsroles.testing import SlowPeer
from awsroles.testing.clock import FrozenClock
from awsroles.testing.sso_cache import write_token_cache
from awsroles.transport.base import HttpRequest
from awsroles.transport.rules import attempt_seconds
from awsroles.transport.stdlib import StdlibTransport
from awsroles.transport.via_requests import RequestsTransport

from helpers import cache_dir, cache_files, load, make_context, make_env, role, write_aws_files

pytestmark = pytest.mark.e2e

#: Short timeouts keep the file quick; the peers below drip far slower than their total.
ATTEMPT = (0.05, 0.35)
TOTAL = attempt_seconds(ATTEMPT)  # 0.4 s
#: A dripped byte comes every INTERVAL seconds, well inside the read timeout, so only the
#: total deadline can end the attempt.
INTERVAL = 0.05
#: 230 bytes at INTERVAL: 11.5 s to send in full, against a deadline of 0.4 s.
LONG_BODY = b'{"Code": "Success", "padding": "' + b"x" * 200 + b'"}'

QUERY_SECRET = "QuerySecretPlanted0000000000000001"
HEADER_SECRET = "HeaderSecretPlanted000000000000001"
SOURCE_SECRET = "SourceSecretKeyPlanted00000000000000001"
CONTAINER_TOKEN = "ContainerTokenPlanted0000000000001"
SSO_TOKEN = "SsoAccessTokenPlanted000000000000001"
REFRESH_TOKEN = "SsoRefreshTokenPlanted00000000000001"
CLIENT_SECRET = "SsoClientSecretPlanted00000000000001"
SECRETS = (
    QUERY_SECRET,
    HEADER_SECRET,
    SOURCE_SECRET,
    CONTAINER_TOKEN,
    SSO_TOKEN,
    REFRESH_TOKEN,
    CLIENT_SECRET,
)

SOURCE = Credentials("AKIADEADLINES0000001", SOURCE_SECRET, method="shared-credentials-file")
ROLE = role("Slow")
PARAMS = AssumeRoleParams(ROLE, "deadlines")
START = "https://d-123.awsapps.com/start"


def bound(requests: int = 1) -> float:
    """A generous end for ``requests`` attempts in a row: three times their deadlines."""
    return 3 * TOTAL * requests + 0.5


def no_secret_in(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text


def transports():
    # env={}: no proxy or CA variable of the machine running the tests is used
    return {
        "stdlib": StdlibTransport(env={}),
        "requests": RequestsTransport(env={}),
    }


TRANSPORTS = ["stdlib", "requests"]
SLOW_PEERS = {
    "body dripped": dict(body=LONG_BODY, interval=INTERVAL),
    "headers dripped": dict(body=LONG_BODY, interval=INTERVAL, drip_headers=True),
    "stall after headers": dict(body=LONG_BODY, stall=30.0),
}


def get(url: str, timeout=ATTEMPT, **kw) -> HttpRequest:
    return HttpRequest(
        method="GET",
        url=url,
        headers={"Authorization": HEADER_SECRET},
        body=None,
        timeout=timeout,
        **kw,
    )


def ends_in(error_type, call):
    """``(error, seconds)``: the error ``call()`` raised and how long it ran."""
    started = time.monotonic()
    with pytest.raises(error_type) as err:
        call()
    return err.value, time.monotonic() - started


class ShortDeadline:
    """A transport seam for the callers whose timeout is fixed in code (the SSO portal and
    sso-oidc at (10, 30), the resolver's STS client at (5, 30)): it records the timeout each
    request asked for and sends it with ``timeout`` instead, so the test does not wait 40 s."""

    def __init__(self, inner, timeout=ATTEMPT) -> None:
        self.inner, self.timeout = inner, timeout
        self.asked = []

    def __call__(self, request: HttpRequest):
        self.asked.append(request.timeout)
        return self.inner(request.replace(timeout=self.timeout))


# --- both transports, directly -----------------------------------------------------------


@pytest.mark.parametrize("kind", list(SLOW_PEERS))
@pytest.mark.parametrize("name", TRANSPORTS)
def test_a_slow_peer_ends_in_a_timeout_within_the_deadline(name, kind):
    transport = transports()[name]
    with SlowPeer(**SLOW_PEERS[kind]) as peer:
        where = peer.url
        assert peer.seconds_to_send() > 10 * TOTAL  # only the deadline can end it in time
        url = f"{peer.url}/latest/creds?X-Amz-Security-Token={QUERY_SECRET}"
        error, took = ends_in(TransportError, lambda: transport(get(url)))
        assert took < bound()
        assert len(peer.requests) == 1
    assert error.timeout and error.recoverable
    message = str(error)
    assert f"{where}/latest/creds" in message and error.url == f"{where}/latest/creds"
    assert "?" not in message and "X-Amz-Security-Token" not in message
    no_secret_in(message)
    no_secret_in(repr(error))
    if kind != "stall after headers":  # a stall ends at the read timeout, before the deadline
        assert f"did not send its whole answer within {TOTAL:g}s" in message


@pytest.mark.parametrize("name", TRANSPORTS)
def test_a_peer_slow_but_inside_the_deadline_is_answered_in_full(name):
    transport = transports()[name]
    with SlowPeer(body=b"hello", interval=0.05) as peer:
        response = transport(get(peer.url + "/ok"))
    assert response.status == 200 and response.body == b"hello"


@pytest.fixture
def short_body_url():
    """A server that announces 100 bytes, sends 10 and closes the connection."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    srv.settimeout(0.1)
    stop = threading.Event()

    def serve():
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            try:
                conn.settimeout(2)
                seen = b""
                while b"\r\n\r\n" not in seen:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    seen += chunk
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n0123456789"
                )
            except OSError:
                pass
            finally:
                conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}"
    stop.set()
    thread.join(2)
    srv.close()


@pytest.mark.parametrize("name", TRANSPORTS)
def test_a_body_shorter_than_its_content_length_is_an_error(name, short_body_url):
    transport = transports()[name]
    url = f"{short_body_url}/creds?token={QUERY_SECRET}"
    error, _ = ends_in(TransportError, lambda: transport(get(url)))
    assert not error.timeout
    assert f"{short_body_url}/creds" in str(error)
    no_secret_in(str(error))


def test_a_body_shorter_than_its_content_length_is_an_error_with_urllib3_1(
    short_body_url, monkeypatch
):
    """requests>=2.25 accepts urllib3 1.x, whose responses do not check the Content-Length
    unless asked (``enforce_content_length`` defaults to False there, True from 2.0 on). The
    requests transport must refuse a cut-short body whichever urllib3 is installed."""
    import urllib3.response

    real_init = urllib3.response.HTTPResponse.__init__

    def as_in_urllib3_1(self, *args, **kwargs):
        kwargs["enforce_content_length"] = False
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(urllib3.response.HTTPResponse, "__init__", as_in_urllib3_1)
    transport = RequestsTransport(env={})
    with pytest.raises(TransportError):
        response = transport(get(short_body_url + "/creds"))
        raise AssertionError(f"a truncated body was returned as a success: {response.body!r}")


def test_the_requests_transport_keeps_the_deadline_on_a_proxy_route():
    """A route through a proxy goes to the requests transport: here the proxy itself is the
    slow peer."""
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as proxy:
        transport = StdlibTransport(env={"HTTP_PROXY": proxy.url})
        url = f"http://sts.example.invalid/creds?X-Amz-Security-Token={QUERY_SECRET}"
        error, took = ends_in(TransportError, lambda: transport(get(url)))
        assert took < bound()
        # the absolute form only a proxy is sent: the request went through requests
        assert proxy.requests == [f"GET {url}"]
    assert error.timeout
    assert f"did not send its whole answer within {TOTAL:g}s" in str(error)
    assert "http://sts.example.invalid/creds" in str(error)
    no_secret_in(str(error))


class _MixedHandler(BaseHTTPRequestHandler):
    """Keep-alive: ``/ok`` answers at once, ``/slow`` drips its body."""

    protocol_version = "HTTP/1.1"

    def log_message(self, format, *args):
        pass

    def do_GET(self):
        server = self.server
        server.seen.append((self.path, self.client_address[1]))
        try:
            if self.path == "/slow":
                self.send_response(200)
                self.send_header("Content-Length", str(len(LONG_BODY)))
                self.end_headers()
                self.wfile.flush()
                for i in range(len(LONG_BODY)):
                    if server.released.wait(INTERVAL):
                        break
                    self.wfile.write(LONG_BODY[i : i + 1])
                    self.wfile.flush()
                self.close_connection = True
            else:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                self.wfile.flush()
        except OSError:
            self.close_connection = True


class _MixedServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


def test_stdlib_pool_is_not_poisoned_by_a_deadline():
    server = _MixedServer(("127.0.0.1", 0), _MixedHandler)
    server.seen, server.released = [], threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.daemon = True
    thread.start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    transport = StdlibTransport(env={})
    try:
        assert transport(get(base + "/ok")).body == b"ok"
        error, took = ends_in(TransportError, lambda: transport(get(base + "/slow")))
        assert error.timeout and took < bound()
        after = [transport(get(base + "/ok")).body for _ in range(3)]
    finally:
        server.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
    assert after == [b"ok"] * 3
    ports = [port for _, port in server.seen]
    assert ports[1] == ports[0]  # the slow request went out on the pooled connection
    assert ports[2] != ports[1]  # which did not go back to the pool after the deadline
    assert ports[3] == ports[2] == ports[4]  # and the pool works on


# --- the STS client ------------------------------------------------------------------------


def test_sts_client_ends_at_the_deadline_with_a_typed_error():
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        where = peer.url
        client = StsClient(StsEndpoint(where, "us-east-1", "test"), timeout=ATTEMPT, max_attempts=1)
        error, took = ends_in(TransportError, lambda: client.assume_role(SOURCE, PARAMS))
        assert took < bound()
        assert peer.requests == ["POST /"]
    assert error.timeout and error.recoverable
    message = str(error)
    assert ROLE in message and where in message
    assert f"within {TOTAL:g}s" in message
    no_secret_in(message)


def test_sts_client_makes_each_attempt_with_its_own_deadline():
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        client = StsClient(
            StsEndpoint(peer.url, "us-east-1", "test"),
            timeout=ATTEMPT,
            max_attempts=2,
            clock=FrozenClock(),  # the back-off between attempts does not wait
        )
        error, took = ends_in(TransportError, lambda: client.assume_role(SOURCE, PARAMS))
        assert took < bound(2)
        assert peer.requests == ["POST /", "POST /"]
    assert error.timeout
    assert "2 attempts" in str(error)
    no_secret_in(str(error))


# --- IMDS ----------------------------------------------------------------------------------


def imds_context(tmp_path, peer, **extra):
    config = tmp_path / "config"
    config.write_text("")
    env = {
        "HOME": str(tmp_path),
        "AWS_CONFIG_FILE": str(config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_SERVICE_ENDPOINT": peer.url,
        "AWS_METADATA_SERVICE_TIMEOUT": "0.2",  # one number is both: a 0.4 s deadline
        "AWS_METADATA_SERVICE_NUM_ATTEMPTS": "1",
    }
    env.update(extra)
    return make_context(
        env=env,
        clock=FrozenClock("2030-01-01T00:00:00Z"),
        transport=StdlibTransport(env={}),
        background_refresh=False,
    )


def test_imds_finds_no_credentials_within_the_deadline(tmp_path):
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        where = peer.url
        ctx = imds_context(tmp_path, peer)
        provider = ImdsProvider()
        started = time.monotonic()
        assert load(provider, ctx) is None
        # the token request times out and falls back to IMDSv1 at once; the GET times out too
        assert time.monotonic() - started < bound(2)
        assert peer.requests == [
            "PUT /latest/api/token",
            "GET /latest/meta-data/iam/security-credentials/",
        ]
    assert "timed out" in provider.last_reason
    assert where in provider.last_reason


def test_imds_load_or_raise_is_a_typed_timeout(tmp_path):
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        where = peer.url
        ctx = imds_context(tmp_path, peer)
        error, took = ends_in(TransportError, lambda: ImdsProvider().load_or_raise(ctx))
        assert took < bound(2)
    assert error.timeout and where in str(error)


def test_imds_with_v1_disabled_stops_after_the_token_deadline(tmp_path):
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        ctx = imds_context(tmp_path, peer, AWS_EC2_METADATA_V1_DISABLED="true")
        error, took = ends_in(ImdsV1DisabledError, lambda: load(ImdsProvider(), ctx))
        assert took < bound()
        assert peer.requests == ["PUT /latest/api/token"]
    assert error.recoverable  # no answer, not a refusal: a refresh keeps serving
    assert "timed out" in str(error)


# --- the container endpoint -------------------------------------------------------------------


def test_container_endpoint_ends_at_the_deadline(tmp_path):
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        where = peer.url
        env = {
            "HOME": str(tmp_path),
            "AWS_CONTAINER_CREDENTIALS_FULL_URI": peer.url + "/v2/credentials",
            "AWS_CONTAINER_AUTHORIZATION_TOKEN": CONTAINER_TOKEN,
        }
        ctx = make_context(env=env, clock=FrozenClock(), background_refresh=False)
        provider = ContainerProvider(timeout=ATTEMPT, attempts=2)
        error, took = ends_in(TransportError, lambda: load(provider, ctx))
        assert took < bound(2)
        assert peer.requests == ["GET /v2/credentials", "GET /v2/credentials"]
    assert error.timeout and error.provider == "container-role"
    message = str(error)
    assert where in message and "2 attempts" in message
    assert f"within {TOTAL:g}s" in message
    no_secret_in(message)


# --- SSO: the portal and sso-oidc --------------------------------------------------------------

SSO_CONFIG = f"""\
[profile dev]
sso_session = my-sso
sso_account_id = 111122223333
sso_role_name = ReadOnly
region = us-east-1

[sso-session my-sso]
sso_region = us-east-1
sso_start_url = {START}
"""


def sso_env(home, **urls):
    write_aws_files(home, SSO_CONFIG, credentials="")
    env = {"HOME": str(home), "AWS_EC2_METADATA_DISABLED": "true"}
    env.update(urls)
    return env


def test_sso_portal_ends_at_the_deadline_of_each_attempt(tmp_path):
    """The portal's timeout is fixed at (10, 30) in code: a 40 s deadline per attempt, three
    attempts. The seam shortens it to show every attempt ends at its deadline and the typed
    error that follows."""
    clock = FrozenClock("2030-01-01T00:00:00Z")
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        where = peer.url
        env = sso_env(tmp_path, AWS_ENDPOINT_URL_SSO=where)
        write_token_cache(
            tmp_path, "my-sso", SSO_TOKEN, clock.now() + timedelta(hours=1), start_url=START
        )
        seam = ShortDeadline(StdlibTransport(env={}))
        creds = awsroles.resolve(
            "dev", env=env, clock=clock, transport=seam, background_refresh=False, cache=None
        )
        error, took = ends_in(TransportError, creds.get_frozen_credentials)
        assert took < bound(3)
        assert len(peer.requests) == 3
        assert all(r.startswith("GET /federation/credentials?") for r in peer.requests)
    assert seam.asked == [(10.0, 30.0)] * 3
    assert error.timeout and where + "/federation/credentials" in str(error)
    no_secret_in(str(error))


def test_sso_oidc_refresh_ends_at_the_deadline_and_frees_the_token_lock(tmp_path):
    clock = FrozenClock("2030-01-01T00:00:00Z")
    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        env = sso_env(
            tmp_path, AWS_ENDPOINT_URL_SSO="http://127.0.0.1:9", AWS_ENDPOINT_URL_SSO_OIDC=peer.url
        )
        write_token_cache(
            tmp_path,
            "my-sso",
            SSO_TOKEN,
            clock.now() - timedelta(minutes=1),
            start_url=START,
            refresh_token=REFRESH_TOKEN,
            client_id="client-id",
            client_secret=CLIENT_SECRET,
            registration_expires_at=clock.now() + timedelta(days=30),
        )
        seam = ShortDeadline(StdlibTransport(env={}))
        creds = awsroles.resolve(
            "dev", env=env, clock=clock, transport=seam, background_refresh=False, cache=None
        )
        error, took = ends_in(SsoTokenError, creds.get_frozen_credentials)
        assert took < bound()
        assert peer.requests == ["POST /token"]
    assert seam.asked == [(10.0, 30.0)]
    message = str(error)
    assert "refreshing it failed" in message and "timed out" in message
    assert error.recoverable
    no_secret_in(message)
    locks = glob.glob(os.path.join(str(tmp_path), ".aws", "sso", "cache", "*.lock"))
    assert len(locks) == 1  # the refresh ran under the token's lock ...
    acquire(locks[0], timeout=0.1).release()  # ... which is free again


# --- the cache lock held by a stuck STS hop ----------------------------------------------------

DEV_CONFIG = f"[profile dev]\nrole_arn = {role('Dev')}\nsource_profile = base\n"


def test_the_cache_lock_is_released_when_the_sts_deadline_ends(tmp_path, clock, fake_sts, caplog):
    home = tmp_path / "home"
    write_aws_files(home, DEV_CONFIG)
    outcome = []

    seam = ShortDeadline(StdlibTransport(env={}))

    def stuck_resolution(env):
        try:
            awsroles.resolve(
                "dev",
                env=env,
                clock=clock,  # the STS back-off between attempts does not wait
                transport=seam,
                background_refresh=False,
            ).get_frozen_credentials()
        except BaseException as exc:
            outcome.append(exc)

    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        hop = threading.Thread(target=stuck_resolution, args=(make_env(home, peer.url),))
        started = time.monotonic()
        hop.start()
        while not peer.requests and time.monotonic() - started < 5:
            time.sleep(0.01)
        locks = glob.glob(os.path.join(cache_dir(home), "*.json.lock"))
        assert len(locks) == 1
        with pytest.raises(LockTimeout):  # held while the hop waits on STS
            acquire(locks[0], timeout=0.05)
        hop.join(bound(3))
        assert not hop.is_alive()
        assert time.monotonic() - started < bound(3)
        assert len(peer.requests) == 3  # the resolver's client makes three attempts
    assert seam.asked == [(5.0, 30.0)] * 3  # 35 s each without the seam
    assert len(outcome) == 1 and isinstance(outcome[0], TransportError)
    assert outcome[0].timeout
    no_secret_in(str(outcome[0]))
    acquire(locks[0], timeout=0.05).release()  # free once the deadline ended

    caplog.set_level(logging.WARNING, logger="awsroles")
    creds = awsroles.resolve(
        "dev",
        env=make_env(home, fake_sts.url),
        clock=clock,
        lock_timeout=0.2,
        background_refresh=False,
    )
    assert creds.get_frozen_credentials().access_key.startswith("ASIA")
    assert not [r for r in caplog.records if "lock" in r.getMessage()]
    names = cache_files(home)
    assert [name + ".lock" for name in names] == [os.path.basename(locks[0])]


# --- no thread outlives its request ---------------------------------------------------------------


def _client_threads():
    """The threads the transports start: the stdlib watchdog's timers, the requests workers."""
    return [
        t
        for t in threading.enumerate()
        if isinstance(t, threading.Timer) or t.name == "awsroles-http"
    ]


def _settle(check, seconds=5.0):
    end = time.monotonic() + seconds
    while not check() and time.monotonic() < end:
        time.sleep(0.05)
    return check()


@pytest.mark.parametrize("name", TRANSPORTS)
def test_many_timed_out_requests_leave_no_thread_behind(name):
    transport = transports()[name]
    baseline = threading.active_count()
    errors = []

    def one(url):
        try:
            transport(get(url))
        except TransportError as exc:
            errors.append(exc)

    with SlowPeer(body=LONG_BODY, interval=INTERVAL) as peer:
        callers = [threading.Thread(target=one, args=(f"{peer.url}/{i}",)) for i in range(20)]
        for t in callers:
            t.start()
        for t in callers:
            t.join(bound())
        assert not any(t.is_alive() for t in callers)
        assert len(errors) == 20 and all(e.timeout for e in errors)
        assert len(peer.requests) == 20
        # the attempts' own threads end with them, while the peer still has 11 s to drip
        assert _settle(lambda: not _client_threads(), seconds=2.0), [
            t.name for t in _client_threads()
        ]
    assert _settle(lambda: threading.active_count() <= baseline + 1), [
        t.name for t in threading.enumerate()
    ]


@pytest.mark.parametrize("name", TRANSPORTS)
def test_a_request_timed_out_in_its_headers_leaves_no_thread_while_the_peer_drips_on(name):
    """The attempt's own threads end with it, not when the peer stops sending: a peer that
    drips its headers for hours would otherwise keep one thread and one socket per attempt."""
    transport = transports()[name]
    with SlowPeer(**SLOW_PEERS["headers dripped"]) as peer:
        with pytest.raises(TransportError):
            transport(get(peer.url + "/creds"))
        left = _settle(lambda: not _client_threads(), seconds=2.0)
        names = [t.name for t in _client_threads()]
    assert left, f"still running while the peer drips on: {names}"
