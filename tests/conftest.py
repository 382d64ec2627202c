import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """An environment with no AWS_* variables and HOME pointing at an empty temp dir."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    return home


@pytest.fixture
def clock():
    from awsroles.testing.clock import FrozenClock

    return FrozenClock("2030-01-01T00:00:00Z")


@pytest.fixture
def fake_sts(clock):
    """A strict local STS on 127.0.0.1 sharing the test's frozen clock, with the base user."""
    from awsroles.testing.fake_sts import FakeSTS

    from helpers import ACCOUNT, BASE_KEY, BASE_SECRET

    with FakeSTS(clock=clock) as sts:
        sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
        yield sts


@pytest.fixture
def sts():
    """A local STS on the real clock with the base user, for subprocesses and the AWS CLI,
    which use the system clock."""
    from awsroles.testing.fake_sts import FakeSTS

    from helpers import ACCOUNT, BASE_KEY, BASE_SECRET

    with FakeSTS() as server:
        server.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
        yield server


@pytest.fixture
def umask022():
    """The process umask set to 022 for the test, restored afterwards."""
    old = os.umask(0o022)
    yield
    os.umask(old)


# --- no test may reach beyond this machine ---------------------------------------------------

os.environ["AWS_EC2_METADATA_DISABLED"] = "true"  # inherited by subprocesses too

_real_connect = None


def _loopback_only(sock, address, *args, **kwargs):
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, str) and not (
        host.startswith("127.") or host in ("::1", "localhost") or host.startswith("/")
    ):
        raise OSError(f"test tried to connect to {host}: only 127.0.0.1 is allowed in tests")
    return _real_connect(sock, address, *args, **kwargs)


@pytest.fixture(autouse=True, scope="session")
def _only_loopback():
    import socket

    global _real_connect
    _real_connect = socket.socket.connect
    socket.socket.connect = _loopback_only
    yield
    socket.socket.connect = _real_connect


# --- DEBUG logging across the whole suite, and no secret in any record --------------------


class _Collect:
    def __init__(self):
        import logging

        self.texts = []
        self.handler = logging.Handler(level=logging.DEBUG)
        formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
        self.handler.emit = lambda record: self.texts.append(formatter.format(record))


@pytest.fixture(autouse=True, scope="session")
def _no_secret_in_any_log_record():
    import logging

    from awsroles.testing._secrets import find_leaks

    collect = _Collect()
    logger = logging.getLogger("awsroles")
    old_level = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(collect.handler)
    yield collect
    logger.removeHandler(collect.handler)
    logger.setLevel(old_level)
    leaks = find_leaks(collect.texts)
    assert not leaks, f"{len(leaks)} secret(s) issued by the fakes appeared in log records"


@pytest.fixture(scope="module")
def moto_url():
    """moto's server (every AWS service it emulates) on 127.0.0.1, for one test module."""
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
