"""build_plan: the rules and the errors a person reads."""

import pytest

from awsroles.config.model import NamedSource, StaticKeys
from awsroles.config.plan import build_plan
from awsroles.errors import (
    CredentialSourceError,
    InvalidConfigError,
    PartialCredentialsError,
    ProfileNotFoundError,
    SourceProfileCycleError,
)
from awsroles.sts.params import cache_args

ROLE = "arn:aws:iam::123456789012:role/Admin"
KEYS = {"aws_access_key_id": "AKIAEXAMPLE", "aws_secret_access_key": "s3cr3t-value"}


def test_four_hop_chain_in_order():
    profiles = {
        "a": {"role_arn": ROLE + "A", "source_profile": "b", "external_id": "ext-123"},
        "b": {"role_arn": ROLE + "B", "source_profile": "c", "role_session_name": "sess"},
        "c": {"role_arn": ROLE + "C", "source_profile": "d", "duration_seconds": "3600"},
        "d": {"role_arn": ROLE + "D", "source_profile": "base"},
        "base": dict(KEYS),
    }
    plan = build_plan(profiles, "a")
    assert isinstance(plan.base, StaticKeys) and plan.base.profile == "base"
    assert [h.profile for h in plan.hops] == ["d", "c", "b", "a"]
    assert plan.hops[1].duration_seconds == 3600
    assert plan.hops[2].role_session_name == "sess"
    assert plan.hops[3].external_id == "ext-123"


def test_cycle_error_shows_the_chain():
    profiles = {
        "c1": {"role_arn": ROLE, "source_profile": "c2"},
        "c2": {"role_arn": ROLE, "source_profile": "c3"},
        "c3": {"role_arn": ROLE, "source_profile": "c2"},
    }
    with pytest.raises(SourceProfileCycleError) as err:
        build_plan(profiles, "c1")
    assert err.value.chain == ("c1", "c2", "c3", "c2")
    assert "c1 -> c2 -> c3 -> c2" in str(err.value)


def test_self_source_with_keys_works_without_keys_is_a_cycle():
    plan = build_plan({"me": {"role_arn": ROLE, "source_profile": "me", **KEYS}}, "me")
    assert plan.base.profile == "me" and len(plan.hops) == 1
    with pytest.raises(SourceProfileCycleError):
        build_plan({"me": {"role_arn": ROLE, "source_profile": "me"}}, "me")


def test_source_profile_and_credential_source_together():
    with pytest.raises(CredentialSourceError) as err:
        build_plan(
            {
                "p": {"role_arn": ROLE, "source_profile": "x", "credential_source": "Environment"},
                "x": KEYS,
            },
            "p",
        )
    assert err.value.profile == "p"


def test_unknown_credential_source_lists_valid_values():
    with pytest.raises(CredentialSourceError) as err:
        build_plan({"p": {"role_arn": ROLE, "credential_source": "Foo"}}, "p")
    text = str(err.value)
    for name in ("Environment", "Ec2InstanceMetadata", "EcsContainer"):
        assert name in text


def test_credential_source_is_case_insensitive():
    plan = build_plan({"p": {"role_arn": ROLE, "credential_source": "environment"}}, "p")
    assert plan.base == NamedSource("Environment", "p")


def test_missing_source_profile_is_named():
    with pytest.raises(InvalidConfigError) as err:
        build_plan({"p": {"role_arn": ROLE, "source_profile": "nosuch"}}, "p")
    assert "nosuch" in str(err.value) and err.value.key == "source_profile"


def test_source_without_credentials():
    with pytest.raises(InvalidConfigError) as err:
        build_plan({"p": {"role_arn": ROLE, "source_profile": "e"}, "e": {"region": "x"}}, "p")
    assert "'e'" in str(err.value)


def test_role_without_source():
    with pytest.raises(PartialCredentialsError):
        build_plan({"p": {"role_arn": ROLE}}, "p")


@pytest.mark.parametrize("value", ["1h", "3600.0", "600", "50000", "-1"])
def test_bad_duration_is_an_error_not_dropped(value):
    with pytest.raises(InvalidConfigError) as err:
        build_plan(
            {"p": {"role_arn": ROLE, "source_profile": "b", "duration_seconds": value}, "b": KEYS},
            "p",
        )
    assert err.value.key == "duration_seconds" and err.value.profile == "p"


@pytest.mark.parametrize(
    "key,value",
    [
        ("role_session_name", "a"),
        ("role_session_name", "has space"),
        ("external_id", "x"),
        ("role_arn", "short"),
        ("mfa_serial", "abc"),
    ],
)
def test_bad_role_values(key, value):
    prof = {"role_arn": ROLE, "source_profile": "b", key: value}
    with pytest.raises(InvalidConfigError) as err:
        build_plan({"p": prof, "b": KEYS}, "p")
    assert err.value.key == key


def test_partial_keys_never_leak_the_secret():
    with pytest.raises(PartialCredentialsError) as err:
        build_plan(
            {
                "p": {"role_arn": ROLE, "source_profile": "b"},
                "b": {"aws_secret_access_key": "s3cr3t-value"},
            },
            "p",
        )
    assert "s3cr3t-value" not in str(err.value)


def test_profile_without_credentials_is_skipped():
    assert build_plan({"p": {"region": "us-east-1"}}, "p") is None


def test_unknown_profile():
    with pytest.raises(ProfileNotFoundError) as err:
        build_plan({"a": {}, "b": {}}, "zzz")
    assert "a, b" in str(err.value)


def test_cache_args_match_botocore_key_inputs():
    plan = build_plan(
        {
            "p": {
                "role_arn": ROLE,
                "source_profile": "b",
                "mfa_serial": "arn:aws:iam::123456789012:mfa/alice",
                "duration_seconds": "3600",
                "external_id": "ext-123",
                "role_session_name": "my-session",
            },
            "b": KEYS,
        },
        "p",
    )
    assert cache_args(plan.hops[0]) == {
        "RoleArn": ROLE,
        "RoleSessionName": "my-session",
        "ExternalId": "ext-123",
        "SerialNumber": "arn:aws:iam::123456789012:mfa/alice",
        "DurationSeconds": 3600,
    }


def test_describe_redacts_keys():
    plan = build_plan({"p": {"role_arn": ROLE, "source_profile": "b"}, "b": KEYS}, "p")
    text = plan.describe()
    assert "s3cr3t-value" not in text and "AKIAEXAMPLE" not in text
    assert ROLE in text


class _Section:
    def __init__(self, values):
        self.values = values


class _Profile:
    """The shape of awsroles.config.files.Profile: per-file sections."""

    def __init__(self, config=None, credentials=None):
        self.config_section = _Section(config) if config is not None else None
        self.credentials_section = _Section(credentials) if credentials is not None else None
        self.config_path, self.credentials_path = "/h/.aws/config", "/h/.aws/credentials"
        self.values = {**(config or {}), **(credentials or {})}


def test_botocore_provider_order_within_a_profile():
    # credential_process beats static keys in the config file (custom-process runs before
    # config-file), but static keys in the credentials file beat credential_process.
    cfg_only = _Profile(config={**KEYS, "credential_process": "/bin/creds"})
    assert build_plan({"p": cfg_only}, "p").base.kind == "credential-process"
    both = _Profile(config={"credential_process": "/bin/creds"}, credentials=KEYS)
    plan = build_plan({"p": both}, "p")
    assert plan.base.kind == "static-keys" and plan.base.method == "shared-credentials-file"
    keys_in_config = build_plan({"p": _Profile(config=KEYS)}, "p")
    assert keys_in_config.base.method == "config-file"
    assert keys_in_config.base.file == "/h/.aws/config"


def test_role_hop_and_assume_role_params_fields_stay_in_step():
    """RoleHop and AssumeRoleParams declare the role's arguments separately (a profile's hop,
    an API call): every hop field must reach the call, by name or by an explicit mapping."""
    from awsroles.config import model
    from awsroles.sts.params import SHARED_WITH_HOP, AssumeRoleParams

    mapped = {
        "profile": None,
        "role_session_name": "role_session_name",
        "mfa_serial": "serial_number",
        "mfa_process": None,  # where the code comes from, not an argument
        "mfa_session_seconds": None,  # the MFA session's length (GetSessionToken's argument)
    }
    shared = set(SHARED_WITH_HOP)
    assert shared <= set(AssumeRoleParams._fields)
    assert set(model.RoleHop._fields) == shared | set(mapped)
    call_only = {"token_code", "session_name_generated"}
    assert set(AssumeRoleParams._fields) == shared | {v for v in mapped.values() if v} | call_only
