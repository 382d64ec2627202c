"""Web identity against botocore (with the AWS CLI's file cache injected, as the CLI does):
same request, and each side reads the other's cache entry without calling STS."""

import os

import botocore.session
import botocore.utils
import pytest

import awsroles
from awsroles.testing.fake_sts import FakeSTS

from helpers import cache_dir, cache_files, make_env, role

TOKEN = "eyJhbGciOiJSUzI1NiJ9.differential-token.sig"

pytestmark = pytest.mark.e2e


@pytest.fixture
def setup(tmp_path, monkeypatch):
    with FakeSTS() as sts:
        sts.add_web_identity_token(TOKEN)
        token = tmp_path / "token.jwt"
        token.write_text(TOKEN)
        home = tmp_path / "home"
        (home / ".aws").mkdir(parents=True)
        env = make_env(
            home,
            sts.url,
            AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
            AWS_ROLE_ARN=role("Pod"),
            AWS_ROLE_SESSION_NAME="pod-7",
        )
        for name in list(os.environ):
            if name.startswith(("AWS_", "BOTO")):
                monkeypatch.delenv(name)
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        yield sts, env, home


def _botocore_creds(home):
    session = botocore.session.Session()
    resolver = session.get_component("credential_provider")
    resolver.get_provider("assume-role-with-web-identity").cache = botocore.utils.JSONFileCache(
        cache_dir(home)
    )
    return session.get_credentials()


def test_same_request_as_botocore(setup):
    sts, env, home = setup
    ours = awsroles.resolve(env=env).get_frozen_credentials()
    ours_call = sts.calls[-1]
    sts.reset()
    for name in cache_files(home):
        os.remove(os.path.join(cache_dir(home), name))
    theirs = _botocore_creds(home)
    assert theirs.method == "assume-role-with-web-identity"
    theirs.get_frozen_credentials()
    boto_call = sts.calls[-1]
    assert ours_call.action == boto_call.action == "AssumeRoleWithWebIdentity"
    assert ours_call.params == boto_call.params
    assert ours_call.access_key is None and boto_call.access_key is None
    assert ours.token


def test_botocore_reads_our_entry_and_we_read_theirs(setup):
    sts, env, home = setup
    ours = awsroles.resolve(env=env).get_frozen_credentials()
    theirs = _botocore_creds(home).get_frozen_credentials()
    assert theirs.access_key == ours.access_key
    assert sts.count("AssumeRoleWithWebIdentity") == 1
    for name in cache_files(home):
        os.remove(os.path.join(cache_dir(home), name))
    theirs = _botocore_creds(home).get_frozen_credentials()
    ours = awsroles.resolve(env=env).get_frozen_credentials()
    assert ours.access_key == theirs.access_key
    assert sts.count("AssumeRoleWithWebIdentity") == 2
