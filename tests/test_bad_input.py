"""Malformed configuration: a typed awsroles error naming where and what, never a traceback
from inside the library, never a secret."""

import os

import pytest

import awsroles
from awsroles.errors import (
    AwsRolesError,
    ConfigParseError,
    CredentialSourceError,
    InvalidConfigError,
    PartialCredentialsError,
    ProfileNotFoundError,
    SourceProfileCycleError,
)

from helpers import make_env, role

SECRET = "PLANTED-secret-9f8e7d"
R = role("R")

CASES = [
    # (id, config, credentials, profile, error class, substrings in the message)
    ("line-without-equals", "[profile p]\nregion\n", "", "p", ConfigParseError, ["line 2"]),
    ("key-before-section", "region = x\n[profile p]\n", "", "p", ConfigParseError, ["line 1"]),
    ("unclosed-header", "[profile p\nregion = x\n", "", "p", ConfigParseError, ["line 1"]),
    ("secret-on-bad-line", f"[profile p]\n{SECRET}\n", "", "p", ConfigParseError, ["line 2"]),
    (
        "cycle",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\n[profile b]\nrole_arn={R}\n"
        "source_profile=a\n",
        "",
        "a",
        SourceProfileCycleError,
        ["a -> b -> a"],
    ),
    (
        "self-cycle-no-keys",
        f"[profile a]\nrole_arn={R}\nsource_profile=a\n",
        "",
        "a",
        SourceProfileCycleError,
        ["a -> a"],
    ),
    (
        "both-sources",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\ncredential_source=Environment\n"
        "[profile b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "",
        "a",
        CredentialSourceError,
        ["'a'", "credential_source"],
    ),
    (
        "unknown-credential-source",
        f"[profile a]\nrole_arn={R}\ncredential_source=Magic\n",
        "",
        "a",
        CredentialSourceError,
        ["Magic", "Ec2InstanceMetadata", "EcsContainer", "Environment"],
    ),
    (
        "missing-source-profile",
        f"[profile a]\nrole_arn={R}\nsource_profile=ghost\n",
        "",
        "a",
        InvalidConfigError,
        ["ghost"],
    ),
    (
        "no-source",
        f"[profile a]\nrole_arn={R}\n",
        "",
        "a",
        PartialCredentialsError,
        ["source_profile", "credential_source"],
    ),
    (
        "empty-source",
        f"[profile a]\nrole_arn={R}\nsource_profile=e\n[profile e]\nregion=x\n",
        "",
        "a",
        InvalidConfigError,
        ["'e'"],
    ),
    (
        "partial-keys",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\n",
        "[b]\naws_access_key_id=A\n",
        "a",
        PartialCredentialsError,
        ["aws_secret_access_key", "credentials"],
    ),
    (
        "secret-only",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\n",
        f"[b]\naws_secret_access_key={SECRET}\n",
        "a",
        PartialCredentialsError,
        ["aws_access_key_id"],
    ),
    (
        "bad-duration",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\nduration_seconds=1h\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "a",
        InvalidConfigError,
        ["duration_seconds", "'a'", "line 4"],
    ),
    (
        "duration-too-short",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\nduration_seconds=600\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "a",
        InvalidConfigError,
        ["duration_seconds"],
    ),
    (
        "bad-arn",
        "[profile a]\nrole_arn=not-an-arn\nsource_profile=b\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "a",
        InvalidConfigError,
        ["role_arn"],
    ),
    (
        "bad-session-name",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\nrole_session_name=a b\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "a",
        InvalidConfigError,
        ["role_session_name"],
    ),
    ("unknown-profile", "[profile a]\nregion=x\n", "", "zzz", ProfileNotFoundError, ["zzz"]),
    (
        "bad-credentials-file",
        "",
        "[b]\nthis is not ini\n",
        "b",
        ConfigParseError,
        ["credentials", "line 2"],
    ),
    (
        "bad-sts-regional-endpoints",
        f"[profile a]\nrole_arn={R}\nsource_profile=b\nsts_regional_endpoints=sometimes\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "a",
        InvalidConfigError,
        ["sts_regional_endpoints"],
    ),
    ("binary-garbage", bytes(range(256)) * 4, "", "p", ConfigParseError, ["config", "UTF-8"]),
    ("nul-bytes", b"[profile p]\nregion = us\x00east\n", "", "p", AwsRolesError, []),
    ("huge-file", "[profile p]\n" + "k = v\n" * 800_000, "", "p", ConfigParseError, ["MiB"]),
    ("symlink-loop", "SYMLINK-LOOP", "", "p", ConfigParseError, ["symbolic links"]),
    (
        "config-is-a-directory",
        "DIRECTORY",
        "[p]\naws_access_key_id=A\n",
        "p",
        PartialCredentialsError,
        ["aws_secret_access_key"],
    ),
    ("unbalanced-quote-header", '[profile "p]\nregion=x\n', "", "p", ProfileNotFoundError, ["'p'"]),
    ("empty-header", "[]\nregion=x\n", "", "p", ConfigParseError, ["line 1"]),
    ("junk-after-header", "[profile p] junk\nregion=x\n", "", "p", ConfigParseError, ["line 1"]),
    ("empty-sub-property", "[profile p]\ns3 =\n  = v\n", "", "p", ConfigParseError, ["line 3"]),
    (
        "empty-role-arn",
        "[profile p]\nrole_arn =\nsource_profile = b\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "p",
        InvalidConfigError,
        ["role_arn"],
    ),
    (
        "empty-mfa-serial",
        f"[profile p]\nrole_arn={R}\nsource_profile=b\nmfa_serial =\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "p",
        InvalidConfigError,
        ["mfa_serial"],
    ),
    (
        "huge-duration",
        f"[profile p]\nrole_arn={R}\nsource_profile=b\nduration_seconds=50000\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "p",
        InvalidConfigError,
        ["43200"],
    ),
    (
        "bad-external-id",
        f"[profile p]\nrole_arn={R}\nsource_profile=b\nexternal_id=a b\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "p",
        InvalidConfigError,
        ["external_id"],
    ),
    (
        "web-identity-without-role",
        "[profile p]\nweb_identity_token_file = /tmp/t\n",
        "",
        "p",
        InvalidConfigError,
        ["role_arn"],
    ),
    (
        "missing-services-section",
        f"[profile p]\nrole_arn={R}\nsource_profile=b\nservices = nowhere\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "p",
        InvalidConfigError,
        ["nowhere"],
    ),
    (
        "endpoint-not-a-url",
        f"[profile p]\nrole_arn={R}\nsource_profile=b\nendpoint_url = not a url\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "p",
        InvalidConfigError,
        ["endpoint_url"],
    ),
    (
        "bad-region",
        f"[profile p]\nrole_arn={R}\nsource_profile=b\nregion = us east 1\n",
        "[b]\naws_access_key_id=A\naws_secret_access_key=B\n",
        "p",
        InvalidConfigError,
        ["region"],
    ),
    (
        "sso-half-configured",
        "[profile p]\nsso_role_name = R\n",
        "",
        "p",
        InvalidConfigError,
        ["sso_account_id"],
    ),
    (
        "unknown-sso-session",
        "[profile p]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = R\n",
        "",
        "p",
        InvalidConfigError,
        ["nope"],
    ),
]


PROFILE_ENDPOINT_CASES = {"missing-services-section", "endpoint-not-a-url", "bad-region"}


def test_table_size():
    assert len(CASES) >= 30


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_config(case, tmp_path):
    _id, config, credentials, profile, error, needles = case
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    cfg = home / ".aws" / "config"
    if config == "SYMLINK-LOOP":
        os.symlink(str(home / ".aws" / "loop"), str(cfg))
        os.symlink(str(cfg), str(home / ".aws" / "loop"))
    elif config == "DIRECTORY":
        cfg.mkdir()
    elif isinstance(config, bytes):
        cfg.write_bytes(config)
    else:
        cfg.write_text(config)
    (home / ".aws" / "credentials").write_text(credentials)
    env = make_env(home, "http://127.0.0.1:9")
    if _id in PROFILE_ENDPOINT_CASES:  # the environment would override the profile's setting
        del env["AWS_ENDPOINT_URL_STS"], env["AWS_DEFAULT_REGION"]
    with pytest.raises(AwsRolesError) as err:
        creds = awsroles.resolve(profile, env=env, cache=None)
        creds.get_frozen_credentials()
    assert isinstance(err.value, error), repr(err.value)
    text = str(err.value)
    for needle in needles:
        assert needle in text, text
    assert SECRET not in text
    assert err.value.__cause__ is None or isinstance(err.value.__cause__, AwsRolesError)


def test_non_utf8_config(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_bytes(b"[profile p]\nregion = caf\xe9\n")
    with pytest.raises(ConfigParseError) as err:
        awsroles.resolve("p", env=make_env(home))
    assert "line 2" in str(err.value) and "config" in str(err.value)


def test_unreadable_config(tmp_path):
    home = tmp_path / "home"
    (home / ".aws" / "config").mkdir(parents=True)  # a directory where the file should be
    os.chmod(home / ".aws" / "config", 0o700)
    (home / ".aws" / "credentials").write_text(
        "[p]\naws_access_key_id=A\naws_secret_access_key=B\n"
    )
    creds = awsroles.resolve("p", env=make_env(home))  # botocore: ignored, like a missing file
    assert creds.get_frozen_credentials().access_key == "A"


def test_empty_role_arn_is_an_error_not_a_fallback(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("")
    (home / ".aws" / "credentials").write_text(
        "[p]\naws_access_key_id=A\naws_secret_access_key=B\nrole_arn =\nsource_profile = p\n"
    )
    with pytest.raises(InvalidConfigError) as err:
        awsroles.resolve("p", env=make_env(home))
    assert err.value.key == "role_arn"
