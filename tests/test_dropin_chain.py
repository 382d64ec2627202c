"""A boto3 session with awsroles installed, end to end against the local fakes: every kind of
source resolves through awsroles, in botocore's order; botocore's remaining providers still run
when awsroles finds nothing; an ExpiredToken answer drops the rejected set everywhere.

boto3 and botocore read ``os.environ``, so every test runs inside
``local_aws(..., patch_environ=True)`` with no AWS_* or BOTO* variable left over from outside.
That awsroles (and not botocore) produced the credentials shows in the object botocore holds
(``BotocoreCredentials``) and in what only awsroles does: writing the AWS CLI's cache for
role and web identity credentials, keeping one IMDS token per process.
"""

from __future__ import annotations

import json
import os
import sys

import boto3
import botocore.exceptions
import pytest
from botocore.exceptions import ClientError

import awsroles
from awsroles.cache.key import cache_key
from awsroles.integrations.botocore import BotocoreCredentials
from awsroles.testing import FrozenClock, local_aws

TOKEN_PATH = "/latest/api/token"
WEB_TOKEN = "web-identity-token-for-dropin-tests"
PROCESS_KEY = "AKIAPROCESS000000001"
PROCESS_SECRET = "process-secret-PLANTED-dropin"
SSO_ACCOUNT = "111122223333"
SSO_START = "https://d-123.awsapps.com/start"


def role_arn(name):
    return f"arn:aws:iam::123456789012:role/{name}"


@pytest.fixture(autouse=True)
def _no_aws_environ(monkeypatch):
    """No AWS_* or BOTO* variable from the outside reaches boto3 (local_aws only clears
    AWS_*, and BOTO_CONFIG would feed botocore's boto-config provider)."""
    for name in list(os.environ):
        if name.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(name)


@pytest.fixture
def home(tmp_path):
    return str(tmp_path / "home")


# --- helpers ---------------------------------------------------------------------------------


def entry_path(aws, **args):
    """The AWS CLI cache file for these AssumeRole arguments."""
    return os.path.join(aws.cache_dir, cache_key(args) + ".json")


def cached_key(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)["Credentials"]["AccessKeyId"]


def identity(session):
    return session.client("sts").get_caller_identity()["Arn"]


def assumed(aws, name):
    """The start of the ARN GetCallerIdentity answers for a session of role ``name``."""
    return f"arn:aws:sts::{aws.account}:assumed-role/{name}/"


def used_key(session):
    return session.get_credentials().get_frozen_credentials().access_key


def signed_by(sts, action):
    """The access keys that signed each call of ``action``."""
    return [c.access_key for c in sts.calls if c.action == action]


def process_command(key=PROCESS_KEY, secret=PROCESS_SECRET):
    """A credential_process command printing Version 1 JSON with these keys."""
    doc = {"Version": 1, "AccessKeyId": key, "SecretAccessKey": secret}
    return f'{sys.executable} -c "import json; print(json.dumps({doc!r}))"'


def web_token_file(home):
    os.makedirs(home, exist_ok=True)
    path = os.path.join(home, "web-identity-token")
    with open(path, "w", encoding="utf-8") as f:
        f.write(WEB_TOKEN)
    return path


def awsroles_did_it(session):
    creds = session.get_credentials()
    assert isinstance(creds, BotocoreCredentials), type(creds)
    return creds


# --- 1. names and boto3.Session's parameters ------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: awsroles.boto3_session(profile_name="dev"),
        lambda: awsroles.boto3_session("dev"),
        lambda: awsroles.boto3_session(profile="dev"),
        lambda: awsroles.boto3_session(profile="dev", profile_name="dev"),
    ],
    ids=["profile_name", "positional", "profile", "both-the-same"],
)
def test_the_named_profile_is_the_sessions_and_resolves_through_awsroles(home, make):
    # AWS_PROFILE names another profile: the name given wins, as in boto3
    with local_aws(home=home, env={"AWS_PROFILE": "base"}, patch_environ=True) as aws:
        session = make()
        assert session.profile_name == "dev"
        assert awsroles_did_it(session).method == "assume-role"
        assert identity(session).startswith(assumed(aws, "Dev"))
        assert signed_by(aws.sts, "AssumeRole") == [aws.access_key]
        assert cached_key(entry_path(aws, RoleArn=aws.role_arn("Dev"))) == used_key(session)


def test_profile_and_profile_name_that_differ_are_an_error_naming_both(home):
    with local_aws(home=home, patch_environ=True) as aws:
        with pytest.raises(awsroles.InvalidConfigError) as err:
            awsroles.boto3_session(profile="dev", profile_name="ops")
        assert "'dev'" in str(err.value) and "'ops'" in str(err.value)
        assert "profile_name" in str(err.value)
        assert aws.sts.calls == []


def test_explicit_keys_win_over_every_provider(home):
    # environment keys, AWS_PROFILE, a named role profile and instance metadata all present
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001",
        "AWS_SECRET_ACCESS_KEY": "environment-secret-PLANTED",
        "AWS_PROFILE": "dev",
    }
    with local_aws(home=home, env=env, imds=True, patch_environ=True) as aws:
        session = awsroles.boto3_session(
            profile_name="dev",
            aws_access_key_id=aws.access_key,
            aws_secret_access_key=aws.secret_key,
        )
        creds = session.get_credentials()
        assert creds.method == "explicit"
        assert creds.get_frozen_credentials().access_key == aws.access_key
        assert identity(session) == f"arn:aws:iam::{aws.account}:user/base"
        assert aws.sts.count("AssumeRole") == 0
        assert aws.imds.requests == []
        assert aws.cache_files() == []


def test_region_name_is_the_sessions_region(home):
    with local_aws(home=home, patch_environ=True) as aws:
        session = awsroles.boto3_session("dev", "eu-west-1")
        assert session.region_name == "eu-west-1"
        awsroles_did_it(session)
        client = session.client("sts")
        assert client.meta.region_name == "eu-west-1"
        assert client.get_caller_identity()["Arn"].startswith(assumed(aws, "Dev"))
        keyword = awsroles.boto3_session(profile_name="dev", region_name="ap-south-1")
        assert keyword.region_name == "ap-south-1"


def test_install_takes_a_boto3_session(home):
    with local_aws(home=home, patch_environ=True) as aws:
        session = boto3.Session(profile_name="dev")
        awsroles.install(session)
        assert awsroles_did_it(session).method == "assume-role"
        assert identity(session).startswith(assumed(aws, "Dev"))
        # botocore alone does not write the AWS CLI's cache: awsroles did
        assert cached_key(entry_path(aws, RoleArn=aws.role_arn("Dev"))) == used_key(session)


@pytest.mark.parametrize("thing", ["dev", None, object(), {"profile": "dev"}])
def test_install_refuses_anything_but_a_session(thing):
    with pytest.raises(TypeError) as err:
        awsroles.install(thing)
    assert "install()" in str(err.value) and type(thing).__name__ in str(err.value)


# --- 2. every source through an installed session ---------------------------------------------


def test_environment_keys(home):
    env = {"AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001", "AWS_SECRET_ACCESS_KEY": "env-PLANTED"}
    with local_aws(home=home, env=env, patch_environ=True) as aws:
        aws.sts.add_user("AKIAENVIRONMENT00001", "env-PLANTED", name="from-env")
        session = awsroles.boto3_session()
        creds = awsroles_did_it(session)
        assert creds.method == "env"
        assert creds.access_key == "AKIAENVIRONMENT00001"
        assert identity(session) == f"arn:aws:iam::{aws.account}:user/from-env"


def test_static_profile_in_the_credentials_file(home):
    with local_aws(home=home, patch_environ=True) as aws:
        session = awsroles.boto3_session("base")
        creds = awsroles_did_it(session)
        assert creds.method == "shared-credentials-file"
        assert creds.access_key == aws.access_key
        assert identity(session) == f"arn:aws:iam::{aws.account}:user/base"


def test_web_identity_from_the_environment_is_kept_in_the_cli_cache(home):
    env = {"AWS_WEB_IDENTITY_TOKEN_FILE": web_token_file(home), "AWS_ROLE_ARN": role_arn("Web")}
    with local_aws("", "", home=home, env=env, patch_environ=True) as aws:
        aws.sts.add_web_identity_token(WEB_TOKEN)
        session = awsroles.boto3_session()
        assert awsroles_did_it(session).method == "assume-role-with-web-identity"
        assert identity(session).startswith(assumed(aws, "Web"))
        path = entry_path(aws, RoleArn=aws.role_arn("Web"))
        assert cached_key(path) == used_key(session)
        # another session takes the cached set: no second call to STS
        assert used_key(awsroles.boto3_session()) == used_key(session)
        assert aws.sts.count("AssumeRoleWithWebIdentity") == 1


def test_web_identity_profile_and_a_role_on_it(home):
    with local_aws("", "", home=home, patch_environ=True) as aws:
        aws.sts.add_web_identity_token(WEB_TOKEN)
        aws.add_profile(
            "wi", web_identity_token_file=web_token_file(home), role_arn=aws.role_arn("Wi")
        )
        aws.add_profile("hop", role_arn=aws.role_arn("Hop"), source_profile="wi")

        wi = awsroles.boto3_session("wi")
        assert awsroles_did_it(wi).method == "assume-role-with-web-identity"
        assert identity(wi).startswith(assumed(aws, "Wi"))
        wi_key = cached_key(entry_path(aws, RoleArn=aws.role_arn("Wi")))
        assert wi_key == used_key(wi)

        hop = awsroles.boto3_session("hop")
        assert awsroles_did_it(hop).method == "assume-role"
        assert identity(hop).startswith(assumed(aws, "Hop"))
        assert cached_key(entry_path(aws, RoleArn=aws.role_arn("Hop"))) == used_key(hop)
        # the hop stood on the cached web identity set
        assert signed_by(aws.sts, "AssumeRole") == [wi_key]
        assert aws.sts.count("AssumeRoleWithWebIdentity") == 1


def test_credential_process_profile_and_a_role_on_it(home):
    with local_aws("", "", home=home, patch_environ=True) as aws:
        aws.sts.add_user(PROCESS_KEY, PROCESS_SECRET, name="from-process")
        aws.add_profile("proc", credential_process=process_command())
        aws.add_profile("onproc", role_arn=aws.role_arn("OnProc"), source_profile="proc")

        proc = awsroles.boto3_session("proc")
        creds = awsroles_did_it(proc)
        assert creds.method == "custom-process"
        assert creds.access_key == PROCESS_KEY
        assert identity(proc) == f"arn:aws:iam::{aws.account}:user/from-process"

        onproc = awsroles.boto3_session("onproc")
        assert awsroles_did_it(onproc).method == "assume-role"
        assert identity(onproc).startswith(assumed(aws, "OnProc"))
        assert signed_by(aws.sts, "AssumeRole") == [PROCESS_KEY]
        assert cached_key(entry_path(aws, RoleArn=aws.role_arn("OnProc"))) == used_key(onproc)


SSO_CONFIG = f"""\
[sso-session my-sso]
sso_start_url = {SSO_START}
sso_region = us-east-1

[profile sso]
sso_session = my-sso
sso_account_id = {SSO_ACCOUNT}
sso_role_name = ReadOnly

[profile ops]
role_arn = arn:aws:iam::{SSO_ACCOUNT}:role/Ops
source_profile = sso

[profile admin]
role_arn = arn:aws:iam::{SSO_ACCOUNT}:role/Admin
source_profile = ops
"""


def test_sso_profile_and_a_role_chain_on_it(home):
    with local_aws(SSO_CONFIG, "", home=home, sso=True, patch_environ=True) as aws:
        keys = aws.sso.add_role(SSO_ACCOUNT, "ReadOnly")
        aws.sts.add_user(keys.access_key, keys.secret_key, SSO_ACCOUNT, "from-sso")
        aws.sso_login("my-sso", start_url=SSO_START)

        sso = awsroles.boto3_session("sso")
        creds = awsroles_did_it(sso)
        assert creds.method == "sso"
        assert creds.access_key == keys.access_key
        assert identity(sso) == f"arn:aws:iam::{SSO_ACCOUNT}:user/from-sso"
        assert aws.sso.count("GetRoleCredentials") == 1

        admin = awsroles.boto3_session("admin")
        assert awsroles_did_it(admin).method == "assume-role"
        assert identity(admin).startswith(f"arn:aws:sts::{SSO_ACCOUNT}:assumed-role/Admin/")
        ops_arn = f"arn:aws:iam::{SSO_ACCOUNT}:role/Ops"
        ops_key = cached_key(entry_path(aws, RoleArn=ops_arn))
        assert signed_by(aws.sts, "AssumeRole") == [keys.access_key, ops_key]
        admin_arn = f"arn:aws:iam::{SSO_ACCOUNT}:role/Admin"
        assert cached_key(entry_path(aws, RoleArn=admin_arn)) == used_key(admin)


def test_container_endpoint_and_an_ecs_container_role(home):
    config = "[profile ecs]\nrole_arn = arn:aws:iam::123456789012:role/EcsRole\n"
    config += "credential_source = EcsContainer\n"
    with local_aws(config, "", home=home, container=True, patch_environ=True) as aws:
        issued = aws.container.credentials
        aws.sts.add_user(issued.access_key, issued.secret_key, name="task")

        task = awsroles.boto3_session()
        creds = awsroles_did_it(task)
        assert creds.method == "container-role"
        assert creds.access_key == issued.access_key
        assert identity(task) == f"arn:aws:iam::{aws.account}:user/task"

        ecs = awsroles.boto3_session("ecs")
        assert awsroles_did_it(ecs).method == "assume-role"
        assert identity(ecs).startswith(assumed(aws, "EcsRole"))
        assert signed_by(aws.sts, "AssumeRole") == [issued.access_key]
        assert cached_key(entry_path(aws, RoleArn=aws.role_arn("EcsRole"))) == used_key(ecs)


def test_instance_metadata_takes_one_token_for_the_whole_process(home):
    with local_aws("", "", home=home, imds=True, patch_environ=True) as aws:
        assert "AWS_EC2_METADATA_DISABLED" not in os.environ
        issued = aws.imds.credentials
        aws.sts.add_user(issued.access_key, issued.secret_key, name="instance")
        for _ in range(2):
            session = awsroles.boto3_session()
            creds = awsroles_did_it(session)
            assert creds.method == "iam-role"
            assert creds.access_key == issued.access_key
            for _ in range(2):
                assert identity(session) == f"arn:aws:iam::{aws.account}:user/instance"
        # botocore asks for a token per session; awsroles keeps one per process
        assert aws.imds.count("PUT", TOKEN_PATH) == 1
        assert aws.imds.count("GET") >= 2
        assert all(r.auth == "token" for r in aws.imds.requests if r.method == "GET")


EC2_CONFIG = """\
[profile web]
role_arn = arn:aws:iam::123456789012:role/Web
credential_source = Ec2InstanceMetadata
"""


def test_ec2_role_chain_through_a_boto3_session(home):
    with local_aws(EC2_CONFIG, "", home=home, imds=True, patch_environ=True) as aws:
        aws.sts.add_user(aws.imds.credentials.access_key, aws.imds.credentials.secret_key)
        session = awsroles.boto3_session("web")
        assert awsroles_did_it(session).method == "assume-role"
        for _ in range(3):  # several clients, several calls
            assert identity(session).startswith(assumed(aws, "Web"))
        session.client("sts", region_name="us-west-2").get_caller_identity()
        path = entry_path(aws, RoleArn=aws.role_arn("Web"))
        assert os.path.isfile(path)
        assert cached_key(path) == used_key(session)
        assert [c.access_key for c in aws.sts.calls if c.action == "GetCallerIdentity"] == [
            cached_key(path)
        ] * 4
        assert signed_by(aws.sts, "AssumeRole") == [aws.imds.credentials.access_key]
        assert aws.imds.count("PUT", TOKEN_PATH) == 1

        # a second session in the same HOME: the cache entry, no STS call, no IMDS request
        asked = len(aws.imds.requests)
        second = awsroles.boto3_session("web")
        assert identity(second).startswith(assumed(aws, "Web"))
        assert used_key(second) == cached_key(path)
        assert aws.sts.count("AssumeRole") == 1
        assert len(aws.imds.requests) == asked


def test_environment_keys_beat_a_role_profile_from_aws_profile(home):
    env = {
        "AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001",
        "AWS_SECRET_ACCESS_KEY": "env-PLANTED",
        "AWS_PROFILE": "dev",
    }
    with local_aws(home=home, env=env, patch_environ=True) as aws:
        aws.sts.add_user("AKIAENVIRONMENT00001", "env-PLANTED", name="from-env")
        session = awsroles.boto3_session()
        assert awsroles_did_it(session).method == "env"
        assert identity(session) == f"arn:aws:iam::{aws.account}:user/from-env"
        assert aws.sts.count("AssumeRole") == 0
        assert aws.cache_files() == []


def test_a_profile_named_explicitly_beats_environment_keys(home):
    env = {"AWS_ACCESS_KEY_ID": "AKIAENVIRONMENT00001", "AWS_SECRET_ACCESS_KEY": "env-PLANTED"}
    with local_aws(home=home, env=env, patch_environ=True) as aws:
        aws.sts.add_user("AKIAENVIRONMENT00001", "env-PLANTED", name="from-env")
        session = awsroles.boto3_session(profile_name="dev")
        assert awsroles_did_it(session).method == "assume-role"
        assert identity(session).startswith(assumed(aws, "Dev"))
        # the role stood on the profile's source, not on the environment's keys
        assert signed_by(aws.sts, "AssumeRole") == [aws.access_key]


# --- 3. botocore's remaining providers ---------------------------------------------------------


def boto_config(home, key="AKIABOTOCONFIG000001", secret="boto-config-secret-PLANTED"):
    os.makedirs(home, exist_ok=True)
    path = os.path.join(home, "boto.cfg")
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"[Credentials]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    return path


def test_boto_config_still_runs_when_awsroles_finds_nothing(home):
    env = {"BOTO_CONFIG": boto_config(home)}
    with local_aws("", "", home=home, env=env, patch_environ=True) as aws:
        aws.sts.add_user("AKIABOTOCONFIG000001", "boto-config-secret-PLANTED", name="boto")
        session = awsroles.boto3_session()
        creds = session.get_credentials()
        assert creds.method == "boto-config"
        assert creds.access_key == "AKIABOTOCONFIG000001"
        assert identity(session) == f"arn:aws:iam::{aws.account}:user/boto"


def test_ec2_credentials_file_still_runs_when_awsroles_finds_nothing(home):
    os.makedirs(home, exist_ok=True)
    path = os.path.join(home, "ec2-credentials")
    with open(path, "w", encoding="utf-8") as f:
        f.write("AWSAccessKeyId=AKIAEC2FILE000000001\nAWSSecretKey=ec2-file-secret-PLANTED\n")
    with local_aws("", "", home=home, env={"AWS_CREDENTIAL_FILE": path}, patch_environ=True):
        creds = awsroles.boto3_session().get_credentials()
        assert creds.method == "ec2-credentials-file"
        assert creds.access_key == "AKIAEC2FILE000000001"


def test_boto_config_comes_before_instance_metadata_and_after_the_shared_files(home):
    env = {"BOTO_CONFIG": boto_config(home)}
    with local_aws(home=home, env=env, imds=True, container=True, patch_environ=True) as aws:
        creds = awsroles.boto3_session().get_credentials()
        assert creds.method == "boto-config"
        assert aws.imds.requests == [] and aws.container.count() == 0
        # a profile in the shared files comes first
        assert awsroles_did_it(awsroles.boto3_session("base")).method == "shared-credentials-file"


def test_nothing_found_is_none_as_in_boto3(home):
    with local_aws("", "", home=home, patch_environ=True) as aws:
        assert os.environ["AWS_EC2_METADATA_DISABLED"] == "true"
        session = awsroles.boto3_session()
        assert session.get_credentials() is None
        assert boto3.Session().get_credentials() is None
        with pytest.raises(botocore.exceptions.NoCredentialsError):
            session.client("sts").get_caller_identity()
        assert aws.sts.calls == []


# --- 4. ExpiredToken -------------------------------------------------------------------------


def test_expired_token_drops_the_cached_set_and_the_next_call_refreshes(home):
    with local_aws(home=home, patch_environ=True) as aws:
        session = awsroles.boto3_session("dev")
        client = session.client("sts")
        assert client.get_caller_identity()["Arn"].startswith(assumed(aws, "Dev"))
        path = entry_path(aws, RoleArn=aws.role_arn("Dev"))
        rejected = cached_key(path)
        assert used_key(session) == rejected

        aws.sts.expire(rejected)
        with pytest.raises(ClientError) as err:
            client.get_caller_identity()
        assert err.value.response["Error"]["Code"] == "ExpiredToken"
        assert not os.path.exists(path)  # the rejected set is gone from the shared cache

        assert client.get_caller_identity()["Arn"].startswith(assumed(aws, "Dev"))
        fresh = used_key(session)
        assert fresh != rejected
        assert cached_key(path) == fresh
        assert aws.sts.count("AssumeRole") == 2

        again = awsroles.resolve("dev").get_frozen_credentials().access_key
        assert again == fresh
        assert aws.sts.count("AssumeRole") == 2  # from the rewritten entry


def test_no_resolution_after_the_rejection_gets_the_rejected_set(home):
    with local_aws(home=home, patch_environ=True) as aws:
        session = awsroles.boto3_session("dev")
        client = session.client("sts")
        client.get_caller_identity()
        path = entry_path(aws, RoleArn=aws.role_arn("Dev"))
        rejected = used_key(session)
        aws.sts.expire(rejected)
        with pytest.raises(ClientError):
            client.get_caller_identity()

        # another user of the same HOME, between the rejection and the session's next call
        other = awsroles.resolve("dev").get_frozen_credentials().access_key
        assert other != rejected
        assert cached_key(path) == other
        # the session takes the set that user wrote instead of calling STS again
        client.get_caller_identity()
        assert used_key(session) == other
        assert aws.sts.count("AssumeRole") == 2
        assert signed_by(aws.sts, "GetCallerIdentity")[-1] == other


OTHER_KEY = "AKIAOTHERUSER0000001"
OTHER_SECRET = "other-user-secret-PLANTED"


def test_an_expired_token_about_a_clients_own_keys_leaves_the_sessions_set_alone(home):
    # a client given its own keys signs with them, not with the session's set (botocore's
    # rule); an ExpiredToken about those keys says nothing about the session's set
    with local_aws(home=home, patch_environ=True) as aws:
        aws.sts.add_user(OTHER_KEY, OTHER_SECRET, name="other")
        aws.sts.expire(OTHER_KEY)
        session = awsroles.boto3_session("dev")
        client = session.client("sts")
        client.get_caller_identity()
        path = entry_path(aws, RoleArn=aws.role_arn("Dev"))
        held = used_key(session)

        own = session.client("sts", aws_access_key_id=OTHER_KEY, aws_secret_access_key=OTHER_SECRET)
        with pytest.raises(ClientError) as err:
            own.get_caller_identity()
        assert err.value.response["Error"]["Code"] == "ExpiredToken"
        assert signed_by(aws.sts, "GetCallerIdentity")[-1] == OTHER_KEY

        assert os.path.exists(path) and cached_key(path) == held
        client.get_caller_identity()
        assert used_key(session) == held
        assert aws.sts.count("AssumeRole") == 1


def test_a_client_with_its_own_keys_does_not_need_the_sessions_set(home):
    # the session's role can no longer be assumed and its set is out of date: a client that
    # signs with its own keys still works, as in boto3, and makes no AssumeRole call
    clock = FrozenClock()
    with local_aws(home=home, clock=clock, patch_environ=True) as aws:
        aws.sts.add_user(OTHER_KEY, OTHER_SECRET, name="other")
        session = awsroles.boto3_session("dev", clock=clock)
        assert identity(session).startswith(assumed(aws, "Dev"))
        clock.advance(minutes=61)
        aws.sts.deny_role(aws.role_arn("Dev"))

        own = session.client("sts", aws_access_key_id=OTHER_KEY, aws_secret_access_key=OTHER_SECRET)
        assert own.get_caller_identity()["Arn"] == f"arn:aws:iam::{aws.account}:user/other"
        assert aws.sts.count("AssumeRole") == 1


def test_installing_again_keeps_the_expired_token_recovery(home):
    # installing into a session that has awsroles already changes nothing: an ExpiredToken
    # still drops the rejected set and the next call refreshes
    with local_aws(home=home, patch_environ=True) as aws:
        session = awsroles.boto3_session("dev")
        awsroles.install(session)
        client = session.client("sts")
        client.get_caller_identity()
        path = entry_path(aws, RoleArn=aws.role_arn("Dev"))
        rejected = used_key(session)
        aws.sts.expire(rejected)
        with pytest.raises(ClientError) as err:
            client.get_caller_identity()
        assert err.value.response["Error"]["Code"] == "ExpiredToken"
        assert not os.path.exists(path)
        assert client.get_caller_identity()["Arn"].startswith(assumed(aws, "Dev"))
        assert used_key(session) != rejected
        assert aws.sts.count("AssumeRole") == 2


# --- 5. the same answers as plain boto3 ------------------------------------------------------


COMPARED = """\
[profile dev]
role_arn = arn:aws:iam::123456789012:role/Dev
source_profile = base
role_session_name = compared

[profile fromconfig]
aws_access_key_id = AKIACONFIGFILE000001
aws_secret_access_key = config-file-secret-PLANTED

[profile proc]
credential_process = {process}

[profile onproc]
role_arn = arn:aws:iam::123456789012:role/OnProc
source_profile = proc
role_session_name = compared

[profile wi]
role_arn = arn:aws:iam::123456789012:role/Wi
web_identity_token_file = {token_file}
role_session_name = compared

[profile ecs]
role_arn = arn:aws:iam::123456789012:role/EcsRole
credential_source = EcsContainer
role_session_name = compared

[profile ec2]
role_arn = arn:aws:iam::123456789012:role/Ec2Role
credential_source = Ec2InstanceMetadata
role_session_name = compared
"""


@pytest.mark.parametrize(
    "profile", ["base", "fromconfig", "proc", "dev", "onproc", "wi", "ecs", "ec2"]
)
def test_same_identity_and_method_as_plain_boto3(home, profile):
    config = COMPARED.format(process=process_command(), token_file=web_token_file(home))
    with local_aws(config, home=home, imds=True, container=True, patch_environ=True) as aws:
        aws.sts.add_user(PROCESS_KEY, PROCESS_SECRET, name="from-process")
        aws.sts.add_web_identity_token(WEB_TOKEN)
        for issued, name in ((aws.container.credentials, "task"), (aws.imds.credentials, "vm")):
            aws.sts.add_user(issued.access_key, issued.secret_key, name=name)

        plain = boto3.Session(profile_name=profile)
        expected = plain.client("sts").get_caller_identity()
        method = plain.get_credentials().method
        assert aws.cache_files() == []  # botocore alone keeps role sets in memory only

        session = awsroles.boto3_session(profile_name=profile)
        got = session.client("sts").get_caller_identity()
        assert awsroles_did_it(session).method == method
        for field in ("UserId", "Account", "Arn"):
            assert got[field] == expected[field]


SSO_PLAIN = """\
import json, sys

import boto3

session = boto3.Session(profile_name=sys.argv[1])
found = session.client("sts").get_caller_identity()
print(json.dumps({"Arn": found["Arn"], "UserId": found["UserId"],
                  "method": session.get_credentials().method}))
"""


def test_sso_same_identity_and_method_as_plain_boto3(home):
    # plain boto3 runs in a process of its own: botocore fixes the SSO token cache's
    # directory from HOME when it is imported, before this test's HOME exists
    with local_aws(SSO_CONFIG, "", home=home, sso=True, patch_environ=True) as aws:
        keys = aws.sso.add_role(SSO_ACCOUNT, "ReadOnly")
        aws.sts.add_user(keys.access_key, keys.secret_key, SSO_ACCOUNT, "from-sso")
        aws.sso_login("my-sso", start_url=SSO_START)
        done = aws.run([sys.executable, "-c", SSO_PLAIN, "sso"], env=dict(os.environ))
        assert done.returncode == 0, done.stderr[-2000:]
        expected = json.loads(done.stdout)

        session = awsroles.boto3_session(profile_name="sso")
        got = session.client("sts").get_caller_identity()
        assert awsroles_did_it(session).method == expected["method"] == "sso"
        assert (got["Arn"], got["UserId"]) == (expected["Arn"], expected["UserId"])
