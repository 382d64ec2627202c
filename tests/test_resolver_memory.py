"""Unit tests of the role chain with the in-memory STS transport and a frozen clock: no
socket is opened."""

import socket

import pytest

import awsroles
from awsroles.testing.clock import FrozenClock
from awsroles.testing.fake_sts import FakeSTS

from helpers import ACCOUNT, BASE_KEY, BASE_SECRET, TWO_HOP, make_env, write_aws_files


@pytest.fixture
def no_sockets(monkeypatch):
    def refuse(*a, **k):
        raise AssertionError("a unit test opened a socket")

    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def memory_sts():
    clock = FrozenClock("2030-01-01T00:00:00Z")
    sts = FakeSTS(clock=clock)  # never started: answers through .transport()
    sts.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
    return sts, clock


def test_two_hops_in_memory(tmp_path, memory_sts, no_sockets):
    sts, clock = memory_sts
    write_aws_files(tmp_path, TWO_HOP)
    env = make_env(tmp_path, "https://sts.example.invalid")
    creds = awsroles.resolve("dev", env=env, clock=clock, transport=sts.transport(), cache=None)
    frozen = creds.get_frozen_credentials()
    assert sts.count("AssumeRole") == 2
    assert frozen.expiry.isoformat() == "2030-01-01T01:00:00+00:00"
    clock.advance(minutes=59, seconds=30)  # mandatory window: the outer hop refreshes
    assert creds.get_frozen_credentials().access_key != frozen.access_key
    # both hops were issued together and expire together: each refreshes once
    assert sts.count("AssumeRole") == 4


def test_signature_is_checked_in_memory(tmp_path, memory_sts, no_sockets):
    sts, clock = memory_sts
    write_aws_files(
        tmp_path,
        TWO_HOP,
        credentials=f"[base]\naws_access_key_id = {BASE_KEY}\n"
        "aws_secret_access_key = Wr0ngSecretXYZ\n",
    )
    env = make_env(tmp_path, "https://sts.example.invalid")
    creds = awsroles.resolve("dev", env=env, clock=clock, transport=sts.transport(), cache=None)
    with pytest.raises(awsroles.STSError) as err:
        creds.get_frozen_credentials()
    assert err.value.code == "SignatureDoesNotMatch"
    assert "Wr0ngSecretXYZ" not in str(err.value)
