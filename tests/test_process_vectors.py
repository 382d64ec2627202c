"""The SDKs' profile-provider credential_process scenarios
(tests/conformance/smithy-rs/aws-config/test-data/profile-provider/credential_process*).

The Rust SDK runs credential_process through ``sh -c``; botocore (and awsroles) run it without
a shell. Two scenarios pipe ``echo … | base64 --decode`` and one runs the
shell builtin ``exit 1``, so as written they cannot succeed without a shell. That is a
documented deviation (docs/differences.md): for those, the test asserts what botocore does
with the same command (it fails too), and then runs the scenario with the command wrapped as
``sh -c '<command>'`` (what a user writes to get shell syntax) and compares with the vector's
expected result."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import sys
from datetime import datetime, timezone

import pytest

from awsroles.config.model import ProcessSource
from awsroles.providers.process import CredentialProcessError, run_process
from awsroles.resolver.profile import ProfileProvider
from awsroles.testing.clock import FrozenClock

from helpers import make_context

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX commands (as upstream)")

BASE = os.path.join(
    os.path.dirname(__file__),
    "conformance",
    "smithy-rs",
    "aws-config",
    "test-data",
    "profile-provider",
)
CASES = sorted(d for d in os.listdir(BASE) if d.startswith("credential_process"))

#: Scenarios that need a shell, with what happens without one (botocore's behaviour).
NEEDS_SHELL = {
    "credential_process": "`echo X | base64 --decode` without a shell prints 'X | base64 "
    "--decode', which is not JSON",
    "credential_process_account_id_fallback": "same pipe as credential_process",
    "credential_process_failure": "`exit` is a shell builtin, not a program",
}

#: The Rust SDK's error wording, mapped to a fragment of ours.
ERRORS = {
    "credential_process_failure": "exited with code 1",
    "credential_process_invalid": "not valid JSON",
}


def test_all_four_scenarios_are_here():
    assert CASES == [
        "credential_process",
        "credential_process_account_id_fallback",
        "credential_process_failure",
        "credential_process_invalid",
    ]


def _load(case, tmp_path):
    case_dir = os.path.join(BASE, case)
    root = tmp_path / "fs"
    shutil.copytree(os.path.join(case_dir, "fs"), root)
    with open(os.path.join(case_dir, "env.json")) as f:
        env = {k: v.replace("/home", str(root / "home")) for k, v in json.load(f).items()}
    with open(os.path.join(case_dir, "test-case.json")) as f:
        expected = json.load(f)["result"]
    # The recorded credentials expired in 2022: run the clock just before that.
    clock = FrozenClock("2022-05-02T18:00:00Z")
    ctx = make_context(
        env=env, clock=clock, cache=None, background_refresh=False, process_timeout=10
    )
    plan = ProfileProvider().plan(ctx)
    assert plan is not None and not plan.hops
    assert isinstance(plan.base, ProcessSource)
    return ctx, plan.base, expected


def _check(result, expected):
    creds = result.get_frozen_credentials()
    ok = expected["Ok"]
    assert creds.access_key == ok["access_key_id"]
    assert creds.secret_key == ok["secret_access_key"]
    assert creds.token == ok.get("session_token")
    assert creds.account_id == ok.get("account_id")
    assert creds.expiry == datetime.fromtimestamp(ok["expiry"], tz=timezone.utc)
    assert creds.method == "custom-process"


def _botocore_fails(command):
    """botocore's ProcessProvider on the same command: it fails as well (no shell)."""
    from botocore.credentials import ProcessProvider

    config = {"profiles": {"default": {"credential_process": command}}}
    with pytest.raises(Exception):  # noqa: B017 - JSONDecodeError / FileNotFoundError, raw
        ProcessProvider("default", lambda: config).load()


@pytest.mark.parametrize("case", CASES)
def test_scenario(case, tmp_path):
    ctx, source, expected = _load(case, tmp_path)
    if case in NEEDS_SHELL:
        with pytest.raises(CredentialProcessError):
            run_process(source, ctx)
        _botocore_fails(source.command)
        source = ProcessSource(
            source.profile, "sh -c " + shlex.quote(source.command), source.account_id
        )
    if "Ok" in expected:
        _check(run_process(source, ctx), expected)
    else:
        with pytest.raises(CredentialProcessError) as err:
            run_process(source, ctx)
        assert ERRORS[case] in str(err.value)
        assert err.value.profile == "default" and err.value.provider == "custom-process"


def test_the_profile_account_id_is_the_fallback(tmp_path):
    """The plan carries aws_account_id; the first scenario's output overrides it."""
    ctx, source, _ = _load("credential_process", tmp_path)
    assert source.account_id == "123456789001"
