"""MFA sessions end to end: ``awsroles_mfa_session_seconds = N`` on a role with ``mfa_serial``
makes one GetSessionToken with a code, kept in the shared cache, that the role (and every
role on the same keys, device and N) is assumed with, without a code, until it ends.

The role requires MFA at the FakeSTS (``add_role(..., mfa_serial=, mfa_code=)``), so an
AssumeRole signed with anything but the MFA session's credentials, and without a code, would
be refused: every success below proves the session carried the MFA context.
"""

from __future__ import annotations

import json
import logging
import os
import re
import stat
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest

import awsroles
from awsroles.cache.key import cache_key
from awsroles.errors import AccessDeniedError, InvalidConfigError
from awsroles.refresh import background
from awsroles.resolver.mfa_session import session_cache_args

from helpers import (
    ACCOUNT,
    BASE_KEY,
    BASE_SECRET,
    cache_dir,
    cache_files,
    make_env,
    need_aws,
    role,
    write_aws_files,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
CODE = "123456"
ROLE = role("MfaAdmin")
OTHER = role("MfaReader")
SESSION_SECONDS = 43200
MFA_KEY = "awsroles_mfa_session_seconds"

MFA_PROFILE = f"""\
[profile mfa]
role_arn = {ROLE}
source_profile = base
mfa_serial = {SERIAL}
{MFA_KEY} = {SESSION_SECONDS}
"""
READER_PROFILE = f"""
[profile reader]
role_arn = {OTHER}
source_profile = base
mfa_serial = {SERIAL}
{MFA_KEY} = {SESSION_SECONDS}
"""

#: The MFA session's entry: named by the source key id, the device and the length.
SESSION_ENTRY = cache_key(session_cache_args(BASE_KEY, SERIAL, SESSION_SECONDS))
#: The role's entry under botocore's name for the profile (SerialNumber included), so the
#: AWS CLI finds it.
ROLE_ENTRY = cache_key({"RoleArn": ROLE, "SerialNumber": SERIAL})
READER_ENTRY = cache_key({"RoleArn": OTHER, "SerialNumber": SERIAL})
START = datetime(2030, 1, 1, tzinfo=timezone.utc)


class Codes:
    """A prompter that gives ``code`` and counts every time it is asked."""

    def __init__(self, code: str = CODE) -> None:
        self.code = code
        self.asked: list = []

    def __call__(self, serial: str) -> str:
        self.asked.append(serial)
        return self.code


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def mfa_role(fake_sts):
    fake_sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    fake_sts.add_role(OTHER, mfa_serial=SERIAL, mfa_code=CODE)
    return fake_sts


def _resolve(home, sts, clock, profile="mfa", **kw):
    env = kw.pop("env", None) or make_env(home, sts.url)
    return awsroles.resolve(profile, env=env, clock=clock, **kw)


def _entry(home, name):
    with open(os.path.join(cache_dir(home), name + ".json")) as f:
        return json.load(f)


def _mode(home, name):
    return stat.S_IMODE(os.stat(os.path.join(cache_dir(home), name + ".json")).st_mode)


def _actions(sts, since=0):
    return [c.action for c in sts.calls[since:]]


def _session_key(home):
    return _entry(home, SESSION_ENTRY)["Credentials"]["AccessKeyId"]


# --- 1. the first resolve ----------------------------------------------------------------------


def test_first_resolve_makes_one_session_and_assumes_the_role_with_it(
    home, mfa_role, clock, umask022
):
    write_aws_files(home, MFA_PROFILE)
    codes = Codes()
    creds = _resolve(home, mfa_role, clock, prompter=codes).get_frozen_credentials()

    assert codes.asked == [SERIAL]
    assert _actions(mfa_role) == ["GetSessionToken", "AssumeRole"]
    gst, assume = mfa_role.calls
    assert gst.status == 200 and assume.status == 200
    assert gst.access_key == BASE_KEY  # signed with the long-lived keys
    assert gst.params["DurationSeconds"] == str(SESSION_SECONDS)
    assert gst.params["SerialNumber"] == SERIAL
    assert gst.params["TokenCode"] == "****"
    # the role is assumed with the session's keys, and no code travels with it
    assert assume.params["RoleArn"] == ROLE
    assert "SerialNumber" not in assume.params and "TokenCode" not in assume.params
    assert assume.access_key.startswith("ASIA") and assume.access_key != BASE_KEY

    # two entries: the session's and the role's (botocore's name), owner-only
    assert set(cache_files(home)) == {SESSION_ENTRY + ".json", ROLE_ENTRY + ".json"}
    assert _mode(home, SESSION_ENTRY) == 0o600 and _mode(home, ROLE_ENTRY) == 0o600
    session = _entry(home, SESSION_ENTRY)["Credentials"]
    assert set(session) >= {"AccessKeyId", "SecretAccessKey", "SessionToken", "Expiration"}
    assert session["AccessKeyId"] == assume.access_key
    assert session["Expiration"] == "2030-01-01T12:00:00Z"
    role_entry = _entry(home, ROLE_ENTRY)["Credentials"]
    assert role_entry["AccessKeyId"] == creds.access_key
    assert role_entry["SecretAccessKey"] == creds.secret_key
    assert role_entry["SessionToken"] == creds.token
    assert role_entry["Expiration"] == "2030-01-01T01:00:00Z"
    assert creds.expiry == START + timedelta(hours=1)
    assert creds.access_key != session["AccessKeyId"]  # the role's own set, not the session


def test_the_session_entry_name_is_the_documented_key():
    # the sha1 of the sorted-key JSON (json.dumps' default separators, as botocore names a
    # role's entry) of the GetSessionToken arguments and the source key id
    import hashlib

    text = json.dumps(
        {
            "AccessKeyId": BASE_KEY,
            "Action": "GetSessionToken",
            "DurationSeconds": SESSION_SECONDS,
            "SerialNumber": SERIAL,
        },
        sort_keys=True,
    )
    assert SESSION_ENTRY == hashlib.sha1(text.encode()).hexdigest()


def test_a_second_resolve_is_served_from_the_role_entry(home, mfa_role, clock):
    write_aws_files(home, MFA_PROFILE)
    first = _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    calls = len(mfa_role.calls)
    codes = Codes()
    again = _resolve(home, mfa_role, clock, prompter=codes).get_frozen_credentials()
    assert again.access_key == first.access_key
    assert codes.asked == [] and len(mfa_role.calls) == calls


# --- 2. the AWS CLI reads the role's entry -----------------------------------------------------


@pytest.mark.e2e
def test_the_aws_cli_uses_the_role_entry_without_asking(home, sts):
    aws = need_aws()
    sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    write_aws_files(home, MFA_PROFILE)
    mine = awsroles.resolve("mfa", env=make_env(home, sts.url), prompter=Codes())
    mine = mine.get_frozen_credentials()
    assert _actions(sts) == ["GetSessionToken", "AssumeRole"]

    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
    env.update(make_env(home, sts.url))
    before = len(sts.calls)
    proc = subprocess.run(
        [aws, "sts", "get-caller-identity", "--profile", "mfa", "--output", "json"],
        env=env,
        cwd=str(home),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert "MFA" not in proc.stderr  # never asked
    identity = json.loads(proc.stdout)
    assert identity["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/MfaAdmin/")
    new = sts.calls[before:]
    assert [c.action for c in new] == ["GetCallerIdentity"]
    assert new[0].access_key == mine.access_key and new[0].status == 200
    assert sts.count("AssumeRole") == 1 and sts.count("GetSessionToken") == 1


# --- 3. every role on the same source, device and length rides the same session ---------------


def test_another_role_on_the_same_keys_and_device_rides_the_session(home, mfa_role, clock):
    write_aws_files(home, MFA_PROFILE + READER_PROFILE)
    _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    session = _session_key(home)
    before = len(mfa_role.calls)

    codes = Codes()
    reader = _resolve(home, mfa_role, clock, "reader", prompter=codes)
    creds = reader.get_frozen_credentials()
    assert codes.asked == []
    new = mfa_role.calls[before:]
    assert [c.action for c in new] == ["AssumeRole"]
    assert new[0].params["RoleArn"] == OTHER and new[0].access_key == session
    assert "SerialNumber" not in new[0].params and "TokenCode" not in new[0].params
    assert _entry(home, READER_ENTRY)["Credentials"]["AccessKeyId"] == creds.access_key
    assert mfa_role.count("GetSessionToken") == 1

    # a fresh resolve after the reader's entry is gone: still no code, one AssumeRole
    os.remove(os.path.join(cache_dir(home), READER_ENTRY + ".json"))
    codes = Codes()
    again = _resolve(home, mfa_role, clock, "reader", prompter=codes).get_frozen_credentials()
    assert codes.asked == [] and again.access_key != creds.access_key
    assert _actions(mfa_role, before) == ["AssumeRole", "AssumeRole"]
    assert mfa_role.calls[-1].access_key == session
    assert mfa_role.count("GetSessionToken") == 1


def test_a_role_resolved_first_makes_the_session_the_other_then_rides(home, mfa_role, clock):
    # the session does not belong to the profile that made it: either order works
    write_aws_files(home, MFA_PROFILE + READER_PROFILE)
    first = Codes()
    _resolve(home, mfa_role, clock, "reader", prompter=first).get_frozen_credentials()
    second = Codes()
    _resolve(home, mfa_role, clock, "mfa", prompter=second).get_frozen_credentials()
    assert first.asked == [SERIAL] and second.asked == []
    assert _actions(mfa_role) == ["GetSessionToken", "AssumeRole", "AssumeRole"]
    assert set(cache_files(home)) == {
        SESSION_ENTRY + ".json",
        ROLE_ENTRY + ".json",
        READER_ENTRY + ".json",
    }


def test_another_session_length_is_another_session(home, mfa_role, clock):
    write_aws_files(
        home,
        MFA_PROFILE + READER_PROFILE.replace(f"= {SESSION_SECONDS}", "= 3600"),
    )
    _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    codes = Codes()
    _resolve(home, mfa_role, clock, "reader", prompter=codes).get_frozen_credentials()
    assert codes.asked == [SERIAL]
    gsts = [c for c in mfa_role.calls if c.action == "GetSessionToken"]
    assert [c.params["DurationSeconds"] for c in gsts] == [str(SESSION_SECONDS), "3600"]
    short = cache_key(session_cache_args(BASE_KEY, SERIAL, 3600))
    assert short + ".json" in cache_files(home) and SESSION_ENTRY + ".json" in cache_files(home)


# --- 4. a long-running process -----------------------------------------------------------------


def _get(creds, background_refresh):
    """What a caller gets at this moment; with background refresh, after the refresh it
    started has run."""
    first = creds.get_frozen_credentials()
    if not background_refresh:
        return first
    assert background.wait_idle(10)
    return creds.get_frozen_credentials()


@pytest.mark.parametrize("background_refresh", [True, False], ids=["background", "inline"])
def test_a_long_running_process_asks_once_per_session(home, mfa_role, clock, background_refresh):
    write_aws_files(home, MFA_PROFILE)
    codes = Codes()
    creds = _resolve(home, mfa_role, clock, prompter=codes, background_refresh=background_refresh)
    held = creds.get_frozen_credentials()
    session = _session_key(home)
    assert codes.asked == [SERIAL] and _actions(mfa_role) == ["GetSessionToken", "AssumeRole"]

    def step(minutes):
        """Move to ``minutes`` after the start, read the credentials, and check that a new
        role set came from an AssumeRole signed with the held session, without a code."""
        nonlocal held
        calls = len(mfa_role.calls)
        clock.set(START + timedelta(minutes=minutes))
        new = _get(creds, background_refresh)
        assert new.access_key != held.access_key, f"not refreshed at +{minutes} min"
        assert new.expiry > clock.now()
        made = mfa_role.calls[calls:]
        assert [c.action for c in made] == ["AssumeRole"], f"at +{minutes} min"
        assert made[0].access_key == session and made[0].status == 200
        assert "TokenCode" not in made[0].params
        held = new

    step(61)  # past the role's expiry (1 h)
    step(111)  # 10 min left: the role's advisory window (15 min for a 1 h set)
    step(172)  # past the second role's expiry
    assert codes.asked == [SERIAL]
    assert mfa_role.count("GetSessionToken") == 1

    # the session's last hour (its advisory window): the held session keeps being used, and
    # neither the role's refresh nor the session's own background refresh asks
    step(665)  # the role long expired, the session 55 min left
    step(715)  # the role's advisory window, the session 5 min left
    assert background.wait_idle(10)
    assert codes.asked == [SERIAL]
    assert mfa_role.count("GetSessionToken") == 1
    assert _session_key(home) == session

    # past the session's end (12 h), the role's next mandatory refresh makes a new session:
    # one code, one GetSessionToken, then the role with the new session
    calls = len(mfa_role.calls)
    clock.set(START + timedelta(minutes=776))  # the role set from +715 min has expired
    new = creds.get_frozen_credentials()
    assert codes.asked == [SERIAL, SERIAL]
    made = mfa_role.calls[calls:]
    assert [c.action for c in made] == ["GetSessionToken", "AssumeRole"]
    assert all(c.status == 200 for c in made)  # the ended session was never sent
    assert made[0].access_key == BASE_KEY
    fresh_session = _session_key(home)
    assert fresh_session != session and made[1].access_key == fresh_session
    assert new.access_key != held.access_key and new.expiry > clock.now()
    # and it is held: the next read asks nothing
    assert creds.get_frozen_credentials().access_key == new.access_key
    assert background.wait_idle(10)
    assert codes.asked == [SERIAL, SERIAL] and mfa_role.count("GetSessionToken") == 2


def test_an_advisory_refresh_never_asks_for_a_new_session(home, mfa_role, clock):
    # A 15 min session under a 1 h role: the session has ended while the role is inside its
    # advisory window. That refresh (in the background) cannot make a new session without a
    # code, so it keeps the held role set; the mandatory refresh then asks once.
    write_aws_files(home, MFA_PROFILE.replace(f"= {SESSION_SECONDS}", "= 900"))
    codes = Codes()
    creds = _resolve(home, mfa_role, clock, prompter=codes, background_refresh=False)
    held = creds.get_frozen_credentials()
    assert codes.asked == [SERIAL]
    calls = len(mfa_role.calls)
    clock.set(START + timedelta(minutes=50))  # the session ended 35 min ago, the role 10 left
    assert creds.get_frozen_credentials().access_key == held.access_key
    assert creds.refresh(force=True).access_key == held.access_key
    assert codes.asked == [SERIAL] and len(mfa_role.calls) == calls
    clock.set(START + timedelta(minutes=59, seconds=30))  # the role's mandatory window
    new = creds.get_frozen_credentials()
    assert new.access_key != held.access_key
    assert codes.asked == [SERIAL, SERIAL]
    assert _actions(mfa_role, calls) == ["GetSessionToken", "AssumeRole"]


# --- 5. many processes on a cold cache ---------------------------------------------------------

MFA_SCRIPT = r"""
import sys
with open(sys.argv[1], "a") as f:
    f.write("asked\n")
print("123456")
"""

WORKER = r"""
import os, sys, time
from awsroles.cli.main import main
gate, profile = sys.argv[1:]
while not os.path.exists(gate):
    time.sleep(0.002)
sys.exit(main(["export", "-p", profile]))
"""


def _run_together(home, tmp_path, sts, profiles, mfa_delay=0.0):
    """``awsroles export -p P`` for each of ``profiles``, in processes started together on
    a cold cache, the code from an mfa_process that logs each run. Returns each process's
    access key and the mfa_process runs."""
    script = tmp_path / "mfa_code.py"
    script.write_text(
        MFA_SCRIPT.replace("import sys", f"import sys, time\ntime.sleep({mfa_delay})")
    )
    counter = tmp_path / "asked.log"
    command = f"mfa_process = {sys.executable} {script} {counter}\n"
    config = MFA_PROFILE + command + READER_PROFILE + command
    write_aws_files(home, config)
    env = dict(make_env(home, sts.url))
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), PYTHONPATH=ROOT, LANG="C.UTF-8")
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(gate), profile],
            env=env,
            stdin=subprocess.DEVNULL,  # no code from stdin: only mfa_process can give one
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # no controlling terminal to ask on either
        )
        for profile in profiles
    ]
    time.sleep(1.0)  # let every interpreter start and spin on the gate
    gate.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    keys = []
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
        assert BASE_SECRET not in out + err
        found = re.search(r"AWS_ACCESS_KEY_ID=(\S+)", out)
        assert found, out
        keys.append(found.group(1))
    runs = counter.read_text().splitlines() if counter.exists() else []
    return keys, runs


@pytest.mark.e2e
def test_eight_processes_make_one_session_and_one_role(home, tmp_path, sts):
    sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    keys, runs = _run_together(home, tmp_path, sts, ["mfa"] * 8)
    assert runs == ["asked"]  # one mfa_process run
    assert sts.count("GetSessionToken") == 1 and sts.count("AssumeRole") == 1
    assert set(keys) == {_entry(home, ROLE_ENTRY)["Credentials"]["AccessKeyId"]}
    assert set(cache_files(home)) == {SESSION_ENTRY + ".json", ROLE_ENTRY + ".json"}


@pytest.mark.e2e
def test_processes_of_two_roles_share_one_session(home, tmp_path, sts):
    # while one process types the code (a slow mfa_process), the other role's processes wait
    # for the session instead of making their own
    sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    sts.add_role(OTHER, mfa_serial=SERIAL, mfa_code=CODE)
    profiles = ["mfa", "reader"] * 3
    keys, runs = _run_together(home, tmp_path, sts, profiles, mfa_delay=0.5)
    assert runs == ["asked"]
    assert sts.count("GetSessionToken") == 1 and sts.count("AssumeRole") == 2
    session = _session_key(home)
    assert all(c.access_key == session for c in sts.calls if c.action == "AssumeRole")
    by_profile = {
        "mfa": _entry(home, ROLE_ENTRY)["Credentials"]["AccessKeyId"],
        "reader": _entry(home, READER_ENTRY)["Credentials"]["AccessKeyId"],
    }
    assert keys == [by_profile[p] for p in profiles]


# --- 6. what cannot make a session -------------------------------------------------------------


def _config_path(home):
    return os.path.join(str(home), ".aws", "config")


def _line_of(home, key):
    with open(_config_path(home)) as f:
        for number, line in enumerate(f, 1):
            if line.split("=")[0].strip() == key:
                return number
    raise AssertionError(key)


@pytest.mark.parametrize("source", ["role", "session-token", "Ec2InstanceMetadata", "EcsContainer"])
def test_a_source_that_is_not_long_lived_keys_is_refused_before_any_call(
    home, mfa_role, clock, source
):
    said = {"role": "'mid'", "session-token": "session token"}.get(source, source)
    if source == "role":
        config = (
            f"[profile mid]\nrole_arn = {role('Mid')}\nsource_profile = base\n\n"
            + MFA_PROFILE.replace("source_profile = base", "source_profile = mid")
        )
        write_aws_files(home, config)
    elif source != "session-token":
        write_aws_files(
            home,
            MFA_PROFILE.replace("source_profile = base", f"credential_source = {source}"),
        )
    else:
        write_aws_files(
            home,
            MFA_PROFILE,
            f"[base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {BASE_SECRET}\n"
            "aws_session_token = a-session-token-value\n",
        )
    codes = Codes()
    with pytest.raises(InvalidConfigError) as err:
        _resolve(home, mfa_role, clock, prompter=codes).get_frozen_credentials()
    text = str(err.value)
    assert err.value.key == MFA_KEY and MFA_KEY in text
    assert err.value.profile == "mfa" and "profile 'mfa'" in text
    assert err.value.file == _config_path(home) and err.value.line == _line_of(home, MFA_KEY)
    assert said in text
    assert "a-session-token-value" not in text
    assert mfa_role.calls == [] and codes.asked == [] and cache_files(home) == []


ENV_PROFILE = MFA_PROFILE.replace("source_profile = base", "credential_source = Environment")


def test_environment_keys_with_a_session_token_are_refused(home, mfa_role, clock):
    write_aws_files(home, ENV_PROFILE)
    env = make_env(
        home,
        mfa_role.url,
        AWS_ACCESS_KEY_ID=BASE_KEY,
        AWS_SECRET_ACCESS_KEY=BASE_SECRET,
        AWS_SESSION_TOKEN="env-session-token-value",
    )
    codes = Codes()
    with pytest.raises(InvalidConfigError) as err:
        _resolve(home, mfa_role, clock, env=env, prompter=codes).get_frozen_credentials()
    text = str(err.value)
    assert err.value.key == MFA_KEY and MFA_KEY in text and "profile 'mfa'" in text
    assert "env-session-token-value" not in text and BASE_SECRET not in text
    assert mfa_role.calls == [] and codes.asked == [] and cache_files(home) == []


def test_environment_keys_without_a_session_token_make_the_session(home, mfa_role, clock):
    write_aws_files(home, ENV_PROFILE)
    env = make_env(
        home, mfa_role.url, AWS_ACCESS_KEY_ID=BASE_KEY, AWS_SECRET_ACCESS_KEY=BASE_SECRET
    )
    codes = Codes()
    creds = _resolve(home, mfa_role, clock, env=env, prompter=codes).get_frozen_credentials()
    assert codes.asked == [SERIAL] and creds.access_key.startswith("ASIA")
    assert _actions(mfa_role) == ["GetSessionToken", "AssumeRole"]
    assert mfa_role.calls[0].access_key == BASE_KEY
    # named by the environment's key id, as for keys from a file
    assert SESSION_ENTRY + ".json" in cache_files(home)


@pytest.mark.parametrize("value", ["899", "129601", "0", "-900", "12h", "43200.0", "1e4", "''"])
def test_a_session_length_out_of_range_or_not_a_number(home, mfa_role, clock, value):
    write_aws_files(home, MFA_PROFILE.replace(f"= {SESSION_SECONDS}", f"= {value}"))
    with pytest.raises(InvalidConfigError) as err:
        _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    text = str(err.value)
    assert err.value.file == _config_path(home) and _config_path(home) in text
    assert err.value.line == _line_of(home, MFA_KEY) and f"line {err.value.line}" in text
    assert err.value.key == MFA_KEY and f"key '{MFA_KEY}'" in text
    assert err.value.profile == "mfa" and value in text
    assert mfa_role.calls == []


@pytest.mark.parametrize("value", [900, 129600])
def test_the_session_lengths_at_the_limits_are_taken(home, mfa_role, clock, value):
    write_aws_files(home, MFA_PROFILE.replace(f"= {SESSION_SECONDS}", f"= {value}"))
    _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    assert mfa_role.calls[0].params["DurationSeconds"] == str(value)
    entry = _entry(home, cache_key(session_cache_args(BASE_KEY, SERIAL, value)))
    expected = START + timedelta(seconds=value)
    assert entry["Credentials"]["Expiration"] == expected.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_the_session_key_without_mfa_serial_is_an_error(home, mfa_role, clock):
    write_aws_files(home, MFA_PROFILE.replace(f"mfa_serial = {SERIAL}\n", ""))
    with pytest.raises(InvalidConfigError) as err:
        _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    assert err.value.key == MFA_KEY and err.value.profile == "mfa"
    assert "mfa_serial" in str(err.value)
    assert err.value.file == _config_path(home) and err.value.line == _line_of(home, MFA_KEY)
    assert mfa_role.calls == []


@pytest.mark.parametrize("with_serial", [True, False], ids=["mfa_serial", "no-mfa_serial"])
def test_the_session_key_on_a_profile_that_is_not_a_role_is_an_error(
    home, mfa_role, clock, with_serial
):
    # The key makes the role ride an MFA session; on a profile with no role_arn there is no
    # role and no session is made, so the caller would get the bare long-lived keys, without
    # the MFA context it asked for. Like the key without mfa_serial, that is a config error
    # naming the profile and key, not a silent no-op.
    serial = f"mfa_serial = {SERIAL}\n" if with_serial else ""
    write_aws_files(
        home,
        f"[profile keys]\naws_access_key_id = {BASE_KEY}\n"
        f"aws_secret_access_key = {BASE_SECRET}\n{serial}{MFA_KEY} = {SESSION_SECONDS}\n",
        "",
    )
    codes = Codes()
    with pytest.raises(InvalidConfigError) as err:
        _resolve(home, mfa_role, clock, "keys", prompter=codes).get_frozen_credentials()
    assert err.value.key == MFA_KEY and err.value.profile == "keys"
    assert BASE_SECRET not in str(err.value)
    assert mfa_role.calls == []


def test_the_session_key_on_the_source_profile_is_an_error(home, mfa_role, clock):
    # Put on the keys' profile rather than on the role, the key would be ignored and the role
    # asked for with a code every time: the error says where it belongs.
    write_aws_files(
        home,
        f"[profile mfa]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {SERIAL}\n",
        f"[base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {BASE_SECRET}\n"
        f"{MFA_KEY} = {SESSION_SECONDS}\n",
    )
    with pytest.raises(InvalidConfigError) as err:
        _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    assert err.value.key == MFA_KEY and err.value.profile == "base"
    assert "role profile" in (err.value.hint or "")
    assert mfa_role.calls == []


def test_a_wrong_code_is_access_denied_for_get_session_token(home, mfa_role, clock):
    write_aws_files(home, MFA_PROFILE)
    codes = Codes("654321")
    creds = _resolve(home, mfa_role, clock, prompter=codes)
    with pytest.raises(AccessDeniedError) as err:
        creds.get_frozen_credentials()
    text = str(err.value)
    assert err.value.operation == "GetSessionToken" and "GetSessionToken" in text
    assert err.value.code == "AccessDenied"
    assert "MFA code" in (err.value.hint or "") and "MFA code" in text
    assert "654321" not in text and BASE_SECRET not in text
    assert codes.asked == [SERIAL]
    assert _actions(mfa_role) == ["GetSessionToken"]  # the role was never tried
    assert cache_files(home) == []  # nothing cached

    # the next resolve with the right code works (nothing of the failure was kept)
    right = Codes()
    _resolve(home, mfa_role, clock, prompter=right).get_frozen_credentials()
    assert right.asked == [SERIAL]
    assert set(cache_files(home)) == {SESSION_ENTRY + ".json", ROLE_ENTRY + ".json"}


# --- 7. the session's credentials rejected as expired ------------------------------------------


@pytest.mark.parametrize("how", ["expiry", "invalidate"])
def test_an_expired_token_for_the_session_drops_it_and_makes_a_new_one(
    home, mfa_role, clock, caplog, how
):
    write_aws_files(home, MFA_PROFILE)
    codes = Codes()
    creds = _resolve(home, mfa_role, clock, prompter=codes, background_refresh=False)
    held = creds.get_frozen_credentials()
    session = _session_key(home)
    # STS no longer takes the session (revoked), though its entry is valid by the clock
    mfa_role.expire(session)
    calls = len(mfa_role.calls)
    if how == "expiry":
        clock.set(START + timedelta(minutes=61))  # the role must refresh
    else:
        clock.set(START + timedelta(minutes=5))
        assert creds.invalidate(held.access_key)  # as after a service call was refused
    with caplog.at_level(logging.INFO, logger="awsroles"):
        new = creds.get_frozen_credentials()
    assert new.access_key != held.access_key
    made = mfa_role.calls[calls:]
    assert [(c.action, c.status) for c in made] == [
        ("AssumeRole", 400),  # ExpiredToken for the session's keys
        ("GetSessionToken", 200),
        ("AssumeRole", 200),
    ]
    assert made[0].access_key == session
    assert codes.asked == [SERIAL, SERIAL]  # once for the new session
    fresh = _session_key(home)
    assert fresh != session and made[2].access_key == fresh
    assert any(
        "deleted cache entry" in r.getMessage() and SESSION_ENTRY in r.getMessage()
        for r in caplog.records
    ), [r.getMessage() for r in caplog.records]
    assert mfa_role.count("GetSessionToken") == 2


def test_an_expired_session_entry_is_deleted_even_when_no_new_one_can_be_made(
    home, mfa_role, clock
):
    # The new session cannot be made (no code): the rejected entry is gone all the same, so
    # no other process takes it again.
    write_aws_files(home, MFA_PROFILE)
    codes = Codes()
    creds = _resolve(home, mfa_role, clock, prompter=codes, background_refresh=False)
    creds.get_frozen_credentials()
    mfa_role.expire(_session_key(home))
    clock.set(START + timedelta(minutes=61))
    codes.code = "not-a-code"
    with pytest.raises(awsroles.errors.MFAError):
        creds.get_frozen_credentials()
    assert SESSION_ENTRY + ".json" not in cache_files(home)
    assert mfa_role.count("GetSessionToken") == 1


@pytest.mark.parametrize("background_refresh", [True, False], ids=["background", "inline"])
def test_an_expired_session_found_by_an_advisory_refresh_waits_for_the_mandatory_one(
    home, mfa_role, clock, background_refresh
):
    # The advisory (background) refresh of the role finds the session rejected: it drops the
    # session's entry but cannot ask for a code, so the held role set is kept; the mandatory
    # refresh then asks once and makes the new session.
    write_aws_files(home, MFA_PROFILE)
    codes = Codes()
    creds = _resolve(home, mfa_role, clock, prompter=codes, background_refresh=background_refresh)
    held = creds.get_frozen_credentials()
    session = _session_key(home)
    mfa_role.expire(session)
    clock.set(START + timedelta(minutes=50))  # the role's advisory window
    assert _get(creds, background_refresh).access_key == held.access_key
    assert codes.asked == [SERIAL]
    assert _actions(mfa_role)[2:] == ["AssumeRole"] and mfa_role.calls[2].status == 400
    assert SESSION_ENTRY + ".json" not in cache_files(home)  # the rejected session is gone
    assert ROLE_ENTRY + ".json" in cache_files(home)  # the role's own set was not rejected

    clock.set(START + timedelta(minutes=59, seconds=30))  # the role's mandatory window
    new = creds.get_frozen_credentials()
    assert new.access_key != held.access_key
    assert codes.asked == [SERIAL, SERIAL]
    assert _actions(mfa_role)[3:] == ["GetSessionToken", "AssumeRole"]
    assert mfa_role.calls[-1].access_key == _session_key(home) != session


# --- 8. FakeSTS's GetSessionToken --------------------------------------------------------------


@pytest.fixture
def boto(clean_env):
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    def client(sts, key=BASE_KEY, secret=BASE_SECRET, token=None):
        return boto3.session.Session().client(
            "sts",
            endpoint_url=sts.url,
            region_name="us-east-1",
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            aws_session_token=token,
            config=Config(parameter_validation=False, retries={"max_attempts": 1}),
        )

    return client


def _fails(call, code, words):
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as err:
        call()
    error = err.value.response["Error"]
    assert error["Code"] == code, error
    assert words in error["Message"], error
    return error


def _as_keys(response):
    c = response["Credentials"]
    return c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"]


@pytest.mark.e2e
def test_fake_sts_refuses_get_session_token_with_session_credentials(sts, boto):
    sts.add_mfa_device(SERIAL, CODE)
    base = boto(sts)
    session = _as_keys(base.get_session_token(SerialNumber=SERIAL, TokenCode=CODE))
    refused = "Cannot call GetSessionToken with session credentials"
    _fails(lambda: boto(sts, *session).get_session_token(), "AccessDenied", refused)
    assumed = _as_keys(base.assume_role(RoleArn=role("Plain"), RoleSessionName="s1"))
    _fails(lambda: boto(sts, *assumed).get_session_token(), "AccessDenied", refused)
    # and the codes never reach the record
    assert all(c.params.get("TokenCode") in (None, "****") for c in sts.calls)
    assert sts.calls[0].params["TokenCode"] == "****"


@pytest.mark.e2e
def test_fake_sts_wants_serial_and_code_together(sts, boto):
    base = boto(sts)
    both = "must provide both MFA serial number and one time pass code"
    _fails(lambda: base.get_session_token(SerialNumber=SERIAL), "AccessDenied", both)
    _fails(lambda: base.get_session_token(TokenCode=CODE), "AccessDenied", both)
    assert sts.count("GetSessionToken", status=200) == 0


@pytest.mark.e2e
@pytest.mark.parametrize("seconds", [899, 129601])
def test_fake_sts_refuses_session_lengths_out_of_range(sts, boto, seconds):
    _fails(
        lambda: boto(sts).get_session_token(DurationSeconds=seconds),
        "ValidationError",
        "durationSeconds",
    )


@pytest.mark.e2e
@pytest.mark.parametrize("seconds", [900, 129600, None])
def test_fake_sts_takes_session_lengths_in_range(sts, boto, seconds):
    kw = {} if seconds is None else {"DurationSeconds": seconds}
    before = datetime.now(timezone.utc)
    response = boto(sts).get_session_token(**kw)
    expiry = response["Credentials"]["Expiration"]
    lasts = (expiry - before).total_seconds()
    expected = 43200 if seconds is None else seconds
    assert expected - 5 <= lasts <= expected + 5


@pytest.mark.e2e
def test_fake_sts_checks_the_code_of_a_known_device(sts, boto):
    sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    base = boto(sts)
    _fails(
        lambda: base.get_session_token(SerialNumber=SERIAL, TokenCode="654321"),
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code",
    )
    other = f"arn:aws:iam::{ACCOUNT}:mfa/bob"
    sts.add_mfa_device(other, "111111")
    _fails(
        lambda: base.get_session_token(SerialNumber=other, TokenCode=CODE),
        "AccessDenied",
        "invalid MFA one time pass code",
    )
    assert base.get_session_token(SerialNumber=other, TokenCode="111111")["Credentials"]
    # a device never added takes any six digits, and nothing else
    unknown = f"arn:aws:iam::{ACCOUNT}:mfa/carol"
    assert base.get_session_token(SerialNumber=unknown, TokenCode="000000")["Credentials"]
    _fails(
        lambda: base.get_session_token(SerialNumber=unknown, TokenCode="12345"),
        "ValidationError",
        "tokenCode",
    )


@pytest.mark.e2e
def test_a_role_requiring_mfa_takes_an_mfa_session_but_not_a_plain_one(sts, boto):
    sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    base = boto(sts)
    denied = f"is not authorized to perform: sts:AssumeRole on resource: {ROLE}"
    _fails(lambda: base.assume_role(RoleArn=ROLE, RoleSessionName="s1"), "AccessDenied", denied)

    plain = _as_keys(base.get_session_token())
    _fails(
        lambda: boto(sts, *plain).assume_role(RoleArn=ROLE, RoleSessionName="s1"),
        "AccessDenied",
        denied,
    )

    with_mfa = _as_keys(base.get_session_token(SerialNumber=SERIAL, TokenCode=CODE))
    assumed = boto(sts, *with_mfa).assume_role(RoleArn=ROLE, RoleSessionName="s1")
    assert assumed["AssumedRoleUser"]["Arn"] == (f"arn:aws:sts::{ACCOUNT}:assumed-role/MfaAdmin/s1")
    # the session is the user's: its identity is the IAM user
    who = boto(sts, *with_mfa).get_caller_identity()
    assert who["Arn"] == f"arn:aws:iam::{ACCOUNT}:user/base-user"
    # the MFA context is the session's: a role assumed with it does not pass it on
    sts.add_role(OTHER, mfa_serial=SERIAL, mfa_code=CODE)
    roled = _as_keys(assumed)
    _fails(
        lambda: boto(sts, *roled).assume_role(RoleArn=OTHER, RoleSessionName="s2"),
        "AccessDenied",
        denied.replace(ROLE, OTHER),
    )


# --- 9. explain --------------------------------------------------------------------------------


def test_explain_shows_the_session_state(home, mfa_role, clock):
    write_aws_files(home, MFA_PROFILE)
    env = make_env(home, mfa_role.url)
    before = awsroles.explain("mfa", env=env, clock=clock)
    assert "MFA:" in before
    session_line = [line for line in before.splitlines() if "mfa: MFA session of 43200 s" in line]
    assert len(session_line) == 1 and "a code will be asked once" in session_line[0]
    assert SESSION_ENTRY in session_line[0]
    assert mfa_role.calls == []  # explain makes no call

    creds = _resolve(home, mfa_role, clock, prompter=Codes()).get_frozen_credentials()
    clock.advance(minutes=30)
    after = awsroles.explain("mfa", env=env, clock=clock)
    session_line = [line for line in after.splitlines() if "mfa: MFA session of 43200 s" in line]
    assert len(session_line) == 1
    assert "valid until 2030-01-01T12:00:00+00:00" in session_line[0]
    assert "690 min left" in session_line[0]
    assert "a code will be asked" not in after
    for secret in (BASE_SECRET, creds.secret_key, creds.token):
        assert secret not in before and secret not in after
    session = _entry(home, SESSION_ENTRY)["Credentials"]
    assert session["SecretAccessKey"] not in after and session["SessionToken"] not in after

    # in its last minute the session no longer counts: a code will be asked again
    clock.set(START + timedelta(hours=11, minutes=59, seconds=30))
    late = awsroles.explain("mfa", env=env, clock=clock)
    assert "a code will be asked once" in late
