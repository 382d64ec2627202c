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
