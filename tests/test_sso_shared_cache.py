"""SSO role credentials in the shared cache (~/.aws/cli/cache), as the AWS CLI v2 keeps them:
botocore's file names and JSON, read and written both ways, one portal call across
processes, and both levels of a role chain on an SSO base cached."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time

import pytest

import awsroles
from awsroles.cache.key import sso_cache_key
from awsroles.testing.fake_sso import FakeSSOPortal

from helpers import cache_dir, cache_files, write_aws_files

ACCOUNT = "111122223333"
ROLE = "ReadOnly"
START = "https://d-123.awsapps.com/start"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CONFIG = f"""\
[profile dev]
sso_session = my-sso
sso_account_id = {ACCOUNT}
sso_role_name = {ROLE}
region = eu-west-1

[profile legacy]
sso_start_url = {START}
sso_region = us-east-1
sso_account_id = {ACCOUNT}
sso_role_name = {ROLE}

[sso-session my-sso]
sso_region = us-east-1
sso_start_url = {START}
"""


@pytest.fixture
def portal():
    with FakeSSOPortal() as p:  # real time: botocore and child processes read the system clock
        p.add_role(ACCOUNT, ROLE)
        yield p


@pytest.fixture
def home(tmp_path, portal):
    h = tmp_path / "home"
    h.mkdir()
    write_aws_files(h, CONFIG, credentials="")
    portal.login(h, START)
    portal.login(h, "my-sso", start_url=START)
    return h


def _env(home, portal, **extra):
    env = {
        "HOME": str(home),
        "PATH": os.environ.get("PATH", os.defpath),
        "AWS_ENDPOINT_URL_SSO": portal.url,
        "AWS_ENDPOINT_URL_SSO_OIDC": portal.url,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(extra)
    return env


def _entry(home, key):
    with open(os.path.join(cache_dir(home), key + ".json")) as f:
        return json.load(f)


@pytest.mark.parametrize(
    "session, start",
    [("my-sso", START), (None, START), (None, "https://other.awsapps.com/start/#/")],
)
def test_the_file_name_is_botocores(session, start):
    from botocore.credentials import SSOCredentialFetcher

    theirs = SSOCredentialFetcher(
        start,
        "us-east-1",
        ROLE,
        ACCOUNT,
        client_creator=None,
        token_loader=None,
        cache={},
        sso_session_name=session,
    )._create_cache_key()
    assert sso_cache_key(start, ROLE, ACCOUNT, session) == theirs


@pytest.mark.parametrize("profile, session", [("dev", "my-sso"), ("legacy", None)])
def test_the_entry_is_written_as_botocore_writes_it_and_read_by_the_next_process(
    home, portal, profile, session
):
    env = _env(home, portal)
    frozen = awsroles.resolve(profile, env=env).get_frozen_credentials()
    key = sso_cache_key(START, ROLE, ACCOUNT, session)
    entry = _entry(home, key)
    assert list(entry) == ["ProviderType", "Credentials"] and entry["ProviderType"] == "sso"
    assert list(entry["Credentials"]) == [
        "AccessKeyId",
        "SecretAccessKey",
        "SessionToken",
        "Expiration",
        "AccountId",
    ]
    assert entry["Credentials"]["AccessKeyId"] == frozen.access_key
    assert entry["Credentials"]["AccountId"] == ACCOUNT
    assert entry["Credentials"]["Expiration"].endswith("Z")
    mode = stat.S_IMODE(os.stat(os.path.join(cache_dir(home), key + ".json")).st_mode)
    assert mode == 0o600
    assert portal.count("GetRoleCredentials") == 1
    again = awsroles.resolve(profile, env=env).get_frozen_credentials()  # a new resolution
    assert again == frozen and portal.count("GetRoleCredentials") == 1


BOTOCORE_CLI_V2 = r"""
import json, os, sys
import botocore.session
from botocore.utils import JSONFileCache
session = botocore.session.Session(profile=sys.argv[1])
# what the AWS CLI v2 does: its SSO provider keeps role credentials in ~/.aws/cli/cache
provider = session.get_component("credential_provider").get_provider("sso")
provider.cache = JSONFileCache(os.path.expanduser(os.path.join("~", ".aws", "cli", "cache")))
c = session.get_credentials().get_frozen_credentials()
print(json.dumps([c.access_key, c.secret_key, c.token]))
"""


def _botocore(home, portal, profile):
    proc = subprocess.run(
        [sys.executable, "-c", BOTOCORE_CLI_V2, profile],
        env=_env(home, portal),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


@pytest.mark.parametrize("profile", ["dev", "legacy"])
def test_botocore_as_the_cli_v2_configures_it_uses_our_entry(home, portal, profile):
    ours = awsroles.resolve(profile, env=_env(home, portal)).get_frozen_credentials()
    theirs = _botocore(home, portal, profile)
    assert theirs == [ours.access_key, ours.secret_key, ours.token]
    assert portal.count("GetRoleCredentials") == 1  # botocore took the entry


@pytest.mark.parametrize("profile", ["dev", "legacy"])
def test_we_use_the_entry_botocore_as_the_cli_v2_wrote(home, portal, profile):
    theirs = _botocore(home, portal, profile)
    assert len(cache_files(home)) == 1
    ours = awsroles.resolve(profile, env=_env(home, portal)).get_frozen_credentials()
    assert [ours.access_key, ours.secret_key, ours.token] == theirs
    assert ours.account_id == ACCOUNT and ours.expiry is not None
    assert portal.count("GetRoleCredentials") == 1


WORKER = r"""
import os, sys, time
gate = sys.argv[1]
while not os.path.exists(gate):
    time.sleep(0.002)
import awsroles
print(awsroles.resolve("dev").get_frozen_credentials().access_key)
"""


@pytest.mark.e2e
def test_processes_starting_together_make_one_portal_call(home, portal, tmp_path):
    env = _env(home, portal, PYTHONPATH=ROOT)
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(gate)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    time.sleep(1.0)
    gate.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert len({out.strip() for out, _ in outs}) == 1
    assert portal.count("GetRoleCredentials") == 1


def test_a_role_chain_on_an_sso_base_caches_both_levels(home, portal):
    from awsroles.testing.fake_sts import FakeSTS

    keys = portal.add_role(ACCOUNT, ROLE)
    write_aws_files(
        home,
        CONFIG + f"\n[profile admin]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/Admin\n"
        "source_profile = dev\n",
        credentials="",
    )
    with FakeSTS() as sts:
        sts.add_user(keys.access_key, keys.secret_key, ACCOUNT, "from-sso")
        env = _env(home, portal, AWS_ENDPOINT_URL_STS=sts.url, AWS_DEFAULT_REGION="us-east-1")
        first = awsroles.resolve("admin", env=env).get_frozen_credentials()
        assert len(cache_files(home)) == 2  # the SSO role's entry and the Admin role's
        again = awsroles.resolve("admin", env=env).get_frozen_credentials()
        assert again == first
        assert portal.count("GetRoleCredentials") == 1 and sts.count("AssumeRole") == 1


def test_an_entry_about_to_expire_is_replaced(home, portal):
    env = _env(home, portal)
    first = awsroles.resolve("dev", env=env).get_frozen_credentials()
    key = sso_cache_key(START, ROLE, ACCOUNT, "my-sso")
    path = os.path.join(cache_dir(home), key + ".json")
    entry = _entry(home, key)
    entry["Credentials"]["Expiration"] = time.strftime(
        "%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 30)
    )  # inside the mandatory window
    with open(path, "w") as f:
        json.dump(entry, f)
    fresh = awsroles.resolve("dev", env=env).get_frozen_credentials()
    assert portal.count("GetRoleCredentials") == 2  # the entry was not taken
    assert fresh.expiry == first.expiry  # the portal's answer (it issues one set per role)
    assert _entry(home, key)["Credentials"]["Expiration"] == fresh.expiry.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_an_expired_sso_token_is_still_an_error_when_no_entry_is_usable(home, portal):
    from awsroles.providers.sso import SsoTokenError

    portal.login(home, "my-sso", start_url=START, expires_in=-60, refreshable=False)
    with pytest.raises((SsoTokenError, awsroles.AwsRolesError)) as err:
        awsroles.resolve("dev", env=_env(home, portal)).get_frozen_credentials()
    assert "aws sso login" in str(err.value)
    assert cache_files(home) == []


def test_explain_and_cache_list_show_the_sso_entry_with_its_profile(home, portal, capsys):
    from awsroles.cli.main import main

    env = _env(home, portal)
    key = sso_cache_key(START, ROLE, ACCOUNT, "my-sso")
    before = awsroles.explain("dev", env=env)
    assert f"dev: {cache_dir(home)}/{key}.json: no valid entry (the SSO portal will be called)" in (
        before
    )
    awsroles.resolve("dev", env=env).get_frozen_credentials()
    assert f"{key}.json: valid, expires" in awsroles.explain("dev", env=env)

    old = dict(os.environ)
    os.environ.update(env)
    try:
        assert main(["cache", "list"]) == 0
        listed = capsys.readouterr().out
        row = [line for line in listed.splitlines() if line.startswith(key)]
        assert len(row) == 1 and "dev" in row[0] and "legacy" not in row[0], listed
        assert main(["cache", "clear", "--profile", "dev"]) == 0
        assert f"removed {cache_dir(home)}/{key}.json" in capsys.readouterr().out
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert cache_files(home) == []
