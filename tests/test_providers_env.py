"""The environment provider, botocore's rules plus the SDK vectors' blank-is-unset."""

from datetime import datetime, timezone

import pytest

from awsroles.errors import InvalidConfigError, PartialCredentialsError
from awsroles.providers.env import EnvProvider, read_env_credentials
from awsroles.refresh.sync import RefreshableCredentials

from helpers import load


class Ctx:
    def __init__(self, env, clock=None):
        from awsroles.clock import SYSTEM_CLOCK

        self.env = env
        self.clock = clock or SYSTEM_CLOCK


def test_blank_and_empty_are_unset():
    assert read_env_credentials({"AWS_ACCESS_KEY_ID": " ", "AWS_SECRET_ACCESS_KEY": "x"}) is None
    assert read_env_credentials({"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "x"}) is None
    assert read_env_credentials({"AWS_SECRET_ACCESS_KEY": "x"}) is None


def test_partial_names_the_missing_variable_not_the_value():
    with pytest.raises(PartialCredentialsError) as err:
        read_env_credentials({"AWS_ACCESS_KEY_ID": "AKIA1", "AWS_SECRET_ACCESS_KEY": ""})
    assert "AWS_SECRET_ACCESS_KEY" in str(err.value)


def test_legacy_security_token_wins_like_botocore():
    env = {
        "AWS_ACCESS_KEY_ID": "A",
        "AWS_SECRET_ACCESS_KEY": "S",
        "AWS_SECURITY_TOKEN": "OLD",
        "AWS_SESSION_TOKEN": "NEW",
    }
    assert read_env_credentials(env).token == "OLD"
    env["AWS_SECURITY_TOKEN"] = ""
    assert read_env_credentials(env).token == "NEW"


def test_values_are_not_stripped_and_account_id_read():
    creds = read_env_credentials(
        {"AWS_ACCESS_KEY_ID": " A ", "AWS_SECRET_ACCESS_KEY": "S", "AWS_ACCOUNT_ID": "111122223333"}
    )
    assert creds.access_key == " A " and creds.account_id == "111122223333"
    assert creds.method == "env"


def test_expiration_makes_them_refreshable_from_the_live_env():
    env = {
        "AWS_ACCESS_KEY_ID": "A1",
        "AWS_SECRET_ACCESS_KEY": "S",
        "AWS_CREDENTIAL_EXPIRATION": "2099-01-01T00:00:00Z",
    }
    creds = load(EnvProvider(), Ctx(env))
    assert isinstance(creds, RefreshableCredentials)
    assert creds.expiry == datetime(2099, 1, 1, tzinfo=timezone.utc)


def test_naive_expiration_is_utc_and_garbage_is_an_error():
    env = {
        "AWS_ACCESS_KEY_ID": "A",
        "AWS_SECRET_ACCESS_KEY": "S",
        "AWS_CREDENTIAL_EXPIRATION": "2099-01-01T00:00:00",
    }
    assert read_env_credentials(env).expiry.tzinfo is not None
    env["AWS_CREDENTIAL_EXPIRATION"] = "not a date"
    with pytest.raises(InvalidConfigError) as err:
        read_env_credentials(env)
    assert err.value.key == "AWS_CREDENTIAL_EXPIRATION"
