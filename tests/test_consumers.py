"""awsroles' credentials in the hands of the code people actually use them with, end to end
against servers on 127.0.0.1: boto3's S3 transfer manager (many threads sharing one
credentials object), requests-aws4auth (a third-party SigV4 signer that takes botocore-shaped
refreshable credentials), botocore's own signer, the "assign ``_credentials`` on a botocore
session" pattern, and the frozen set as botocore's ``ReadOnlyCredentials``.

Signatures are real: the local STS recomputes each one with botocore.auth and only answers a
request signed by a key it issued, so a 200 naming the Dev role proves the signature. moto's
S3 accepts any key; the keys that went over the wire are recorded from the requests.
"""

from __future__ import annotations

import copy
import hashlib
import os
import pickle
import pprint
import re
import threading
from datetime import datetime, timezone

import boto3
import botocore.auth
import botocore.credentials
import botocore.session
import pytest
from botocore.awsrequest import AWSRequest
from botocore.config import Config

import awsroles
from awsroles.testing import FrozenClock, local_aws

pytestmark = pytest.mark.e2e

ACCOUNT = "123456789012"
OPS = f"arn:aws:iam::{ACCOUNT}:role/Ops"
DEV = f"arn:aws:iam::{ACCOUNT}:role/Dev"
DEV_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev-session"

#: base (long-lived keys) -> Ops -> Dev: "the outer hop" is Dev.
CONFIG = f"""\
[profile ops]
role_arn = {OPS}
source_profile = base

[profile dev]
role_arn = {DEV}
source_profile = ops
role_session_name = dev-session
"""

CALLER_IDENTITY = "Action=GetCallerIdentity&Version=2011-06-15"
FORM = "application/x-www-form-urlencoded; charset=utf-8"
_KEY_IN_AUTH = re.compile(r"Credential=([A-Z0-9]+)/")

MiB = 1024 * 1024
CHUNK = 5 * MiB
SIZE = 28 * MiB  # six parts: five of 5 MiB and one of 3 MiB
PARTS = -(-SIZE // CHUNK)
THREADS = 8


def _assumed(sts, role_arn):
    """How many successful AssumeRole calls the local STS answered for ``role_arn``."""
    return sum(
        1
        for c in list(sts.calls)
        if c.action == "AssumeRole" and c.params.get("RoleArn") == role_arn and c.status == 200
    )


def _signing_key(headers):
    auth = headers.get("Authorization") or ""
    if isinstance(auth, bytes):  # botocore's prepared requests hold bytes
        auth = auth.decode("ascii")
    match = _KEY_IN_AUTH.search(auth)
    assert match, "request went out unsigned"
    return match.group(1)


@pytest.fixture
def environ(monkeypatch):
    """No AWS_*, BOTO* or proxy variable from the machine running the tests: boto3 and
    botocore read os.environ, and a proxy would take the requests to 127.0.0.1 elsewhere."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")) or name.lower() in (
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
        ):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture
def aws(environ):
    """A local STS and a HOME with base -> Ops -> Dev, in os.environ for boto3."""
    with local_aws(CONFIG, patch_environ=True) as local:
        yield local


# --- boto3's S3 transfer manager -------------------------------------------------------


@pytest.fixture(scope="module")
def payload(tmp_path_factory):
    """A file big enough for a multipart upload in several threads, and its digest."""
    path = tmp_path_factory.mktemp("s3") / "payload.bin"
    data = os.urandom(SIZE)
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


def _transfer_config():
    from boto3.s3.transfer import TransferConfig

    return TransferConfig(
        multipart_threshold=CHUNK, multipart_chunksize=CHUNK, max_concurrency=THREADS
    )


class _Wire:
    """What went over the wire to S3: (operation, signing access key, thread) per request,
    recorded from botocore's ``before-send`` event, i.e. after signing."""

    def __init__(self, client):
        self.sent = []
        self._lock = threading.Lock()
        client.meta.events.register("before-send.s3", self._record)

    def _record(self, request, event_name, **kwargs):
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.sent.append((operation, _signing_key(request.headers), threading.get_ident()))

    def keys(self, operation):
        return [key for op, key, _ in self.sent if op == operation]

    def threads(self, operation):
        return {thread for op, _, thread in self.sent if op == operation}


def _at_every_part(client, action):
    """Hold each UploadPart before it is built and signed until all the parts have arrived,
    then run ``action`` once and let them all go together: every part thread reaches the
    credentials at the same moment, after ``action``."""
    barrier = threading.Barrier(PARTS, action=action, timeout=60)

    def gather(**kwargs):
        barrier.wait()

    client.meta.events.register("before-parameter-build.s3.UploadPart", gather)
    return barrier


def _s3_client(session, moto_url):
    return session.client(
        "s3",
        endpoint_url=moto_url,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )


def _round_trip(client, bucket, payload, tmp_path):
    """Upload ``payload`` in parts, download it in ranges, and compare."""
    path, digest = payload
    client.create_bucket(Bucket=bucket)
    client.upload_file(path, bucket, "blob", Config=_transfer_config())
    back = tmp_path / "back.bin"
    client.download_file(bucket, "blob", str(back), Config=_transfer_config())
    with open(back, "rb") as f:
        assert hashlib.sha256(f.read()).hexdigest() == digest


@pytest.mark.parametrize("cached", [True, False], ids=["shared-cache", "memory-only"])
def test_s3_transfer_threads_share_one_refresh_after_invalidation(
    aws, moto_url, payload, tmp_path, cached
):
    # without the shared cache, the credentials object alone keeps the racing threads to
    # one STS call (with it, a thread that lost the race would also find the new entry)
    session = awsroles.boto3_session("dev", **({} if cached else {"cache": None}))
    client = _s3_client(session, moto_url)
    creds = session.get_credentials()
    # one credentials object behind the session and the client every transfer thread uses
    assert client._request_signer._credentials is creds
    old = creds.get_frozen_credentials().access_key
    assert (_assumed(aws.sts, OPS), _assumed(aws.sts, DEV)) == (1, 1)

    wire = _Wire(client)
    _at_every_part(client, creds.invalidate)
    _round_trip(client, f"invalidated-{cached}".lower(), payload, tmp_path)

    # all the part threads found the set invalid at once: one AssumeRole for the outer hop,
    # none for the inner one (its credentials were still good)
    assert _assumed(aws.sts, DEV) == 2
    assert _assumed(aws.sts, OPS) == 1
    new = creds.get_frozen_credentials().access_key
    assert new != old and new.startswith("ASIA")
    assert wire.keys("CreateMultipartUpload") == [old]
    assert wire.keys("UploadPart") == [new] * PARTS
    assert len(wire.threads("UploadPart")) == PARTS  # each part signed on its own thread
    assert set(wire.keys("CompleteMultipartUpload")) == {new}
    ranged = wire.keys("GetObject")
    assert len(ranged) == PARTS and set(ranged) == {new}  # a ranged download, in parts
    # the refreshed set is the one the local STS issued for Dev
    ident = session.client("sts").get_caller_identity()
    assert ident["Arn"] == DEV_ARN
    assert aws.sts.calls[-1].access_key == new


@pytest.fixture
def clocked(environ):
    """As ``aws``, with awsroles and the local STS on a frozen clock (at the real time, so
    the expiry the STS writes looks real). botocore signs with the real time whatever this
    clock says, and the local STS checks signatures, not their age: the clock only moves
    the credentials through their refresh windows."""
    clock = FrozenClock(datetime.now(timezone.utc).replace(microsecond=0))
    with local_aws(CONFIG, clock=clock, patch_environ=True) as local:
        yield local


class _Gate:
    """Holds every AssumeRole at the local STS until opened, counting those that arrive:
    makes a background refresh last as long as the test wants."""

    def __init__(self, sts):
        self.arrived = []
        self._open = threading.Event()
        handle = sts.handle

        def held(method, path, headers, raw, length=None):
            if b"Action=AssumeRole" in raw:
                self.arrived.append(raw)
                self._open.wait(20)
            return handle(method, path, headers, raw, length)

        sts.handle = held

    def open(self):
        self._open.set()

    def roles(self):
        return [DEV if b"role%2FDev" in raw else OPS for raw in self.arrived]


def test_s3_transfer_through_the_advisory_window_never_waits(clocked, moto_url, payload, tmp_path):
    from awsroles.refresh import background

    session = awsroles.boto3_session("dev", clock=clocked.clock)
    client = _s3_client(session, moto_url)
    creds = session.get_credentials()
    old = creds.get_frozen_credentials().access_key
    assert (_assumed(clocked.sts, OPS), _assumed(clocked.sts, DEV)) == (1, 1)

    wire = _Wire(client)
    gate = _Gate(clocked.sts)
    # one-hour credentials: 50 minutes on, 10 are left, inside the advisory window (15 min)
    # and outside the mandatory one (60 s)
    _at_every_part(client, lambda: clocked.clock.advance(minutes=50))
    try:
        # every STS answer is held until the transfer is over, so a thread that waited for
        # a refresh would hang here: the transfer ends only if every thread was served the
        # held set at once
        _round_trip(client, "advisory", payload, tmp_path)
        assert set(wire.keys("UploadPart")) == {old}
        assert len(wire.keys("UploadPart")) == PARTS
        assert set(wire.keys("CompleteMultipartUpload")) == {old}
        assert set(wire.keys("GetObject")) == {old}
    finally:
        gate.open()
    assert background.wait_idle(30)
    # many stale readers, one background refresh for the outer hop; it used the inner
    # hop's held set (stale too, so still served) and scheduled that hop's own refresh
    assert gate.roles() == [DEV, OPS]
    assert (_assumed(clocked.sts, OPS), _assumed(clocked.sts, DEV)) == (2, 2)
    new = creds.get_frozen_credentials().access_key
    assert new != old
    assert session.client("sts").get_caller_identity()["Arn"] == DEV_ARN
    assert clocked.sts.calls[-1].access_key == new


def test_s3_transfer_into_the_mandatory_window_refreshes_once(clocked, moto_url, payload, tmp_path):
    session = awsroles.boto3_session("dev", clock=clocked.clock)
    client = _s3_client(session, moto_url)
    creds = session.get_credentials()
    old = creds.get_frozen_credentials().access_key

    wire = _Wire(client)
    # 30 seconds left: inside the mandatory window, every part thread must wait for new keys
    _at_every_part(client, lambda: clocked.clock.advance(minutes=59, seconds=30))
    _round_trip(client, "mandatory", payload, tmp_path)

    # one refresh for all the waiting threads; the inner hop, in its mandatory window too,
    # is refreshed once on the way
    assert (_assumed(clocked.sts, OPS), _assumed(clocked.sts, DEV)) == (2, 2)
    new = creds.get_frozen_credentials().access_key
    assert new != old
    assert wire.keys("UploadPart") == [new] * PARTS
    assert len(wire.threads("UploadPart")) == PARTS


# --- requests-aws4auth: a third-party signer -------------------------------------------


def _post(url, auth):
    import requests

    return requests.post(
        url, data=CALLER_IDENTITY, headers={"Content-Type": FORM}, auth=auth, timeout=10
    )


def _credentials_from(kind):
    """awsroles' own refreshable credentials (no botocore involved), or those of an awsroles
    boto3 session (botocore's Credentials interface over them)."""
    if kind == "resolve":
        return awsroles.resolve("dev")
    return awsroles.boto3_session("dev").get_credentials()


@pytest.mark.parametrize("kind", ["resolve", "boto3_session"])
def test_aws4auth_signs_with_awsroles_credentials_and_follows_a_refresh(aws, kind):
    aws4auth = pytest.importorskip("requests_aws4auth")
    creds = _credentials_from(kind)
    auth = aws4auth.AWS4Auth(refreshable_credentials=creds, region="us-east-1", service="sts")

    answer = _post(aws.sts.url, auth)
    assert answer.status_code == 200, answer.text
    assert f"<Arn>{DEV_ARN}</Arn>" in answer.text
    old = creds.get_frozen_credentials().access_key
    assert aws.sts.calls[-1].access_key == old == auth.access_id
    assert _assumed(aws.sts, DEV) == 1

    # the session ends at STS: the next request signed with the held set is refused ...
    aws.sts.expire(old)
    refused = _post(aws.sts.url, auth)
    assert refused.status_code == 400 and "ExpiredToken" in refused.text
    # ... the caller marks it invalid, and AWS4Auth reads the new set for the next request
    assert creds.invalidate() is True
    answer = _post(aws.sts.url, auth)
    assert answer.status_code == 200, answer.text
    assert f"<Arn>{DEV_ARN}</Arn>" in answer.text
    new = aws.sts.calls[-1].access_key
    assert new != old and new == auth.access_id == creds.get_frozen_credentials().access_key
    # one AssumeRole for the outer hop, none for the inner one
    assert (_assumed(aws.sts, OPS), _assumed(aws.sts, DEV)) == (1, 2)
    assert _post(aws.sts.url, auth).status_code == 200
    assert _assumed(aws.sts, DEV) == 2


def test_aws4auth_takes_a_frozen_set_as_it_is_or_unpacked(aws):
    aws4auth = pytest.importorskip("requests_aws4auth")
    frozen = awsroles.resolve("dev").get_frozen_credentials()
    access_key, secret_key, token, _account = frozen
    signers = [
        aws4auth.AWS4Auth(refreshable_credentials=frozen, region="us-east-1", service="sts"),
        aws4auth.AWS4Auth(access_key, secret_key, "us-east-1", "sts", session_token=token),
    ]
    for auth in signers:
        answer = _post(aws.sts.url, auth)
        assert answer.status_code == 200, answer.text
        assert f"<Arn>{DEV_ARN}</Arn>" in answer.text
        assert aws.sts.calls[-1].access_key == access_key


# --- botocore's own signer -------------------------------------------------------------


def _sigv4(creds, url):
    request = AWSRequest(
        method="POST", url=url, data=CALLER_IDENTITY, headers={"Content-Type": FORM}
    )
    botocore.auth.SigV4Auth(creds, "sts", "us-east-1").add_auth(request)
    return request.prepare()


def _send(prepared):
    import requests

    return requests.post(
        prepared.url, data=prepared.body, headers=dict(prepared.headers), timeout=10
    )


@pytest.mark.parametrize("shape", ["refreshable", "frozen", "botocore_wrapper"])
def test_botocore_sigv4_signs_with_awsroles_objects(aws, shape):
    refreshable = awsroles.resolve("dev")
    creds = {
        "refreshable": refreshable,
        "frozen": refreshable.get_frozen_credentials(),
        "botocore_wrapper": awsroles.boto3_session("dev").get_credentials(),
    }[shape]
    answer = _send(_sigv4(creds, aws.sts.url))
    assert answer.status_code == 200, answer.text
    assert f"<Arn>{DEV_ARN}</Arn>" in answer.text
    assert aws.sts.calls[-1].access_key == creds.get_frozen_credentials().access_key


def test_botocore_sigv4_signature_equals_botocores_for_the_same_keys(aws, monkeypatch):
    monkeypatch.setattr(
        botocore.auth,
        "get_current_datetime",
        lambda: datetime(2030, 1, 2, 3, 4, 5),
    )
    refreshable = awsroles.resolve("dev")
    frozen = refreshable.get_frozen_credentials()
    plain = botocore.credentials.Credentials(frozen.access_key, frozen.secret_key, frozen.token)
    expected = _sigv4(plain, aws.sts.url).headers
    assert expected["X-Amz-Date"] == "20300102T030405Z"
    for creds in (refreshable, frozen, awsroles.boto3_session("dev").get_credentials()):
        headers = _sigv4(creds, aws.sts.url).headers
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            assert headers[name] == expected[name], (type(creds).__name__, name)


# --- the hand-written pattern: credentials assigned to a botocore session ---------------


@pytest.mark.parametrize("shape", ["refreshable", "frozen"])
def test_credentials_assigned_to_a_botocore_session(aws, shape):
    creds = awsroles.resolve("dev")
    if shape == "frozen":
        creds = creds.get_frozen_credentials()
    bs = botocore.session.get_session()
    bs._credentials = creds
    client = boto3.Session(botocore_session=bs).client("sts")
    # client creation reads account_id through get_deferred_property (endpoint rules)
    assert client.get_caller_identity()["Arn"] == DEV_ARN
    used = aws.sts.calls[-1].access_key
    assert used == creds.get_frozen_credentials().access_key
    if shape == "refreshable":
        # botocore asks for the frozen set at every signing: an invalidated set is replaced
        creds.invalidate()
        assert client.get_caller_identity()["Arn"] == DEV_ARN
        assert aws.sts.calls[-1].access_key not in (used, None)
        assert _assumed(aws.sts, DEV) == 2


def test_boto3_session_from_the_unpacked_frozen_set(aws):
    frozen = awsroles.resolve("dev").get_frozen_credentials()
    session = boto3.Session(*frozen[:3])
    assert session.client("sts").get_caller_identity()["Arn"] == DEV_ARN
    assert aws.sts.calls[-1].access_key == frozen[0]


# --- the frozen set is botocore's ReadOnlyCredentials ----------------------------------


def test_frozen_set_is_a_read_only_credentials(aws):
    creds = awsroles.resolve("dev")
    frozen = creds.get_frozen_credentials()
    access_key, secret_key, token, account = frozen
    assert access_key.startswith("ASIA") and secret_key and token and account == ACCOUNT
    assert (frozen[0], frozen[1], frozen[2], frozen[3], frozen[-1]) == (
        access_key,
        secret_key,
        token,
        account,
        account,
    )
    assert len(frozen) == 4 and frozen[:2] == (access_key, secret_key)
    read_only = botocore.credentials.ReadOnlyCredentials(access_key, secret_key, token, account)
    assert frozen == read_only and read_only == frozen
    assert hash(frozen) == hash(read_only)
    assert {read_only: "x"}[frozen] == "x"
    assert frozen != read_only._replace(token="other")
    assert frozen._fields == read_only._fields
    assert frozen._asdict() == read_only._asdict()
    assert frozen._asdict() == {
        "access_key": access_key,
        "secret_key": secret_key,
        "token": token,
        "account_id": account,
    }
    # the extras ride along outside the tuple
    assert frozen.method == "assume-role" == creds.method
    assert frozen.expiry is not None and frozen.expiry.tzinfo is not None
    assert creds.expiry == frozen.expiry
    changed = frozen._replace(token=None)
    assert changed == (access_key, secret_key, None, account)
    assert (changed.expiry, changed.method) == (frozen.expiry, frozen.method)


def test_frozen_set_survives_pickle_and_copy_with_its_extras(aws):
    frozen = awsroles.resolve("dev").get_frozen_credentials()
    copies = [copy.copy(frozen), copy.deepcopy(frozen)]
    copies += [
        pickle.loads(pickle.dumps(frozen, protocol))
        for protocol in range(pickle.HIGHEST_PROTOCOL + 1)
    ]
    for other in copies:
        assert type(other) is type(frozen)
        assert tuple(other) == tuple(frozen)
        assert (other.expiry, other.method) == (frozen.expiry, frozen.method)
        assert other.access_key == frozen.access_key and other.token == frozen.token


def test_frozen_set_is_immutable(aws):
    frozen = awsroles.resolve("dev").get_frozen_credentials()
    before = (tuple(frozen), frozen.expiry, frozen.method)
    for name in ("access_key", "secret_key", "token", "account_id", "expiry", "method", "new"):
        with pytest.raises(AttributeError):
            setattr(frozen, name, "x")
    with pytest.raises(TypeError):
        frozen[0] = "x"  # type: ignore[index]
    assert (tuple(frozen), frozen.expiry, frozen.method) == before


def test_deleting_an_attribute_of_a_frozen_set_is_an_attribute_error(aws):
    # as for botocore's ReadOnlyCredentials (and any named tuple): AttributeError, which
    # code guarding attribute access with ``except AttributeError`` expects
    read_only = botocore.credentials.ReadOnlyCredentials("AKIDEXAMPLE", "secret", None, None)
    with pytest.raises(AttributeError):
        del read_only.access_key
    frozen = awsroles.resolve("dev").get_frozen_credentials()
    for name in ("access_key", "token", "expiry", "method"):
        with pytest.raises(AttributeError):
            delattr(frozen, name)
        assert getattr(frozen, name) is not None


def test_repr_hides_the_secret_and_the_token(aws):
    creds = awsroles.resolve("dev")
    frozen = creds.get_frozen_credentials()
    session_creds = awsroles.boto3_session("dev").get_credentials()
    session_creds.get_frozen_credentials()
    shown = [
        repr(frozen),
        str(frozen),
        f"{frozen}",
        "%r %s" % (frozen, frozen),  # noqa: UP031 - as logging formats its arguments
        repr([frozen]),
        repr({"creds": frozen}),
        pprint.pformat(frozen),
        pprint.pformat([frozen, frozen._replace(method="env")]),
        repr(copy.copy(frozen)),
        repr(creds),
        str(creds),
        repr(session_creds),
    ]
    secrets = [frozen.secret_key, frozen.token]
    secrets += [session_creds.secret_key, session_creds.token]
    for text in shown:
        assert "ASIA" in text  # the access key, shortened, identifies the set
    leaked = [i for i, text in enumerate(shown) if any(secret in text for secret in secrets)]
    assert not leaked, f"the secret key or token shown by the forms numbered {leaked}"
    assert frozen.access_key not in repr(frozen)  # only its first characters


def test_frozen_set_of_an_awsroles_boto3_session_hides_its_secret_too(aws):
    # what botocore and its users get from an awsroles session: the same promise as
    # awsroles' own frozen set (secret and token out of repr, expiry and method kept)
    creds = awsroles.boto3_session("dev").get_credentials()
    frozen = creds.get_frozen_credentials()
    assert frozen == awsroles.resolve("dev").get_frozen_credentials()
    shown = {"repr": repr(frozen), "str": str(frozen), "pformat": pprint.pformat(frozen)}
    leaked = [
        form for form, text in shown.items() if frozen.secret_key in text or frozen.token in text
    ]
    assert not leaked, f"{type(frozen).__name__}: {leaked} show the secret key or token"
    assert getattr(frozen, "method", None) == "assume-role"
    assert getattr(frozen, "expiry", None) is not None


def test_botocore_wrapper_refresh_needed_honours_refresh_in(aws):
    # botocore's Credentials.refresh_needed(refresh_in): "less than refresh_in seconds left";
    # awsroles' RefreshableCredentials answers it, and so should the object a session holds
    refreshable = awsroles.resolve("dev")
    wrapper = awsroles.boto3_session("dev").get_credentials()
    refreshable.get_frozen_credentials()  # one-hour credentials held by both
    wrapper.get_frozen_credentials()
    hour_and_more = 2 * 3600
    assert refreshable.refresh_needed() is False
    assert refreshable.refresh_needed(refresh_in=hour_and_more) is True
    assert wrapper.refresh_needed() is False
    assert wrapper.refresh_needed(refresh_in=hour_and_more) is True
