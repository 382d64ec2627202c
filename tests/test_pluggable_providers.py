"""Users pass their own provider list, insert one into the default chain, or pass a fake."""

import pytest

import awsroles
from awsroles.errors import AwsRolesError, NoCredentialsError
from awsroles.resolver.chain import default_providers
from awsroles.testing import FakeProvider, StaticProvider

from helpers import make_context


def test_own_list(tmp_path):
    creds = awsroles.resolve(
        providers=[StaticProvider("AKIDMINE", "s")], env={"HOME": str(tmp_path)}
    )
    assert creds.access_key == "AKIDMINE" and creds.method == "static"


def test_fall_through_and_order(tmp_path):
    skip = FakeProvider(None, name="first")
    creds = awsroles.resolve(providers=[skip, StaticProvider()], env={"HOME": str(tmp_path)})
    assert len(skip.calls) == 1 and creds.method == "static"


def test_insert_into_default_chain(tmp_path):
    ctx = make_context(env={"HOME": str(tmp_path)})
    providers = default_providers(ctx)
    assert [p.name for p in providers] == ["env", "profile", "container-role", "iam-role"]
    providers.insert(1, StaticProvider(name="mine"))
    creds = awsroles.resolve(providers=providers, env={"HOME": str(tmp_path)})
    assert creds.method == "mine"
    text = awsroles.explain(providers=providers, env={"HOME": str(tmp_path)})
    assert "mine" in text and "used" in text


def test_a_raising_provider_stops_the_chain(tmp_path):
    boom = FakeProvider(AwsRolesError("broken"))
    never = StaticProvider()
    with pytest.raises(AwsRolesError):
        awsroles.resolve(providers=[boom, never], env={"HOME": str(tmp_path)})


def test_nothing_found_lists_what_was_tried(tmp_path):
    with pytest.raises(NoCredentialsError) as err:
        awsroles.resolve(
            providers=[FakeProvider(None, name="a"), FakeProvider(None, name="b")],
            env={"HOME": str(tmp_path)},
        )
    assert "tried: a; b" in str(err.value)
