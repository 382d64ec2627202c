"""Resolving role chains end to end against the strict local STS (loopback), frozen clock."""

import json
import logging
import os
import threading

import pytest

import awsroles
from awsroles.cache.key import cache_key
from awsroles.cache.store import MemoryCache
from awsroles.errors import (
    AccessDeniedError,
    MFAError,
    NoCredentialsError,
    ProfileNotFoundError,
)
from awsroles.refresh import background

from helpers import (
    BASE_KEY,
    BASE_SECRET,
    TWO_HOP,
    cache_dir,
    cache_files,
    make_env,
    role,
    write_aws_files,
)


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def _resolve(home, sts, clock, profile=None, **kw):
    env = kw.pop("env", None) or make_env(home, sts.url)
    return awsroles.resolve(profile, env=env, clock=clock, **kw)


def test_two_hop_chain_cold_then_warm(home, fake_sts, clock):
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, fake_sts, clock, "dev")
    frozen = creds.get_frozen_credentials()
    assert frozen.access_key.startswith("ASIA") and frozen.token
    assert fake_sts.count("AssumeRole") == 2
    # the outer call was signed by the inner hop's temporary credentials
    outer = [c for c in fake_sts.calls if c.action == "AssumeRole"][1]
    assert outer.params["RoleArn"] == role("Dev")
    assert outer.access_key.startswith("ASIA")
    # one cache file per hop, named with botocore's key
    expected = {
        cache_key({"RoleArn": role("Ops")}) + ".json",
        cache_key({"RoleArn": role("Dev"), "RoleSessionName": "dev-session"}) + ".json",
    }
    assert set(cache_files(home)) == expected
    # a new resolution (as a new process would) is served from the cache
    again = _resolve(home, fake_sts, clock, "dev").get_frozen_credentials()
    assert again.access_key == frozen.access_key
    assert fake_sts.count("AssumeRole") == 2


def test_cache_hit_does_not_resolve_the_source(home, fake_sts, clock, monkeypatch):
    write_aws_files(
        home, f"[profile envrole]\nrole_arn = {role('R')}\ncredential_source = Environment\n"
    )
    env = make_env(
        home, fake_sts.url, AWS_ACCESS_KEY_ID=BASE_KEY, AWS_SECRET_ACCESS_KEY=BASE_SECRET
    )
    _resolve(home, fake_sts, clock, "envrole", env=env).get_frozen_credentials()
    assert fake_sts.count("AssumeRole") == 1
    # The source is gone, but the cached role credentials are still valid: no error, no call.
    env2 = make_env(home, fake_sts.url)
    creds = _resolve(home, fake_sts, clock, "envrole", env=env2).get_frozen_credentials()
    assert creds.access_key.startswith("ASIA")
    assert fake_sts.count("AssumeRole") == 1


def test_mfa_prompts_once_and_not_on_cache_hit(home, fake_sts, clock):
    serial = "arn:aws:iam::123456789012:mfa/alice"
    write_aws_files(
        home, f"[profile m]\nrole_arn = {role('M')}\nsource_profile = base\nmfa_serial = {serial}\n"
    )
    fake_sts.add_role(role("M"), mfa_serial=serial, mfa_code="123456")
    asked = []

    def prompter(s):
        asked.append(s)
        return "123456"

    _resolve(home, fake_sts, clock, "m", prompter=prompter).get_frozen_credentials()
    _resolve(home, fake_sts, clock, "m", prompter=prompter).get_frozen_credentials()
    assert asked == [serial]
    call = [c for c in fake_sts.calls if c.action == "AssumeRole"][0]
    assert call.params["SerialNumber"] == serial and call.params["TokenCode"] == "****"


def test_wrong_mfa_code_reads_as_access_denied_for_the_role(home, fake_sts, clock):
    serial = "arn:aws:iam::123456789012:mfa/alice"
    write_aws_files(
        home, f"[profile m]\nrole_arn = {role('M')}\nsource_profile = base\nmfa_serial = {serial}\n"
    )
    fake_sts.add_role(role("M"), mfa_serial=serial, mfa_code="123456")
    creds = _resolve(home, fake_sts, clock, "m", prompter=lambda s: "654321")
    with pytest.raises(AccessDeniedError) as err:
        creds.get_frozen_credentials()
    assert role("M") in str(err.value) and "AccessDenied" in str(err.value)
    assert "654321" not in str(err.value)


def test_bad_mfa_input_is_a_typed_error(home, fake_sts, clock):
    serial = "arn:aws:iam::123456789012:mfa/alice"
    write_aws_files(
        home, f"[profile m]\nrole_arn = {role('M')}\nsource_profile = base\nmfa_serial = {serial}\n"
    )
    creds = _resolve(home, fake_sts, clock, "m", prompter=lambda s: "")
    with pytest.raises(MFAError):
        creds.get_frozen_credentials()
    assert fake_sts.count("AssumeRole") == 0


def test_external_id_is_sent_and_a_wrong_one_denied(home, fake_sts, clock):
    fake_sts.add_role(role("X"), external_id="right-id")
    write_aws_files(
        home,
        f"[profile x]\nrole_arn = {role('X')}\nsource_profile = base\nexternal_id = wrong-id\n",
    )
    with pytest.raises(AccessDeniedError) as err:
        _resolve(home, fake_sts, clock, "x").get_frozen_credentials()
    assert role("X") in str(err.value)
    write_aws_files(
        home,
        f"[profile x]\nrole_arn = {role('X')}\nsource_profile = base\nexternal_id = right-id\n",
    )
    assert _resolve(home, fake_sts, clock, "x").get_frozen_credentials().token


def test_corrupt_cache_entry_is_a_miss_then_overwritten(home, fake_sts, clock):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    os.makedirs(cache_dir(home), mode=0o700)
    path = os.path.join(cache_dir(home), cache_key({"RoleArn": role("R")}) + ".json")
    with open(path, "w") as f:
        f.write('{"Credentials": {')
    _resolve(home, fake_sts, clock, "r").get_frozen_credentials()
    assert fake_sts.count("AssumeRole") == 1
    with open(path) as f:
        assert json.load(f)["Credentials"]["AccessKeyId"].startswith("ASIA")


def test_unwritable_cache_still_resolves_with_one_warning(home, fake_sts, clock, caplog):
    write_aws_files(home, TWO_HOP)
    os.makedirs(os.path.join(str(home), ".aws", "cli"))
    with open(cache_dir(home), "w") as f:  # a file where the directory should be
        f.write("not a directory")
    with caplog.at_level(logging.WARNING):
        creds = _resolve(home, fake_sts, clock, "dev").get_frozen_credentials()
    assert creds.token
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert BASE_SECRET not in warnings[0].getMessage()


def test_advisory_window_refreshes_once_in_background(home, fake_sts, clock):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    creds = _resolve(home, fake_sts, clock, "r")
    first = creds.get_frozen_credentials()
    clock.advance(minutes=50)  # 10 min left of 60: inside the 15-minute advisory window
    served = [creds.get_frozen_credentials() for _ in range(20)]
    assert all(c.access_key == first.access_key for c in served)
    assert background.wait_idle(10)
    assert fake_sts.count("AssumeRole") == 2
    assert creds.get_frozen_credentials().access_key != first.access_key


def test_refresh_picks_up_an_entry_another_process_wrote(home, fake_sts, clock):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    a = _resolve(home, fake_sts, clock, "r", background_refresh=False)
    first = a.get_frozen_credentials()
    clock.advance(minutes=50)
    # "another process" refreshes the entry first
    b = _resolve(home, fake_sts, clock, "r", background_refresh=False)
    b.refresh(force=True)
    assert fake_sts.count("AssumeRole") == 2
    newer = a.get_frozen_credentials()  # advisory refresh re-reads the cache first
    assert newer.access_key != first.access_key
    assert fake_sts.count("AssumeRole") == 2


def test_mfa_advisory_refresh_never_prompts_mandatory_does(home, fake_sts, clock):
    serial = "arn:aws:iam::123456789012:mfa/alice"
    write_aws_files(
        home, f"[profile m]\nrole_arn = {role('M')}\nsource_profile = base\nmfa_serial = {serial}\n"
    )
    asked = []
    creds = _resolve(
        home,
        fake_sts,
        clock,
        "m",
        prompter=lambda s: asked.append(s) or "123456",
        background_refresh=False,
    )
    first = creds.get_frozen_credentials()
    clock.advance(minutes=50)
    assert creds.get_frozen_credentials() == first
    assert len(asked) == 1
    clock.advance(minutes=9, seconds=30)  # 30 s left: mandatory
    assert creds.get_frozen_credentials().access_key != first.access_key
    assert len(asked) == 2


def test_explicit_profile_drops_env_provider_but_aws_profile_does_not(home, fake_sts, clock):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    env = make_env(
        home, fake_sts.url, AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="x", AWS_PROFILE="r"
    )
    from_env = awsroles.resolve(env=env, clock=clock)
    assert from_env.get_frozen_credentials().access_key == "AKIAENV"
    from_code = awsroles.resolve("r", env=env, clock=clock)
    assert from_code.get_frozen_credentials().access_key.startswith("ASIA")


def test_missing_profile_named_in_code_or_env(home, fake_sts, clock):
    write_aws_files(home, TWO_HOP)
    with pytest.raises(ProfileNotFoundError) as err:
        _resolve(home, fake_sts, clock, "nope")
    assert "nope" in str(err.value)
    with pytest.raises(ProfileNotFoundError):
        awsroles.resolve(env=make_env(home, AWS_PROFILE="nope"), clock=clock)


def test_nothing_configured(home, clock):
    with pytest.raises(NoCredentialsError):
        awsroles.resolve(env=make_env(home), clock=clock)


def test_memory_and_no_cache(home, fake_sts, clock):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    mem = MemoryCache()
    _resolve(home, fake_sts, clock, "r", cache=mem).get_frozen_credentials()
    _resolve(home, fake_sts, clock, "r", cache=mem).get_frozen_credentials()
    assert fake_sts.count("AssumeRole") == 1
    _resolve(home, fake_sts, clock, "r", cache=None).get_frozen_credentials()
    assert fake_sts.count("AssumeRole") == 2
    assert cache_files(home) == []


def test_threads_share_one_refresh(home, fake_sts, clock):
    write_aws_files(home, TWO_HOP)
    creds = _resolve(home, fake_sts, clock, "dev")
    out = []
    threads = [
        threading.Thread(target=lambda: out.append(creds.get_frozen_credentials()))
        for _ in range(12)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert len({c.access_key for c in out}) == 1
    assert fake_sts.count("AssumeRole") == 2


def test_sts_outage_after_success_keeps_serving(home, fake_sts, clock, caplog):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    creds = _resolve(home, fake_sts, clock, "r", background_refresh=False)
    first = creds.get_frozen_credentials()
    fake_sts.fail_next(50, status=503)
    clock.advance(minutes=59, seconds=20)  # mandatory window, 40 s left
    with caplog.at_level(logging.WARNING):
        assert creds.get_frozen_credentials() == first
    assert any("refresh failed" in r.getMessage() for r in caplog.records)


def test_multi_hop_mfa_prompts_each_hop_right_before_its_call(home, fake_sts, clock):
    inner_serial = "arn:aws:iam::123456789012:mfa/inner"
    outer_serial = "arn:aws:iam::123456789012:mfa/outer"
    write_aws_files(
        home,
        f"[profile inner]\nrole_arn = {role('In')}\nsource_profile = base\n"
        f"mfa_serial = {inner_serial}\n\n[profile outer]\nrole_arn = {role('Out')}\n"
        f"source_profile = inner\nmfa_serial = {outer_serial}\n",
    )
    events = []

    def prompter(serial):
        events.append(("prompt", serial, fake_sts.count("AssumeRole")))
        return "123456"

    _resolve(home, fake_sts, clock, "outer", prompter=prompter).get_frozen_credentials()
    # botocore asks outer first, then inner, then sends inner's call; we ask each hop just
    # before its own call
    assert events == [("prompt", inner_serial, 0), ("prompt", outer_serial, 1)]


def test_role_options_from_code_are_sent_and_keyed(home, fake_sts, clock):
    write_aws_files(home, TWO_HOP)
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
    }
    options = {
        "policy": policy,
        "policy_arns": ["arn:aws:iam::aws:policy/ReadOnlyAccess"],
        "tags": {"team": "blue"},
        "transitive_tag_keys": ["team"],
        "source_identity": "alice",
        "duration_seconds": 1800,
    }
    _resolve(home, fake_sts, clock, "dev", role_options=options).get_frozen_credentials()
    outer = [c for c in fake_sts.calls if c.action == "AssumeRole"][-1]
    assert outer.params["RoleArn"] == role("Dev")
    assert outer.params["PolicyArns.member.1.arn"] == "arn:aws:iam::aws:policy/ReadOnlyAccess"
    assert outer.params["Tags.member.1.Key"] == "team"
    assert outer.params["Tags.member.1.Value"] == "blue"
    assert outer.params["TransitiveTagKeys.member.1"] == "team"
    assert outer.params["SourceIdentity"] == "alice"
    assert outer.params["DurationSeconds"] == "1800"
    inner = [c for c in fake_sts.calls if c.action == "AssumeRole"][0]
    assert "Policy" not in inner.params  # options apply to the selected profile's role only
    # the options are part of the cache key, as botocore's extra_args are
    key = cache_key(
        {
            "RoleArn": role("Dev"),
            "RoleSessionName": "dev-session",
            "DurationSeconds": 1800,
            "Policy": __import__("json").dumps(policy),
            "PolicyArns": [{"arn": "arn:aws:iam::aws:policy/ReadOnlyAccess"}],
            "Tags": [{"Key": "team", "Value": "blue"}],
            "TransitiveTagKeys": ["team"],
            "SourceIdentity": "alice",
        }
    )
    assert key + ".json" in cache_files(home)


def test_bad_role_options(home, fake_sts, clock):
    write_aws_files(home, TWO_HOP)
    from awsroles.errors import InvalidConfigError

    for options in (
        {"nope": 1},
        {"policy": "{not json"},
        {"duration_seconds": 60},
        {"policy_arns": "arn:x"},
    ):
        with pytest.raises(InvalidConfigError):
            _resolve(home, fake_sts, clock, "dev", role_options=options)


def test_role_options_are_never_silently_dropped(home, fake_sts, clock):
    from awsroles.errors import InvalidConfigError

    write_aws_files(home, TWO_HOP)
    env = make_env(
        home,
        fake_sts.url,
        AWS_PROFILE="dev",
        AWS_ACCESS_KEY_ID="AKIAENV",
        AWS_SECRET_ACCESS_KEY="s",
    )
    with pytest.raises(InvalidConfigError) as err:
        awsroles.resolve(env=env, clock=clock, role_options={"policy_arns": ["arn:x"]})
    assert "env" in str(err.value)


@pytest.mark.parametrize(
    "options",
    [
        {"tags": [("k",)]},
        {"tags": "a=b"},
        {"policy_arns": None},
        {"role_session_name": 5},
        {"external_id": 123},
        {"source_identity": ["x"]},
    ],
)
def test_role_options_of_the_wrong_type(home, fake_sts, clock, options):
    from awsroles.errors import InvalidConfigError

    write_aws_files(home, TWO_HOP)
    with pytest.raises(InvalidConfigError):
        _resolve(home, fake_sts, clock, "dev", role_options=options)


def test_bad_lock_timeout(home, clock):
    from awsroles.errors import InvalidConfigError

    with pytest.raises(InvalidConfigError):
        awsroles.resolve(env=make_env(home), clock=clock, lock_timeout=-1)


def test_zero_mandatory_window_is_honoured_for_cache_entries(home, fake_sts, clock):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    _resolve(home, fake_sts, clock, "r").get_frozen_credentials()
    clock.advance(minutes=59, seconds=30)  # entry has 30 s left
    creds = _resolve(home, fake_sts, clock, "r", mandatory_timeout=0, advisory_timeout=0)
    creds.get_frozen_credentials()
    assert fake_sts.count("AssumeRole") == 1


def test_plan_reprs_hide_keys_and_commands():
    from awsroles.config.model import ProcessSource, RoleHop, StaticKeys

    text = (
        repr(StaticKeys("p", "AKIAFULLKEY123456", "sec"))
        + repr(ProcessSource("p", "/bin/helper --token=abc"))
        + repr(RoleHop("p", role("R"), external_id="ext-secretish"))
    )
    for hidden in ("AKIAFULLKEY123456", "--token=abc", "ext-secretish", "sec'"):
        assert hidden not in text
