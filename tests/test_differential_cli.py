"""awsroles and the real AWS CLI v1 (`aws`, in a subprocess) share ``~/.aws/cli/cache``.

Each test starts a FakeSTS on the real clock (the CLI signs and judges expiry with it) and runs
``aws sts get-caller-identity`` with a minimal environment: PATH, a temporary HOME and the
variables that point it at the FakeSTS. Nothing from the caller's AWS_* environment leaks in.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime

import pytest

import awsroles
from awsroles.cache.key import cache_key

from helpers import (
    ACCOUNT,
    TWO_HOP,
    cache_dir,
    cache_files,
    make_env,
    need_aws,
    role,
    write_aws_files,
)

pytestmark = pytest.mark.e2e

DEV_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev-session"
DEV_KEY = cache_key({"RoleArn": role("Dev"), "RoleSessionName": "dev-session"})
OPS_KEY = cache_key({"RoleArn": role("Ops")})


@pytest.fixture
def aws_cli():
    return need_aws()


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def run_cli(aws, home, sts, *args):
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env.update(make_env(home, sts.url))
    proc = subprocess.run(
        [aws, *args, "--output", "json"],
        env=env,
        cwd=str(home),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, f"aws {' '.join(args)} failed:\n{proc.stderr}"
    return json.loads(proc.stdout)


def read_entry(home, key):
    with open(os.path.join(cache_dir(home), key + ".json")) as f:
        return json.load(f)


def test_cli_uses_the_cache_awsroles_wrote(aws_cli, sts, home):
    write_aws_files(home, TWO_HOP)
    mine = awsroles.resolve("dev", env=make_env(home, sts.url)).get_frozen_credentials()
    assert sts.count("AssumeRole") == 2
    assert set(cache_files(home)) == {DEV_KEY + ".json", OPS_KEY + ".json"}

    before = len(sts.calls)
    identity = run_cli(aws_cli, home, sts, "sts", "get-caller-identity", "--profile", "dev")
    assert identity["Arn"] == DEV_ARN
    assert identity["Account"] == ACCOUNT
    new = sts.calls[before:]
    assert [c.action for c in new] == ["GetCallerIdentity"]  # no AssumeRole at all
    assert new[0].access_key == mine.access_key and new[0].status == 200
    # the CLI left awsroles' entries alone
    assert read_entry(home, DEV_KEY)["Credentials"]["AccessKeyId"] == mine.access_key


def test_awsroles_uses_the_cache_the_cli_wrote(aws_cli, sts, home):
    write_aws_files(home, TWO_HOP)
    identity = run_cli(aws_cli, home, sts, "sts", "get-caller-identity", "--profile", "dev")
    assert identity["Arn"] == DEV_ARN
    assert sts.count("AssumeRole") == 2
    # the CLI's cache files are the ones awsroles names
    assert set(cache_files(home)) == {DEV_KEY + ".json", OPS_KEY + ".json"}
    entry = read_entry(home, DEV_KEY)
    assert entry["Credentials"]["Expiration"].endswith("Z")  # the CLI writes the wire format

    before = len(sts.calls)
    creds = awsroles.resolve("dev", env=make_env(home, sts.url)).get_frozen_credentials()
    assert creds.access_key == entry["Credentials"]["AccessKeyId"]
    assert creds.secret_key == entry["Credentials"]["SecretAccessKey"]
    assert creds.token == entry["Credentials"]["SessionToken"]
    assert sts.count("AssumeRole") == 2 and len(sts.calls) == before
    # AWS_PROFILE selects the same entry
    env = make_env(home, sts.url, AWS_PROFILE="dev")
    assert awsroles.resolve(env=env).get_frozen_credentials().access_key == creds.access_key
    assert len(sts.calls) == before


def test_awsroles_reads_an_iso8601_entry_from_the_cli(aws_cli, sts, home):
    write_aws_files(home, TWO_HOP + "cli_timestamp_format = iso8601\n")
    run_cli(aws_cli, home, sts, "sts", "get-caller-identity", "--profile", "dev")
    assert sts.count("AssumeRole") == 2
    entry = read_entry(home, DEV_KEY)
    assert entry["Credentials"]["Expiration"].endswith("+00:00")

    before = len(sts.calls)
    creds = awsroles.resolve("dev", env=make_env(home, sts.url)).get_frozen_credentials()
    assert creds.access_key == entry["Credentials"]["AccessKeyId"]
    assert len(sts.calls) == before
    # and the expiry awsroles took from it is the CLI's
    assert creds.expiry == datetime.fromisoformat(entry["Credentials"]["Expiration"])
