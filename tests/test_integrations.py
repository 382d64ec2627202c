"""awsroles inside botocore and boto3."""

import os

import botocore.session
import pytest
from botocore.exceptions import ClientError

import awsroles
from awsroles.integrations.botocore import AwsRolesProvider, BotocoreCredentials

from helpers import ACCOUNT, BASE_KEY, TWO_HOP, make_env, write_aws_files


@pytest.fixture
def env(tmp_path, monkeypatch, sts):
    home = tmp_path / "home"
    home.mkdir()
    write_aws_files(home, TWO_HOP)
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name)
    for k, v in make_env(home, sts.url).items():
        monkeypatch.setenv(k, v)
    return home


def test_boto3_session_uses_awsroles_and_signs_with_role(env, sts):
    session = awsroles.boto3_session(profile="dev")
    creds = session.get_credentials()
    assert isinstance(creds, BotocoreCredentials)
    assert creds.method == "assume-role"
    ident = session.client("sts").get_caller_identity()
    assert ident["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev-session"
    assert sts.count("AssumeRole") == 2


def test_install_puts_the_whole_chain_in_botocores_order(env, sts):
    from awsroles.integrations.botocore import REPLACED

    bs = botocore.session.Session(profile="dev")
    before = [p.METHOD for p in bs.get_component("credential_provider").providers]
    awsroles.install(bs)
    names = [p.METHOD for p in bs.get_component("credential_provider").providers]
    # awsroles first (environment, shared files), its metadata part last (container, IMDS),
    # botocore's own providers for the sources awsroles does not read kept in between
    kept = [name for name in before if name not in REPLACED]
    assert names == [AwsRolesProvider.METHOD, *kept, "awsroles-metadata"]
    assert "boto-config" in kept and not REPLACED & set(names)
    awsroles.install(bs)  # again: nothing doubled
    assert [p.METHOD for p in bs.get_component("credential_provider").providers] == names
    frozen = bs.get_credentials().get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA")
    # a second session in the same process reads the shared cache: no new STS call
    bs2 = awsroles.botocore_session("dev")
    assert bs2.get_credentials().get_frozen_credentials().access_key == frozen.access_key
    assert sts.count("AssumeRole") == 2


def test_non_role_profiles_are_left_to_botocore(env, sts):
    bs = awsroles.botocore_session("base")
    creds = bs.get_credentials()
    assert creds.method == "shared-credentials-file"
    assert creds.access_key == BASE_KEY


def test_expired_token_error_invalidates(env, sts):
    session = awsroles.boto3_session(profile="dev")
    client = session.client("sts")
    first = session.get_credentials().get_frozen_credentials().access_key
    # the next GetCallerIdentity reports an expired token, as AWS would
    sts.fail_next(
        1,
        status=400,
        code="ExpiredToken",
        message="The security token included in the request is expired",
        action="GetCallerIdentity",
    )
    with pytest.raises(ClientError):
        client.get_caller_identity()
    # The stale mark makes the next use refresh (once): a new AssumeRole for the outer hop.
    client.get_caller_identity()
    assert sts.count("AssumeRole") == 3
    assert session.get_credentials().get_frozen_credentials().access_key != first


def test_late_expired_error_about_a_replaced_set_is_ignored(env, sts):
    bs = awsroles.botocore_session("dev")
    client = bs.create_client("sts")
    client.get_caller_identity()
    old = bs.get_credentials().get_frozen_credentials().access_key
    parsed = {"Error": {"Code": "ExpiredToken"}}
    # first error about the held set: marks it stale, the next call refreshes once
    bs.get_component("event_emitter").emit(
        "after-call.sts.GetCallerIdentity", parsed=parsed, context={"awsroles_access_key": old}
    )
    client.get_caller_identity()
    new = bs.get_credentials().get_frozen_credentials().access_key
    assert new != old and sts.count("AssumeRole") == 3
    # a late error from a request that was signed with the old set changes nothing
    bs.get_component("event_emitter").emit(
        "after-call.sts.GetCallerIdentity", parsed=parsed, context={"awsroles_access_key": old}
    )
    client.get_caller_identity()
    assert bs.get_credentials().get_frozen_credentials().access_key == new
    assert sts.count("AssumeRole") == 3
