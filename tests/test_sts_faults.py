"""STS faults over real sockets: resets and slow answers end in typed errors, in bounded time."""

import socket
import threading
import time

import pytest

from awsroles.credentials import Credentials
from awsroles.errors import TransportError
from awsroles.sts.client import AssumeRoleParams, StsClient
from awsroles.sts.endpoint import StsEndpoint
from awsroles.testing.clock import FrozenClock
from awsroles.testing.fake_sts import FakeSTS

pytestmark = pytest.mark.e2e

SOURCE = Credentials("AKIATESTFAULTS000001", "fault-secret-value-xyz")
PARAMS = AssumeRoleParams("arn:aws:iam::123456789012:role/R", "faults")


@pytest.fixture
def resetting_server():
    """Accepts connections and closes them at once (a reset from the client's view)."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    stop = threading.Event()
    accepted = []

    def serve():
        srv.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = srv.accept()
            except OSError:
                continue
            accepted.append(1)
            conn.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
            conn.close()

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.getsockname()[1]}", accepted
    stop.set()
    t.join(2)
    srv.close()


def test_connection_resets_are_retried_then_a_typed_error(resetting_server):
    url, accepted = resetting_server
    client = StsClient(StsEndpoint(url, "us-east-1", "test"), clock=FrozenClock())
    started = time.monotonic()
    with pytest.raises(TransportError) as err:
        client.assume_role(SOURCE, PARAMS)
    assert time.monotonic() - started < 10
    assert len(accepted) == 3  # three attempts
    assert "arn:aws:iam::123456789012:role/R" in str(err.value)
    assert "fault-secret-value-xyz" not in str(err.value)


def test_a_slow_sts_times_out_with_a_typed_error():
    with FakeSTS() as sts:
        sts.add_user(SOURCE.access_key, SOURCE.secret_key)
        sts.delay = 2.0
        client = StsClient(
            StsEndpoint(sts.url, "us-east-1", "test"),
            clock=FrozenClock(),
            timeout=(1.0, 0.3),
            max_attempts=2,
        )
        started = time.monotonic()
        with pytest.raises(TransportError) as err:
            client.assume_role(SOURCE, PARAMS)
        assert err.value.timeout and err.value.recoverable
        assert time.monotonic() - started < 5
