"""End to end against moto's server (a second, independent STS/IAM implementation).

moto runs in a thread on 127.0.0.1 (free port). An IAM user, its access key and two roles are
created through boto3's IAM client; awsroles then resolves a two-hop chain against moto's STS,
and GetCallerIdentity with the result must name the outer role and the configured session.
moto accepts any credentials for IAM calls and does not verify signatures; the chain is real
anyway: moto maps each issued access key back to the role session it belongs to.
"""

from __future__ import annotations

import json
import os

import pytest

import awsroles

from helpers import cache_files, make_context, make_env, write_aws_files

pytestmark = pytest.mark.e2e

moto_server = pytest.importorskip("moto.server")
boto3 = pytest.importorskip("boto3")

ACCOUNT = "123456789012"  # moto's default account
TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _clean_os_environ(monkeypatch):
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")) or name.lower() in (
            "http_proxy",
            "https_proxy",
            "all_proxy",
            "no_proxy",
        ):
            monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def moto_iam(moto_url):
    """A user with an access key, and the roles Ops and Dev, created through IAM."""
    mp = pytest.MonkeyPatch()
    try:
        _clean_os_environ(mp)
        iam = boto3.session.Session().client(
            "iam",
            endpoint_url=moto_url,
            region_name="us-east-1",
            aws_access_key_id="moto-accepts-any-key",
            aws_secret_access_key="moto-accepts-any-secret",
        )
        iam.create_user(UserName="base-user")
        key = iam.create_access_key(UserName="base-user")["AccessKey"]
        roles = {
            name: iam.create_role(RoleName=name, AssumeRolePolicyDocument=TRUST)["Role"]["Arn"]
            for name in ("Ops", "Dev")
        }
        user_arn = iam.get_user(UserName="base-user")["User"]["Arn"]
    finally:
        mp.undo()
    return {
        "key": key["AccessKeyId"],
        "secret": key["SecretAccessKey"],
        "roles": roles,
        "user_arn": user_arn,
    }


def _write_chain(home, moto_iam):
    write_aws_files(
        home,
        f"[profile ops]\nrole_arn = {moto_iam['roles']['Ops']}\nsource_profile = base\n\n"
        f"[profile dev]\nrole_arn = {moto_iam['roles']['Dev']}\nsource_profile = ops\n"
        f"role_session_name = dev-session\nregion = us-east-1\n",
        f"[base]\naws_access_key_id = {moto_iam['key']}\n"
        f"aws_secret_access_key = {moto_iam['secret']}\n",
    )


DEV_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev-session"


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def test_roles_were_created_in_moto(moto_iam):
    assert moto_iam["roles"] == {
        "Ops": f"arn:aws:iam::{ACCOUNT}:role/Ops",
        "Dev": f"arn:aws:iam::{ACCOUNT}:role/Dev",
    }
    assert moto_iam["user_arn"] == f"arn:aws:iam::{ACCOUNT}:user/base-user"


def test_two_hop_chain_against_moto(moto_url, moto_iam, home):
    _write_chain(home, moto_iam)
    env = make_env(home, moto_url)
    creds = awsroles.resolve("dev", env=env).get_frozen_credentials()
    assert creds.access_key.startswith("ASIA") and creds.token

    identity = make_context(env=env).sts_client().get_caller_identity(creds)
    assert identity["Arn"] == DEV_ARN
    assert identity["Account"] == ACCOUNT
    assert identity["UserId"].endswith(":dev-session")
    assert creds.account_id == ACCOUNT
    assert len(cache_files(home)) == 2  # one entry per hop

    # the base keys are the IAM user's, and a warm start gives the same credentials
    base = (
        make_context(env=env)
        .sts_client()
        .get_caller_identity(awsroles.resolve("base", env=env).get_frozen_credentials())
    )
    assert base["Arn"] == moto_iam["user_arn"]
    again = awsroles.resolve("dev", env=env).get_frozen_credentials()
    assert again.access_key == creds.access_key


def test_boto3_with_the_assumed_credentials(moto_url, moto_iam, home, monkeypatch):
    _write_chain(home, moto_iam)
    creds = awsroles.resolve("dev", env=make_env(home, moto_url)).get_frozen_credentials()
    _clean_os_environ(monkeypatch)
    monkeypatch.setenv("HOME", str(home))
    client = boto3.session.Session().client(
        "sts",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key,
        aws_secret_access_key=creds.secret_key,
        aws_session_token=creds.token,
    )
    assert client.get_caller_identity()["Arn"] == DEV_ARN


def test_boto3_session_from_awsroles_against_moto(moto_url, moto_iam, home, monkeypatch):
    _write_chain(home, moto_iam)
    _clean_os_environ(monkeypatch)
    for name, value in make_env(home, moto_url).items():
        monkeypatch.setenv(name, value)

    session = awsroles.boto3_session(profile="dev")
    identity = session.client("sts").get_caller_identity()
    assert identity["Arn"] == DEV_ARN
    # the credentials came through awsroles (botocore alone keeps no cache on disk)
    from awsroles.integrations.botocore import BotocoreCredentials

    assert isinstance(session.get_credentials(), BotocoreCredentials)
    assert len(cache_files(home)) == 2
    # a second session in the same HOME is served from that cache: the same key
    first_key = session.get_credentials().get_frozen_credentials().access_key
    second = awsroles.boto3_session(profile="dev")
    assert second.get_credentials().get_frozen_credentials().access_key == first_key
    assert second.client("sts").get_caller_identity()["Arn"] == DEV_ARN


def test_web_identity_against_moto(moto_url, moto_iam, home, tmp_path):
    """AssumeRoleWithWebIdentity (unsigned) against moto, then the assumed identity."""
    token = tmp_path / "token.jwt"
    token.write_text("eyJhbGciOiJSUzI1NiJ9.moto-accepts-this.sig\n")
    write_aws_files(home, "", credentials="")
    env = make_env(
        home,
        moto_url,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
        AWS_ROLE_ARN=moto_iam["roles"]["Ops"],
        AWS_ROLE_SESSION_NAME="pod-session",
    )
    creds = awsroles.resolve(env=env)
    assert creds.method == "assume-role-with-web-identity"
    frozen = creds.get_frozen_credentials()
    identity = make_context(env=env).sts_client().get_caller_identity(frozen)
    assert identity["Arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/Ops/pod-session"
    assert len(cache_files(home)) == 1
