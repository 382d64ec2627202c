"""A machine whose clock is off: lifetimes are judged by STS's clock (its Date header)."""

import logging
from datetime import timedelta

import pytest

import awsroles
from awsroles.testing.clock import FrozenClock
from awsroles.testing.fake_sts import FakeSTS

from helpers import ACCOUNT, BASE_KEY, BASE_SECRET, make_env, role, write_aws_files


@pytest.fixture
def skewed(tmp_path):
    """STS runs 10 minutes ahead of this machine."""
    import awsroles.resolver.cached_fetch as cf

    cf._skew_warned, cf._skew = False, 0.0
    server = FrozenClock("2030-01-01T00:10:00Z")
    local = FrozenClock("2030-01-01T00:00:00Z")
    home = tmp_path / "home"
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    with FakeSTS(clock=server) as sts:
        sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT)
        yield sts, local, server, make_env(home, sts.url)
    cf._skew_warned, cf._skew = False, 0.0


def test_expiry_is_moved_by_the_skew_and_warned_once(skewed, caplog):
    sts, local, server, env = skewed
    with caplog.at_level(logging.WARNING, logger="awsroles"):
        creds = awsroles.resolve("r", env=env, clock=local, background_refresh=False)
        frozen = creds.get_frozen_credentials()
    # STS issued 1 h from ITS now (00:10 -> 01:10); by this machine's clock that is 01:00
    assert frozen.expiry.isoformat() == "2030-01-01T01:00:00+00:00"
    assert len([r for r in caplog.records if "behind" in r.getMessage()]) == 1
    # so the refresh happens before STS considers the credentials expired
    local.advance(minutes=59, seconds=30)
    server.advance(minutes=59, seconds=30)
    assert creds.get_frozen_credentials().access_key != frozen.access_key
    assert sts.count("AssumeRole") == 2


def test_small_skew_is_ignored(tmp_path):
    local = FrozenClock("2030-01-01T00:00:00Z")
    server = FrozenClock("2030-01-01T00:00:30Z")
    home = tmp_path / "home"
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    with FakeSTS(clock=server) as sts:
        sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT)
        frozen = awsroles.resolve("r", env=make_env(home, sts.url), clock=local)
        expiry = frozen.get_frozen_credentials().expiry
    assert expiry == server.now() + timedelta(hours=1) - timedelta(seconds=30) + timedelta(
        seconds=30
    )
