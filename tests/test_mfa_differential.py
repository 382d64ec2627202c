"""awsroles and the AWS CLI / botocore on a role profile with a plain ``mfa_serial``.

Both sides run as real processes with no controlling terminal (``start_new_session=True``), so
getpass cannot open ``/dev/tty`` and reads the code from stdin, as ``echo CODE | aws ...`` does
in cron and CI. One FakeSTS on the real clock (the CLI signs and judges expiry with it) holds a
role that requires the MFA device and its current code. Each side gets its own HOME with the
same ``~/.aws`` files, so both start on a cold cache; the FakeSTS records every request (the
code itself shown as ``****``), which is what the two sides are compared on.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import subprocess
import sys
from typing import Dict, List, Optional

import botocore.session
import botocore.utils
import pytest

import awsroles
from awsroles.cache.key import cache_key

from helpers import (
    ACCOUNT,
    cache_dir,
    cache_files,
    make_env,
    need_aws,
    role,
    write_aws_files,
)

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
CODE = "123456"
WRONG = "654321"
ROLE = role("MfaRole")
PROMPT = f"Enter MFA code for {SERIAL}: "
GENERATED = re.compile(r"botocore-session-\d+")
MFA_DENIED = "MultiFactorAuthentication failed with invalid MFA one time pass code."
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")

#: Extra profile lines and the AssumeRole fields (besides RoleArn, RoleSessionName,
#: SerialNumber and TokenCode) they must add, identically on both sides.
OPTIONS = {
    "plain": ("", {}),
    "duration-and-external-id": (
        "duration_seconds = 1800\nexternal_id = ext-mfa\n",
        {"DurationSeconds": "1800", "ExternalId": "ext-mfa"},
    ),
}


def config(extra: str = "") -> str:
    return f"[profile mfa]\nrole_arn = {ROLE}\nsource_profile = base\nmfa_serial = {SERIAL}\n" + (
        extra
    )


@pytest.fixture
def aws_cli():
    return need_aws()


@pytest.fixture
def mfa_sts(sts):
    """The conftest FakeSTS (real clock, base user) with a role that requires the device."""
    sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    return sts


def require_options(sts, fields: Dict[str, str]) -> None:
    """A configured external_id is required by the role too, so it is checked, not just sent."""
    if "ExternalId" in fields:
        sts.add_role(ROLE, mfa_serial=SERIAL, mfa_code=CODE, external_id=fields["ExternalId"])


def homes(tmp_path, text: str):
    """Two HOMEs with the same files: one for the AWS CLI, one for awsroles."""
    out = []
    for name in ("home-cli", "home-awsroles"):
        home = tmp_path / name
        write_aws_files(home, text)
        out.append(home)
    return out


def _env(home, sts) -> Dict[str, str]:
    env = make_env(home, sts.url)
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8", PYTHONPATH=ROOT)
    return env


def _run(cmd: List[str], home, sts, stdin: Optional[str]) -> subprocess.CompletedProcess:
    """``cmd`` in a new session (no /dev/tty): ``stdin`` piped in, or /dev/null when None."""
    feed = {"input": stdin} if stdin is not None else {"stdin": subprocess.DEVNULL}
    return subprocess.run(
        cmd,
        env=_env(home, sts),
        cwd=str(home),
        capture_output=True,
        text=True,
        timeout=60,
        start_new_session=True,
        **feed,
    )


def run_cli(aws, home, sts, stdin: Optional[str]) -> subprocess.CompletedProcess:
    cmd = [aws, "sts", "get-caller-identity", "--profile", "mfa", "--output", "json"]
    return _run(cmd, home, sts, stdin)


def run_awsroles(home, sts, stdin: Optional[str]) -> subprocess.CompletedProcess:
    cmd = [PY, "-m", "awsroles", "export", "--profile", "mfa", "--format", "json"]
    return _run(cmd, home, sts, stdin)


def assume_calls(sts, start: int) -> List[Dict[str, str]]:
    return [dict(c.params) for c in sts.calls[start:] if c.action == "AssumeRole"]


def without_digits(params: Dict[str, str]) -> Dict[str, str]:
    """The generated session name differs by the second it was made in; both must have one."""
    out = dict(params)
    assert GENERATED.fullmatch(out["RoleSessionName"]), out["RoleSessionName"]
    out["RoleSessionName"] = "botocore-session-<digits>"
    return out


def read_entry(home, name: str) -> dict:
    with open(os.path.join(cache_dir(home), name), encoding="utf-8") as f:
        return json.load(f)


def shape(value):
    """Key order and value types of a cache entry (the values differ per call)."""
    if isinstance(value, dict):
        return [(k, shape(v)) for k, v in value.items()]
    return type(value).__name__


def shows_no_code(proc: subprocess.CompletedProcess, code: str) -> bool:
    """The code is not echoed anywhere (the account number, which holds 123456, aside)."""
    return code not in (proc.stdout + proc.stderr).replace(ACCOUNT, "<account>")


def error_lines(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if "awsroles: error:" in line]


# --- 1. the same AssumeRole call ----------------------------------------------------------------


@pytest.mark.parametrize("options", list(OPTIONS))
def test_the_same_assume_role_call_with_a_piped_code(aws_cli, mfa_sts, tmp_path, options):
    extra, fields = OPTIONS[options]
    require_options(mfa_sts, fields)
    home_cli, home_mine = homes(tmp_path, config(extra))

    start = len(mfa_sts.calls)
    cli = run_cli(aws_cli, home_cli, mfa_sts, CODE + "\n")
    assert cli.returncode == 0, cli.stderr
    (theirs,) = assume_calls(mfa_sts, start)

    start = len(mfa_sts.calls)
    mine_proc = run_awsroles(home_mine, mfa_sts, CODE + "\n")
    assert mine_proc.returncode == 0, mine_proc.stderr
    (mine,) = assume_calls(mfa_sts, start)
    assert [c.status for c in mfa_sts.calls if c.action == "AssumeRole"] == [200, 200]

    expected = {
        "Action": "AssumeRole",
        "Version": "2011-06-15",
        "RoleArn": ROLE,
        "RoleSessionName": "botocore-session-<digits>",
        "SerialNumber": SERIAL,
        "TokenCode": "****",
        **fields,
    }
    assert without_digits(theirs) == expected  # what the CLI sends
    assert without_digits(mine) == without_digits(theirs)
    assert list(mine) == list(theirs)  # and in the same form order
    # both asked the same question on stderr (getpass's fallback: no echo of the code)
    for proc in (cli, mine_proc):
        assert PROMPT in proc.stderr
        assert shows_no_code(proc, CODE)


# --- 2. the same cache entry, each side reading the other's ------------------------------------


@pytest.mark.parametrize("options", list(OPTIONS))
def test_the_same_cache_entry_and_each_side_reads_the_others(aws_cli, mfa_sts, tmp_path, options):
    extra, fields = OPTIONS[options]
    require_options(mfa_sts, fields)
    home_cli, home_mine = homes(tmp_path, config(extra))
    assert run_cli(aws_cli, home_cli, mfa_sts, CODE + "\n").returncode == 0
    exported = run_awsroles(home_mine, mfa_sts, CODE + "\n")
    assert exported.returncode == 0, exported.stderr
    mine_key = json.loads(exported.stdout)["AccessKeyId"]

    # botocore's cache key: the call's arguments without the generated session name
    args = {"RoleArn": ROLE, "SerialNumber": SERIAL}
    if fields:
        args.update(DurationSeconds=int(fields["DurationSeconds"]), ExternalId="ext-mfa")
    name = cache_key(args) + ".json"
    assert cache_files(home_cli) == cache_files(home_mine) == [name]

    theirs_entry, mine_entry = read_entry(home_cli, name), read_entry(home_mine, name)
    assert shape(mine_entry) == shape(theirs_entry)
    assert set(mine_entry) == {"Credentials", "AssumedRoleUser", "ResponseMetadata"}
    assert mine_entry["Credentials"]["AccessKeyId"] == mine_key
    assert mine_entry["Credentials"]["AccountId"] == theirs_entry["Credentials"]["AccountId"]
    for entry in (mine_entry, theirs_entry):
        assert entry["Credentials"]["Expiration"].endswith("Z")
        arn = entry["AssumedRoleUser"]["Arn"]
        assert arn.startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/MfaRole/botocore-session-")

    # The CLI on awsroles' HOME, with nothing to read a code from: no prompt, no AssumeRole,
    # and its call is signed with the key awsroles cached.
    start = len(mfa_sts.calls)
    cli_on_mine = run_cli(aws_cli, home_mine, mfa_sts, None)
    assert cli_on_mine.returncode == 0, cli_on_mine.stderr
    assert "Enter MFA code" not in cli_on_mine.stderr
    new = mfa_sts.calls[start:]
    assert [(c.action, c.access_key) for c in new] == [("GetCallerIdentity", mine_key)]

    # awsroles on the CLI's HOME, likewise: the CLI's key, no STS call at all.
    start = len(mfa_sts.calls)
    mine_on_cli = run_awsroles(home_cli, mfa_sts, None)
    assert mine_on_cli.returncode == 0, mine_on_cli.stderr
    assert "Enter MFA code" not in mine_on_cli.stderr
    doc = json.loads(mine_on_cli.stdout)
    assert doc["AccessKeyId"] == theirs_entry["Credentials"]["AccessKeyId"]
    assert doc["SessionToken"] == theirs_entry["Credentials"]["SessionToken"]
    assert len(mfa_sts.calls) == start
    # neither rewrote the other's entry
    assert read_entry(home_cli, name) == theirs_entry
    assert read_entry(home_mine, name) == mine_entry


# --- 3. a wrong code ----------------------------------------------------------------------------


def test_a_wrong_code_fails_the_same_way_on_both_sides(aws_cli, mfa_sts, tmp_path):
    home_cli, home_mine = homes(tmp_path, config())

    start = len(mfa_sts.calls)
    cli = run_cli(aws_cli, home_cli, mfa_sts, WRONG + "\n")
    (theirs,) = assume_calls(mfa_sts, start)
    start = len(mfa_sts.calls)
    mine = run_awsroles(home_mine, mfa_sts, WRONG + "\n")
    (sent,) = assume_calls(mfa_sts, start)
    assert without_digits(sent) == without_digits(theirs)  # one call each, the same one
    assert [c.status for c in mfa_sts.calls if c.action == "AssumeRole"] == [403, 403]
    assert mfa_sts.count("GetCallerIdentity") == 0

    # the CLI: exit 255, "An error occurred (AccessDenied) when calling the AssumeRole
    # operation: MultiFactorAuthentication failed with invalid MFA one time pass code."
    assert cli.returncode == 255 and cli.stdout == ""
    assert "(AccessDenied)" in cli.stderr and MFA_DENIED in cli.stderr
    # awsroles: exit 2, one error line naming the role, STS's code and message
    assert mine.returncode == 2 and mine.stdout == ""
    (line,) = error_lines(mine.stderr)
    assert ROLE in line and "AccessDenied" in line and MFA_DENIED in line
    assert mine.stderr.rstrip("\n").endswith(line)  # nothing after it (no traceback)
    assert "Traceback" not in mine.stderr
    assert shows_no_code(cli, WRONG) and shows_no_code(mine, WRONG)
    # neither keeps anything
    assert cache_files(home_cli) == [] and cache_files(home_mine) == []


# --- 4. end of input, an empty line -------------------------------------------------------------

# What the AWS CLI does (recorded below, botocore 1.43):
# * end of input: getpass raises EOFError, which has no message; the CLI prints an empty error
#   ("\n\n" after the prompt) and exits 255. No STS call.
# * an empty line: botocore sends TokenCode="" to its client, whose parameter validation
#   refuses it ("Invalid length for parameter TokenCode, value: 0, valid min length: 6");
#   exit 255, no STS call.
# awsroles refuses both before any call with a typed one-line error naming the profile and the
# device, exit 2.


@pytest.mark.parametrize("stdin", ["", "\n"], ids=["eof", "empty-line"])
def test_no_code_on_stdin(aws_cli, mfa_sts, tmp_path, stdin):
    home_cli, home_mine = homes(tmp_path, config())
    cli = run_cli(aws_cli, home_cli, mfa_sts, stdin)
    mine = run_awsroles(home_mine, mfa_sts, stdin)
    assert mfa_sts.count() == 0
    assert cache_files(home_cli) == [] and cache_files(home_mine) == []
    for proc in (cli, mine):
        assert PROMPT in proc.stderr and proc.stdout == ""
        assert "Traceback" not in proc.stderr

    after_prompt = cli.stderr.split(PROMPT, 1)[1]
    assert cli.returncode == 255
    if stdin == "":
        assert after_prompt.strip() == ""  # the empty message of EOFError
    else:
        assert "TokenCode" in after_prompt and "min length: 6" in after_prompt

    assert mine.returncode == 2
    (line,) = error_lines(mine.stderr)
    assert "profile 'mfa'" in line and SERIAL in line
    assert "no MFA code was entered" in line
    assert mine.stderr.rstrip("\n").endswith(line)
    # The error is a line of its own, as every other awsroles error is: getpass ends the
    # prompt's line only after reading one, so at end of input the prompt is left open.
    assert any(ln.startswith("awsroles: error: ") for ln in mine.stderr.splitlines()), (
        "the error is printed on the prompt's line: " + repr(mine.stderr[-200:])
    )


# --- 5. in-process: the prompt text -------------------------------------------------------------


def test_the_terminal_prompt_is_botocores(mfa_sts, tmp_path, monkeypatch):
    """botocore's assume-role provider asks with getpass.getpass (bound when botocore was
    imported, so it is routed through the patched one here); awsroles' terminal prompter calls
    getpass.getpass too. Both pass the same text."""
    home_b, home_a = homes(tmp_path, config())
    asked: Dict[str, List[str]] = {"botocore": [], "awsroles": []}
    side = ["botocore"]

    def fake_getpass(prompt: str = "Password: ", stream=None) -> str:
        asked[side[0]].append(prompt)
        return CODE

    with monkeypatch.context() as m:
        for name in list(os.environ):
            if name.startswith(("AWS_", "BOTO")) or name.lower() in _PROXY_VARS:
                m.delenv(name, raising=False)
        for name, value in make_env(home_b, mfa_sts.url).items():
            m.setenv(name, value)
        session = botocore.session.Session(profile="mfa")
        provider = session.get_component("credential_provider").get_provider("assume-role")
        assert provider._prompter is getpass.getpass  # botocore's (and the CLI's) default
        m.setattr(getpass, "getpass", fake_getpass)
        provider._prompter = getpass.getpass
        provider.cache = botocore.utils.JSONFileCache(cache_dir(home_b))
        theirs = session.get_credentials().get_frozen_credentials()

        side[0] = "awsroles"
        env = make_env(home_a, mfa_sts.url)
        mine = awsroles.resolve("mfa", env=env).get_frozen_credentials()

    assert asked == {"botocore": [PROMPT], "awsroles": [PROMPT]}
    assert theirs.access_key.startswith("ASIA") and mine.access_key.startswith("ASIA")
    assert [c.status for c in mfa_sts.calls if c.action == "AssumeRole"] == [200, 200]


def test_a_prompter_gets_the_serial_and_the_terminal_is_not_asked(mfa_sts, tmp_path, monkeypatch):
    """``prompter=`` takes the place of botocore's ``_prompter``: it is given the device's
    serial (not the prompt text) and the terminal is left alone."""
    (home,) = homes(tmp_path, config())[1:]
    terminal: List[str] = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt="", stream=None: terminal.append(prompt))
    serials: List[str] = []

    def prompter(serial: str) -> str:
        serials.append(serial)
        return CODE

    creds = awsroles.resolve("mfa", env=make_env(home, mfa_sts.url), prompter=prompter)
    assert creds.get_frozen_credentials().access_key.startswith("ASIA")
    assert serials == [SERIAL] and terminal == []
    (params,) = assume_calls(mfa_sts, 0)
    assert params["SerialNumber"] == SERIAL and params["TokenCode"] == "****"
