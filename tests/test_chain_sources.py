"""Every source through awsroles.resolve: IMDS (chain and credential_source), process, SSO."""

import sys

import pytest

import awsroles
from awsroles.errors import CredentialRetrievalError
from awsroles.testing.fake_imds import FakeIMDS
from awsroles.testing.fake_sso import FakeSSOPortal

from helpers import make_env, role, write_aws_files


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def _imds_env(home, imds, sts=None, **extra):
    env = make_env(home, sts.url if sts else None, **extra)
    env.pop("AWS_EC2_METADATA_DISABLED")
    env["AWS_EC2_METADATA_SERVICE_ENDPOINT"] = imds.url
    return env


def test_imds_is_last_in_the_default_chain(home, clock):
    write_aws_files(home, "", "")
    with FakeIMDS(clock=clock) as imds:
        creds = awsroles.resolve(env=_imds_env(home, imds), clock=clock)
        assert creds.method == "iam-role"
        assert creds.get_frozen_credentials().access_key == imds.credentials.access_key
        text = awsroles.explain(env=_imds_env(home, imds), clock=clock)
        assert "iam-role" in text and "used" in text


def test_imds_disabled_means_no_credentials(home, clock):
    write_aws_files(home, "", "")
    with pytest.raises(awsroles.NoCredentialsError):
        awsroles.resolve(env=make_env(home), clock=clock)


def test_ec2_instance_metadata_as_role_source(home, fake_sts, clock):
    write_aws_files(
        home,
        f"[profile app]\nrole_arn = {role('App')}\ncredential_source = Ec2InstanceMetadata\n"
        "region = us-east-1\n",
        "",
    )
    with FakeIMDS(clock=clock) as imds:
        base = imds.credentials
        fake_sts.add_user(base.access_key, base.secret_key)
        env = _imds_env(home, imds, fake_sts)
        creds = awsroles.resolve("app", env=env, clock=clock).get_frozen_credentials()
        assert creds.access_key.startswith("ASIA")
        assert [c for c in fake_sts.calls if c.action == "AssumeRole"][0].access_key == (
            base.access_key
        )
        n = len(imds.requests)
        awsroles.resolve("app", env=env, clock=clock).get_frozen_credentials()
        assert len(imds.requests) == n  # a cache hit does not ask IMDS


def test_ec2_source_without_imds_says_why(home, fake_sts, clock):
    write_aws_files(
        home,
        f"[profile app]\nrole_arn = {role('App')}\ncredential_source = Ec2InstanceMetadata\n",
        "",
    )
    creds = awsroles.resolve("app", env=make_env(home, fake_sts.url), clock=clock)
    with pytest.raises(CredentialRetrievalError) as err:
        creds.get_frozen_credentials()
    assert "AWS_EC2_METADATA_DISABLED" in str(err.value)


def test_credential_process_profile_and_as_source(home, fake_sts, clock, tmp_path):
    script = tmp_path / "creds.py"
    script.write_text(
        "import json\nprint(json.dumps({'Version': 1, 'AccessKeyId': 'AKIAPROCESS0000001',"
        " 'SecretAccessKey': 'process-secret'}))\n"
    )
    fake_sts.add_user("AKIAPROCESS0000001", "process-secret")
    write_aws_files(
        home,
        f"[profile proc]\ncredential_process = {sys.executable} {script}\n\n"
        f"[profile admin]\nrole_arn = {role('Admin')}\nsource_profile = proc\n",
        "",
    )
    env = make_env(home, fake_sts.url)
    direct = awsroles.resolve("proc", env=env, clock=clock)
    assert direct.get_frozen_credentials().access_key == "AKIAPROCESS0000001"
    chained = awsroles.resolve("admin", env=env, clock=clock).get_frozen_credentials()
    assert chained.access_key.startswith("ASIA")


def test_sso_profile_and_as_source(home, fake_sts, clock):
    write_aws_files(
        home,
        "[sso-session my-sso]\nsso_start_url = https://d-123.awsapps.com/start\n"
        "sso_region = us-east-1\n\n[profile sso]\nsso_session = my-sso\n"
        "sso_account_id = 111122223333\nsso_role_name = ReadOnly\n\n"
        f"[profile admin]\nrole_arn = {role('Admin')}\nsource_profile = sso\n",
        "",
    )
    with FakeSSOPortal(clock=clock) as portal:
        keys = portal.add_role("111122223333", "ReadOnly")
        portal.login(home, "my-sso", start_url="https://d-123.awsapps.com/start")
        fake_sts.add_user(keys.access_key, keys.secret_key, "111122223333")
        env = make_env(home, fake_sts.url, AWS_ENDPOINT_URL_SSO=portal.url)
        sso = awsroles.resolve("sso", env=env, clock=clock)
        assert sso.method == "sso"
        assert sso.get_frozen_credentials().access_key == keys.access_key
        chained = awsroles.resolve("admin", env=env, clock=clock).get_frozen_credentials()
        assert chained.access_key.startswith("ASIA")
