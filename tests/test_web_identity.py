"""Web identity: env vars and profile keys, unsigned call, token re-read, cache, chaining."""

import json
import os

import pytest

import awsroles
from awsroles.cache.key import cache_key
from awsroles.errors import (
    CredentialRetrievalError,
    InvalidConfigError,
    STSError,
)
from awsroles.providers.web_identity import read_token

from helpers import cache_files, make_env, role, write_aws_files

TOKEN = "eyJhbGciOiJSUzI1NiJ9.PLANTED-web-identity-token.sig"


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    write_aws_files(h, "", credentials="")
    return h


@pytest.fixture
def token_file(tmp_path, fake_sts):
    fake_sts.add_web_identity_token(TOKEN)
    path = tmp_path / "token.jwt"
    path.write_text(TOKEN + "\n")  # a trailing newline, as many writers leave
    return path


def _env(home, fake_sts, token_file, **extra):
    return make_env(
        home,
        fake_sts.url,
        AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file),
        AWS_ROLE_ARN=role("Pod"),
        **extra,
    )


def test_env_web_identity_unsigned_and_cached(home, fake_sts, clock, token_file):
    env = _env(home, fake_sts, token_file, AWS_ROLE_SESSION_NAME="pod-1")
    creds = awsroles.resolve(env=env, clock=clock)
    assert creds.method == "assume-role-with-web-identity"
    frozen = creds.get_frozen_credentials()
    call = fake_sts.calls[-1]
    assert call.action == "AssumeRoleWithWebIdentity" and call.access_key is None  # unsigned
    assert call.params["RoleSessionName"] == "pod-1"
    assert call.params["WebIdentityToken"] == "****"
    # cached as the AWS CLI caches it: botocore's key over RoleArn and the configured name
    key = cache_key({"RoleArn": role("Pod"), "RoleSessionName": "pod-1"})
    assert cache_files(home) == [key + ".json"]
    with open(os.path.join(str(home), ".aws", "cli", "cache", key + ".json")) as f:
        entry = json.load(f)
    assert list(entry)[:2] == ["Credentials", "SubjectFromWebIdentityToken"]
    again = awsroles.resolve(env=env, clock=clock).get_frozen_credentials()
    assert again.access_key == frozen.access_key
    assert fake_sts.count("AssumeRoleWithWebIdentity") == 1


def test_token_file_is_reread_at_every_refresh(home, fake_sts, clock, token_file):
    env = _env(home, fake_sts, token_file)
    creds = awsroles.resolve(env=env, clock=clock, background_refresh=False)
    creds.get_frozen_credentials()
    token_file.write_text("rotated-but-unknown-token")
    clock.advance(minutes=59, seconds=30)
    with pytest.raises(STSError) as err:
        creds.get_frozen_credentials()
    assert err.value.code == "InvalidIdentityToken"
    assert "rotated-but-unknown-token" not in str(err.value)
    fake_sts.add_web_identity_token("rotated-and-known")
    token_file.write_text("rotated-and-known")
    clock.advance(seconds=10)  # past the remembered-error window
    assert creds.get_frozen_credentials().access_key.startswith("ASIA")
    assert fake_sts.count("AssumeRoleWithWebIdentity") == 3


def test_missing_and_empty_token_files(tmp_path):
    with pytest.raises(CredentialRetrievalError) as err:
        read_token(str(tmp_path / "nope.jwt"), "p")
    assert "does not exist" in str(err.value) and err.value.key == "web_identity_token_file"
    (tmp_path / "empty.jwt").write_text("\n")
    with pytest.raises(CredentialRetrievalError):
        read_token(str(tmp_path / "empty.jwt"), "p")


def test_profile_keys_and_as_source_of_a_role_hop(home, fake_sts, clock, token_file):
    write_aws_files(
        home,
        f"[profile web]\nrole_arn = {role('Web')}\nweb_identity_token_file = {token_file}\n"
        f"role_session_name = web-sess\n\n[profile admin]\nrole_arn = {role('Admin')}\n"
        "source_profile = web\n",
        credentials="",
    )
    env = make_env(home, fake_sts.url)
    creds = awsroles.resolve("admin", env=env, clock=clock)
    frozen = creds.get_frozen_credentials()
    assert [c.action for c in fake_sts.calls] == ["AssumeRoleWithWebIdentity", "AssumeRole"]
    assert fake_sts.calls[1].access_key.startswith("ASIA")  # signed by the web identity creds
    assert frozen.token


def test_role_profile_wins_over_env_web_identity(home, fake_sts, clock, token_file):
    write_aws_files(
        home,
        f"[profile r]\nrole_arn = {role('R')}\ncredential_source = Environment\n",
        credentials="",
    )
    env = _env(home, fake_sts, token_file, AWS_PROFILE="r")
    with pytest.raises(CredentialRetrievalError) as err:  # botocore's order: assume-role first
        awsroles.resolve(env=env, clock=clock).get_frozen_credentials()
    assert "Environment" in str(err.value)


def test_profile_named_in_code_ignores_env_web_identity(home, fake_sts, clock, token_file):
    write_aws_files(home, "[profile plain]\nregion = us-east-1\n", credentials="")
    env = _env(home, fake_sts, token_file)
    with pytest.raises(awsroles.NoCredentialsError):
        awsroles.resolve("plain", env=env, clock=clock)
    # via AWS_PROFILE the environment still counts
    env["AWS_PROFILE"] = "plain"
    assert awsroles.resolve(env=env, clock=clock).method == "assume-role-with-web-identity"


def test_token_file_without_role_arn(home, fake_sts, clock, token_file):
    env = make_env(home, fake_sts.url, AWS_WEB_IDENTITY_TOKEN_FILE=str(token_file))
    with pytest.raises(InvalidConfigError) as err:
        awsroles.resolve(env=env, clock=clock)
    assert "AWS_ROLE_ARN" in str(err.value)


def test_no_token_in_logs_or_errors(home, fake_sts, clock, token_file, caplog):
    import logging

    env = _env(home, fake_sts, token_file)
    with caplog.at_level(logging.DEBUG):
        creds = awsroles.resolve(env=env, clock=clock)
        frozen = creds.get_frozen_credentials()
        text = repr(creds) + awsroles.explain(env=env, clock=clock)
    blob = text + "\n".join(r.getMessage() for r in caplog.records)
    for secret in (TOKEN, frozen.secret_key, frozen.token):
        assert secret not in blob


def test_empty_env_token_file_beats_the_profile_key_as_in_botocore(
    home, fake_sts, clock, token_file
):
    write_aws_files(
        home,
        f"[profile web]\nrole_arn = {role('Web')}\nweb_identity_token_file = {token_file}\n",
        credentials="",
    )
    env = make_env(home, fake_sts.url, AWS_PROFILE="web", AWS_WEB_IDENTITY_TOKEN_FILE="")
    with pytest.raises(awsroles.NoCredentialsError):  # botocore: the provider skips
        awsroles.resolve(env=env, clock=clock)
