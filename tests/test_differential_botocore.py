"""Differential tests: awsroles against botocore 1.43 itself, on the same files, same STS.

Each configuration in ``CASES`` is resolved twice, in two fresh HOMEs holding identical
``~/.aws`` files: once by awsroles, once by botocore with the AWS CLI's ``JSONFileCache``
injected into its assume-role provider (exactly as the CLI does). The local STS records every
request, so the two sides are compared on what reaches STS (the ordered AssumeRole calls, their
parameters and who signed them) and on the shared state they leave behind (the cache file
names). Then each side must be able to use the other's cache without calling STS.

Both sides run on the real clock here (botocore cannot take a frozen one), so the FakeSTS does
too. Deliberate differences (docs/differences.md) are in the separate tests at the end.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Tuple

import botocore.exceptions
import botocore.session
import botocore.utils
import pytest

import awsroles
from awsroles.cache.key import cache_key
from awsroles.errors import AwsRolesError, ConfigError
from awsroles.testing.fake_sts import FakeSTS

from helpers import (
    ACCOUNT,
    BASE_KEY,
    BASE_SECRET,
    TWO_HOP,
    cache_dir,
    cache_files,
    make_env,
    role,
    write_aws_files,
)

ENV_KEY = "AKIATESTENVUSER00001"
ENV_SECRET = "env-secret-value-PLANTED"
MFA_CODE = "123456"
SERIAL_A = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
SERIAL_B = f"arn:aws:iam::{ACCOUNT}:mfa/bob"
BASE_CREDS = f"[base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {BASE_SECRET}\n"
ENV_KEYS = {"AWS_ACCESS_KEY_ID": ENV_KEY, "AWS_SECRET_ACCESS_KEY": ENV_SECRET}
_PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


# --- the two sides ------------------------------------------------------------------------------


@pytest.fixture
def sts():
    """A FakeSTS on the real clock (botocore signs and judges expiry with the real time)."""
    with FakeSTS() as server:
        server.add_user(BASE_KEY, BASE_SECRET, ACCOUNT, "base-user")
        server.add_user(ENV_KEY, ENV_SECRET, ACCOUNT, "env-user")
        yield server


@pytest.fixture
def homes(tmp_path):
    """Two empty HOMEs: ``a`` for awsroles, ``b`` for botocore."""
    a, b = tmp_path / "home-a", tmp_path / "home-b"
    a.mkdir()
    b.mkdir()
    return a, b


class Prompts:
    """Records what each side asked for; both return the same code."""

    def __init__(self) -> None:
        self.asked: List[str] = []

    def awsroles(self, serial: str) -> str:
        self.asked.append(serial)
        return MFA_CODE

    def botocore(self, prompt: str) -> str:
        assert prompt.startswith("Enter MFA code for ") and prompt.endswith(": ")
        self.asked.append(prompt[len("Enter MFA code for ") : -2])
        return MFA_CODE


def _expand(env_extra: Dict[str, str], home) -> Dict[str, str]:
    return {k: v.replace("{home}", str(home)) for k, v in env_extra.items()}


def run_awsroles(home, sts, profile: Optional[str], env_extra: Dict[str, str], prompts=None):
    env = make_env(home, sts.url, **_expand(env_extra, home))
    prompter = prompts.awsroles if prompts is not None else None
    creds = awsroles.resolve(profile, env=env, prompter=prompter)
    return creds.get_frozen_credentials()


def run_botocore(
    monkeypatch, home, sts, profile: Optional[str], env_extra: Dict[str, str], prompts=None
):
    """botocore as the AWS CLI sets it up: a fresh Session, the CLI's JSON file cache."""
    with monkeypatch.context() as m:
        for name in list(os.environ):
            if name.startswith(("AWS_", "BOTO")) or name.lower() in _PROXY_VARS:
                m.delenv(name, raising=False)
        for name, value in make_env(home, sts.url, **_expand(env_extra, home)).items():
            m.setenv(name, value)
        session = botocore.session.Session(profile=profile)
        resolver = session.get_component("credential_provider")
        provider = resolver.get_provider("assume-role")
        provider.cache = botocore.utils.JSONFileCache(cache_dir(home))
        if prompts is not None:
            provider._prompter = prompts.botocore
        creds = session.get_credentials()
        assert creds is not None, "botocore found no credentials"
        return creds.get_frozen_credentials()


def assume_calls(sts, start: int = 0) -> List[Tuple[Dict[str, str], str]]:
    """AssumeRole calls since ``start``: (params, signer) with the signer's kind made
    comparable (a temporary ASIA key differs between runs; a long-lived key must not)."""
    out = []
    for call in sts.calls[start:]:
        if call.action != "AssumeRole":
            continue
        signer = (
            "ASIA(temporary)" if (call.access_key or "").startswith("ASIA") else call.access_key
        )
        assert call.status == 200, call
        out.append((dict(call.params), signer))
    return out


def normalised(calls):
    """Generated session names differ by the second they were made: both must be generated."""
    out = []
    for params, signer in calls:
        params = dict(params)
        name = params.get("RoleSessionName", "")
        if name.startswith("botocore-session-"):
            assert name[len("botocore-session-") :].isdigit(), name
            params["RoleSessionName"] = "<generated>"
        out.append((params, signer))
    return out


def assert_only_entries_and_locks(home_a, home_b):
    """botocore leaves only ``<key>.json``; awsroles adds a ``<key>.json.lock`` beside each
    entry (its cross-process lock, so that processes on a cold cache make one STS call) and
    nothing else: no temp file left behind."""
    listed_b = sorted(os.listdir(cache_dir(home_b)))
    assert listed_b == cache_files(home_b)
    extra = set(os.listdir(cache_dir(home_a))) - set(cache_files(home_a))
    assert extra <= {name + ".lock" for name in cache_files(home_a)}


def _shape(value):
    """Key order and value types of a cache entry (values themselves differ per call)."""
    if isinstance(value, dict):
        return [(k, _shape(v)) for k, v in value.items()]
    return type(value).__name__


def assert_same_entry_shape(home_a, home_b, name):
    """The cache file content matches botocore's (one line, no newline, same keys in the same
    order), except ``Expiration``: awsroles writes ``…Z`` (as STS and the AWS CLI write it),
    botocore ``…UTC``."""
    texts = []
    for home in (home_a, home_b):
        with open(os.path.join(cache_dir(home), name), encoding="utf-8") as f:
            texts.append(f.read())
    assert all("\n" not in t for t in texts)
    mine, theirs = (json.loads(t) for t in texts)
    assert _shape(mine) == _shape(theirs)
    assert mine["Credentials"]["Expiration"].endswith("Z")
    assert theirs["Credentials"]["Expiration"].endswith("UTC")
    assert mine["Credentials"]["AccountId"] == theirs["Credentials"]["AccountId"] == ACCOUNT
    generated = "botocore-session-"
    arns = [e["AssumedRoleUser"]["Arn"] for e in (mine, theirs)]
    if generated in arns[0] and generated in arns[1]:
        arns = [a.rsplit("/", 1)[0] for a in arns]
    assert arns[0] == arns[1]


# --- the table ----------------------------------------------------------------------------------


@dataclass
class Case:
    id: str
    config: str
    credentials: Optional[str] = BASE_CREDS
    profile: Optional[str] = "dev"  # passed in code; None: chosen by the environment
    env: Dict[str, str] = field(default_factory=dict)
    roles: Dict[str, dict] = field(default_factory=dict)  # role ARN -> FakeSTS.add_role kwargs
    calls: int = 1  # AssumeRole calls expected on a cold cache
    mfa: List[str] = field(default_factory=list)  # serials asked for, in botocore's order
    files: Dict[str, str] = field(default_factory=dict)  # more files, relative to HOME


CASES = [
    Case("one-hop", f"[profile dev]\nrole_arn = {role('D1')}\nsource_profile = base\n"),
    Case("two-hop", TWO_HOP, calls=2),
    Case(
        "three-hop-session-names",
        f"[profile a]\nrole_arn = {role('A3')}\nsource_profile = base\n"
        f"role_session_name = hop-a\n\n"
        f"[profile b]\nrole_arn = {role('B3')}\nsource_profile = a\n\n"
        f"[profile dev]\nrole_arn = {role('C3')}\nsource_profile = b\n"
        f"role_session_name = hop.c@example=1,2+3\n",
        calls=3,
    ),
    Case(
        "four-hop-across-both-files",
        f"[profile h2]\nrole_arn = {role('H2')}\nsource_profile = h1\n\n"
        f"[profile dev]\nrole_arn = {role('H4')}\nsource_profile = h3\nexternal_id = ext-four\n",
        credentials=BASE_CREDS + f"\n[h1]\nrole_arn = {role('H1')}\nsource_profile = base\n"
        f"\n[h3]\nrole_arn = {role('H3')}\nsource_profile = h2\nduration_seconds = 1800\n",
        roles={role("H4"): {"external_id": "ext-four"}},
        calls=4,
    ),
    Case(
        "static-keys-in-config-file",
        f"[profile base]\naws_access_key_id = {BASE_KEY}\n"
        f"aws_secret_access_key = {BASE_SECRET}\n\n"
        f"[profile dev]\nrole_arn = {role('CfgKeys')}\nsource_profile = base\n",
        credentials="",
    ),
    Case(
        "role-profile-only-in-credentials-file",
        "",
        credentials=BASE_CREDS + f"\n[dev]\nrole_arn = {role('CredsOnly')}\n"
        f"source_profile = base\nrole_session_name = in-creds\n",
    ),
    Case(
        "same-profile-in-both-files-credentials-win",
        f"[profile dev]\nrole_arn = {role('Both')}\nsource_profile = base\n"
        f"role_session_name = from-config\nexternal_id = ext-from-config\n",
        credentials=BASE_CREDS + "\n[dev]\nrole_session_name = from-credentials\n",
        roles={role("Both"): {"external_id": "ext-from-config"}},
    ),
    Case(
        "role-in-config-static-keys-in-credentials-role-wins",
        f"[profile dev]\nrole_arn = {role('RoleWins')}\nsource_profile = base\n",
        credentials=BASE_CREDS + f"\n[dev]\naws_access_key_id = {ENV_KEY}\n"
        f"aws_secret_access_key = {ENV_SECRET}\n",
    ),
    Case(
        "aws-config-file-and-shared-credentials-file-variables",
        "[profile dev]\nrole_arn = arn:aws:iam::123456789012:role/NotThisOne\n",
        credentials="",
        env={
            "AWS_CONFIG_FILE": "{home}/elsewhere/cfg",
            "AWS_SHARED_CREDENTIALS_FILE": "{home}/elsewhere/creds",
        },
        files={
            "elsewhere/cfg": f"[profile dev]\nrole_arn = {role('Elsewhere')}\n"
            f"source_profile = base\n",
            "elsewhere/creds": BASE_CREDS,
        },
    ),
    Case(
        "external-id",
        f"[profile dev]\nrole_arn = {role('Ext')}\nsource_profile = base\n"
        f"external_id = the-external-id\n",
        roles={role("Ext"): {"external_id": "the-external-id"}},
    ),
    Case(
        "duration-seconds",
        f"[profile dev]\nrole_arn = {role('Dur')}\nsource_profile = base\n"
        f"duration_seconds = 7200\n",
    ),
    Case(
        "empty-role-session-name-is-generated",
        f"[profile dev]\nrole_arn = {role('EmptyName')}\nsource_profile = base\n"
        f"role_session_name =\n",
    ),
    Case(
        "non-ascii-session-name",
        f"[profile dev]\nrole_arn = {role('Uni')}\nsource_profile = base\n"
        "role_session_name = sess-\u00e9\n",
    ),
    Case(
        "mfa",
        f"[profile dev]\nrole_arn = {role('Mfa')}\nsource_profile = base\n"
        f"mfa_serial = {SERIAL_A}\n",
        roles={role("Mfa"): {"mfa_serial": SERIAL_A, "mfa_code": MFA_CODE}},
        mfa=[SERIAL_A],
    ),
    Case(
        "every-option-on-one-hop",
        f"[profile dev]\nrole_arn = {role('All')}\nsource_profile = base\n"
        f"mfa_serial = {SERIAL_A}\nexternal_id = ext-all\nrole_session_name = all-four\n"
        f"duration_seconds = 3600\n",
        roles={
            role("All"): {"mfa_serial": SERIAL_A, "mfa_code": MFA_CODE, "external_id": "ext-all"}
        },
        mfa=[SERIAL_A],
    ),
    Case(
        "credential-source-environment",
        f"[profile dev]\nrole_arn = {role('EnvSrc')}\ncredential_source = Environment\n",
        credentials="",
        env=ENV_KEYS,
    ),
    Case(
        "credential-source-environment-as-inner-hop",
        f"[profile src]\nrole_arn = {role('EnvInner')}\ncredential_source = Environment\n\n"
        f"[profile dev]\nrole_arn = {role('EnvOuter')}\nsource_profile = src\n"
        f"role_session_name = outer\n",
        credentials="",
        env=ENV_KEYS,
        calls=2,
    ),
    Case(
        "self-source-with-static-keys",
        f"[profile dev]\nrole_arn = {role('Self')}\nsource_profile = dev\n",
        credentials=f"[dev]\naws_access_key_id = {BASE_KEY}\n"
        f"aws_secret_access_key = {BASE_SECRET}\n",
    ),
    Case(
        "source-with-static-keys-and-role-uses-the-keys",
        f"[profile base]\nrole_arn = {role('NeverAssumed')}\nsource_profile = base\n\n"
        f"[profile dev]\nrole_arn = {role('KeysWin')}\nsource_profile = base\n",
    ),
    Case(
        "spaced-profile-section",
        f"[profile  spaced ]\nrole_arn = {role('Spaced')}\nsource_profile = base\n",
        profile="spaced",
    ),
    Case(
        "tab-separated-profile-section",
        f"[profile\ttabbed]\nrole_arn = {role('Tabbed')}\nsource_profile = base\n",
        profile="tabbed",
    ),
    Case(
        "upper-case-keys",
        f"[profile dev]\nROLE_ARN = {role('Upper')}\nSource_Profile = base\n"
        f"Role_Session_Name = upper-keys\n",
        credentials=f"[base]\nAWS_ACCESS_KEY_ID = {BASE_KEY}\n"
        f"Aws_Secret_Access_Key = {BASE_SECRET}\n",
    ),
    Case(
        "tabs-around-equals-and-colon-separator",
        f"[profile dev]\nrole_arn\t=\t{role('Tabs')}\nsource_profile: base\n"
        f"external_id\t:\text-tabs\n",
        roles={role("Tabs"): {"external_id": "ext-tabs"}},
    ),
    Case(
        "crlf-line-endings-and-comments",
        (
            "# a comment\n; another comment\n\n"
            f"[profile ops]\nrole_arn = {role('CrlfOps')}\n  # indented comment\n"
            "source_profile = base\n\n"
            f"[profile dev]\n;comment\nrole_arn = {role('CrlfDev')}\nsource_profile = ops\n"
        ).replace("\n", "\r\n"),
        credentials=BASE_CREDS.replace("\n", "\r\n"),
        calls=2,
    ),
    Case(
        "aws-profile-selects",
        f"[profile dev]\nrole_arn = {role('ByEnv')}\nsource_profile = base\n",
        profile=None,
        env={"AWS_PROFILE": "dev"},
    ),
    Case(
        "aws-default-profile-beats-aws-profile",
        f"[profile dev]\nrole_arn = {role('Wrong')}\nsource_profile = base\n\n"
        f"[profile right]\nrole_arn = {role('Right')}\nsource_profile = base\n",
        profile=None,
        env={"AWS_PROFILE": "dev", "AWS_DEFAULT_PROFILE": "right"},
    ),
    Case(
        "default-profile-when-nothing-selects",
        f"[default]\nrole_arn = {role('Default')}\nsource_profile = base\n",
        profile=None,
    ),
    Case(
        "profile-default-section-when-nothing-selects",
        f"[profile default]\nrole_arn = {role('ProfDefault')}\nsource_profile = base\n",
        profile=None,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_same_calls_same_cache_and_each_reads_the_others(case, sts, homes, monkeypatch):
    home_a, home_b = homes
    for arn, rules in case.roles.items():
        sts.add_role(arn, **rules)
    for home in homes:
        write_aws_files(home, case.config, case.credentials)
        for rel, text in case.files.items():
            os.makedirs(os.path.dirname(os.path.join(str(home), rel)), exist_ok=True)
            with open(os.path.join(str(home), rel), "w") as f:
                f.write(text)
    pa, pb = Prompts(), Prompts()
    use_prompts = bool(case.mfa)

    # (a) cold cache: the same STS traffic and the same cache files.
    start = len(sts.calls)
    mine = run_awsroles(home_a, sts, case.profile, case.env, pa if use_prompts else None)
    calls_a = assume_calls(sts, start)

    start = len(sts.calls)
    theirs = run_botocore(
        monkeypatch, home_b, sts, case.profile, case.env, pb if use_prompts else None
    )
    calls_b = assume_calls(sts, start)

    assert len(calls_b) == case.calls  # the table itself is right about botocore
    assert normalised(calls_a) == normalised(calls_b)
    assert cache_files(home_a) == cache_files(home_b)
    assert len(cache_files(home_a)) == case.calls
    assert_only_entries_and_locks(home_a, home_b)
    for name in cache_files(home_a):
        assert_same_entry_shape(home_a, home_b, name)
    assert sorted(pa.asked) == sorted(pb.asked) == sorted(case.mfa)
    assert mine.access_key.startswith("ASIA") and theirs.access_key.startswith("ASIA")

    # (b) botocore reads what awsroles wrote: no STS call, the same key.
    start = len(sts.calls)
    b_on_a = run_botocore(monkeypatch, home_a, sts, case.profile, case.env)
    assert assume_calls(sts, start) == []
    assert b_on_a.access_key == mine.access_key
    assert b_on_a.secret_key == mine.secret_key and b_on_a.token == mine.token

    # ... and awsroles reads what botocore wrote: no STS call, no prompt, the same key.
    start = len(sts.calls)
    a_on_b = run_awsroles(home_b, sts, case.profile, case.env, pa if use_prompts else None)
    assert assume_calls(sts, start) == []
    assert a_on_b.access_key == theirs.access_key
    assert a_on_b.secret_key == theirs.secret_key and a_on_b.token == theirs.token

    # explain() (no network) shows the plan botocore followed: every role it assumed.
    start = len(sts.calls)
    text = awsroles.explain(
        case.profile, env=make_env(home_a, sts.url, **_expand(case.env, home_a))
    )
    assert len(sts.calls) == start
    for params, _ in calls_b:
        assert params["RoleArn"] in text

    # (c) both read one cache: the same final key (and still nothing sent to STS).
    start = len(sts.calls)
    again_a = run_awsroles(home_a, sts, case.profile, case.env, pa if use_prompts else None)
    again_b = run_botocore(monkeypatch, home_a, sts, case.profile, case.env)
    assert again_a.access_key == again_b.access_key == mine.access_key
    assert assume_calls(sts, start) == []
    assert sorted(pa.asked) == sorted(case.mfa)  # no second prompt on the hits


def test_table_covers_the_brief():
    assert len(CASES) >= 15
    assert {c.calls for c in CASES} >= {1, 2, 3, 4}


# --- the order of prompts and of the form fields ----------------------------------------------


def test_mfa_on_two_hops_same_calls_and_prompts(sts, homes, monkeypatch):
    """Two MFA hops: botocore asks the outer profile first, then the inner one, while the inner
    STS call goes first. The calls must match; the prompt order is reported."""
    home_a, home_b = homes
    config = (
        f"[profile ops]\nrole_arn = {role('MfaInner')}\nsource_profile = base\n"
        f"mfa_serial = {SERIAL_B}\n\n"
        f"[profile dev]\nrole_arn = {role('MfaOuter')}\nsource_profile = ops\n"
        f"mfa_serial = {SERIAL_A}\n"
    )
    sts.add_role(role("MfaInner"), mfa_serial=SERIAL_B, mfa_code=MFA_CODE)
    sts.add_role(role("MfaOuter"), mfa_serial=SERIAL_A, mfa_code=MFA_CODE)
    for home in homes:
        write_aws_files(home, config)
    pa, pb = Prompts(), Prompts()
    run_awsroles(home_a, sts, "dev", {}, pa)
    n = len(sts.calls)
    run_botocore(monkeypatch, home_b, sts, "dev", {}, pb)
    calls_a, calls_b = assume_calls(sts)[:2], assume_calls(sts, n)
    assert normalised(calls_a) == normalised(calls_b)
    assert [p["RoleArn"] for p, _ in calls_b] == [role("MfaInner"), role("MfaOuter")]
    assert pb.asked == [SERIAL_A, SERIAL_B]  # botocore: outer first
    assert sorted(pa.asked) == sorted(pb.asked)  # awsroles: each asked once (any order)
    assert cache_files(home_a) == cache_files(home_b)


def _wire_order(sts, start=0):
    return [list(c.params) for c in sts.calls[start:] if c.action == "AssumeRole"]


def test_form_field_order_matches_botocore_with_a_configured_session_name(sts, homes, monkeypatch):
    home_a, home_b = homes
    config = (
        f"[profile dev]\nrole_arn = {role('Order')}\nsource_profile = base\n"
        f"role_session_name = ordered\nexternal_id = ext-order\nduration_seconds = 1800\n"
        f"mfa_serial = {SERIAL_A}\n"
    )
    for home in homes:
        write_aws_files(home, config)
    run_awsroles(home_a, sts, "dev", {}, Prompts())
    n = len(sts.calls)
    run_botocore(monkeypatch, home_b, sts, "dev", {}, Prompts())
    assert _wire_order(sts)[0] == _wire_order(sts, n)[0]


def test_form_field_order_matches_botocore_with_a_generated_session_name(sts, homes, monkeypatch):
    """botocore adds a generated RoleSessionName after RoleArn (configured: first)."""
    home_a, home_b = homes
    config = f"[profile dev]\nrole_arn = {role('OrderGen')}\nsource_profile = base\n"
    for home in homes:
        write_aws_files(home, config)
    run_awsroles(home_a, sts, "dev", {})
    n = len(sts.calls)
    run_botocore(monkeypatch, home_b, sts, "dev", {})
    assert _wire_order(sts)[0] == _wire_order(sts, n)[0]


# --- kept exactly as botocore: env keys beat a profile named by AWS_PROFILE --------------------


def test_env_keys_beat_a_role_profile_selected_by_aws_profile(sts, homes, monkeypatch):
    home_a, home_b = homes
    config = f"[profile dev]\nrole_arn = {role('Shadowed')}\nsource_profile = base\n"
    for home in homes:
        write_aws_files(home, config)
    env = dict(ENV_KEYS, AWS_PROFILE="dev")
    mine = run_awsroles(home_a, sts, None, env)
    theirs = run_botocore(monkeypatch, home_b, sts, None, env)
    assert mine.access_key == theirs.access_key == ENV_KEY
    assert sts.count("AssumeRole") == 0
    # a profile named in code drops the env provider on both sides
    mine = run_awsroles(home_a, sts, "dev", ENV_KEYS)
    theirs = run_botocore(monkeypatch, home_b, sts, "dev", ENV_KEYS)
    assert mine.access_key.startswith("ASIA") and theirs.access_key.startswith("ASIA")
    assert normalised(assume_calls(sts)[:1]) == normalised(assume_calls(sts)[1:])


# --- deliberate differences (docs/differences.md) ----------------------------------------------


def _one_profile(homes, body: str, credentials: str = BASE_CREDS) -> None:
    for home in homes:
        write_aws_files(home, body, credentials)


def test_invalid_duration_seconds_awsroles_raises_botocore_drops_it(sts, homes, monkeypatch):
    home_a, home_b = homes
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('BadDur')}\nsource_profile = base\n"
        f"duration_seconds = 1h\n",
    )
    with pytest.raises(ConfigError) as err:
        run_awsroles(home_a, sts, "dev", {})
    assert "dev" in str(err.value) and "duration_seconds" in str(err.value)
    assert sts.count("AssumeRole") == 0 and cache_files(home_a) == []

    run_botocore(monkeypatch, home_b, sts, "dev", {})
    ((params, _),) = assume_calls(sts)
    assert "DurationSeconds" not in params  # silently dropped
    assert cache_files(home_b) == [cache_key({"RoleArn": role("BadDur")}) + ".json"]


def test_lowercase_credential_source_awsroles_accepts_botocore_rejects(sts, homes, monkeypatch):
    home_a, home_b = homes
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('LowerSrc')}\ncredential_source = environment\n",
        "",
    )
    mine = run_awsroles(home_a, sts, "dev", ENV_KEYS)
    assert mine.access_key.startswith("ASIA")
    ((_, signer),) = assume_calls(sts)
    assert signer == ENV_KEY
    with pytest.raises(botocore.exceptions.InvalidConfigError, match="environment"):
        run_botocore(monkeypatch, home_b, sts, "dev", ENV_KEYS)
    assert sts.count("AssumeRole") == 1
    # the entry awsroles wrote is the one botocore would look for with `Environment`
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('LowerSrc')}\ncredential_source = Environment\n",
        "",
    )
    again = run_botocore(monkeypatch, home_a, sts, "dev", ENV_KEYS)
    assert again.access_key == mine.access_key and sts.count("AssumeRole") == 1


def _write_entry(home, key: str, text: str) -> str:
    os.makedirs(cache_dir(home), mode=0o700, exist_ok=True)
    path = os.path.join(cache_dir(home), key + ".json")
    with open(path, "w") as f:
        f.write(text)
    return path


def test_corrupt_cache_entry_awsroles_recovers_botocore_keyerror(sts, homes, monkeypatch):
    home_a, home_b = homes
    _one_profile(homes, f"[profile dev]\nrole_arn = {role('Corrupt')}\nsource_profile = base\n")
    key = cache_key({"RoleArn": role("Corrupt")})
    path_a = _write_entry(home_a, key, '{"Credentials": {')
    _write_entry(home_b, key, '{"Credentials": {')

    mine = run_awsroles(home_a, sts, "dev", {})
    assert sts.count("AssumeRole") == 1
    with open(path_a) as f:
        assert json.load(f)["Credentials"]["AccessKeyId"] == mine.access_key

    with pytest.raises(KeyError):
        run_botocore(monkeypatch, home_b, sts, "dev", {})
    assert sts.count("AssumeRole") == 1  # botocore never reaches STS
    # once awsroles has overwritten the entry, botocore is happy with it
    assert run_botocore(monkeypatch, home_a, sts, "dev", {}).access_key == mine.access_key


def _entry(access_key: str, expires: datetime) -> str:
    return json.dumps(
        {
            "Credentials": {
                "AccessKeyId": access_key,
                "SecretAccessKey": "cached-secret",
                "SessionToken": "tok",
                "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        }
    )


def test_entry_with_ten_minutes_left_awsroles_uses_botocore_replaces(sts, homes, monkeypatch):
    """awsroles uses an entry unless inside its 1-minute mandatory window (10 minutes
    left: advisory window 5 minutes, so not even a refresh); botocore needs 15 minutes."""
    home_a, home_b = homes
    _one_profile(homes, f"[profile dev]\nrole_arn = {role('TenMin')}\nsource_profile = base\n")
    key = cache_key({"RoleArn": role("TenMin")})
    soon = datetime.now(timezone.utc) + timedelta(minutes=10)
    _write_entry(home_a, key, _entry("ASIACACHEDTENMINUTE1", soon))
    _write_entry(home_b, key, _entry("ASIACACHEDTENMINUTE1", soon))

    assert run_awsroles(home_a, sts, "dev", {}).access_key == "ASIACACHEDTENMINUTE1"
    assert sts.count("AssumeRole") == 0
    theirs = run_botocore(monkeypatch, home_b, sts, "dev", {})
    assert theirs.access_key != "ASIACACHEDTENMINUTE1"
    assert sts.count("AssumeRole") == 1


def test_short_duration_awsroles_reuses_the_entry_botocore_calls_again(sts, homes, monkeypatch):
    """duration_seconds = 900: botocore never reuses the entry (it needs 15 minutes left), so
    every run calls STS; awsroles reuses it until its 1-minute mandatory window. Same call,
    same file name."""
    home_a, home_b = homes
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('Short')}\nsource_profile = base\n"
        f"duration_seconds = 900\n",
    )
    first = run_awsroles(home_a, sts, "dev", {})
    assert run_awsroles(home_a, sts, "dev", {}).access_key == first.access_key
    assert sts.count("AssumeRole") == 1
    run_botocore(monkeypatch, home_b, sts, "dev", {})
    run_botocore(monkeypatch, home_b, sts, "dev", {})
    assert sts.count("AssumeRole") == 3
    calls = normalised(assume_calls(sts))
    assert calls[0] == calls[1] == calls[2]
    assert cache_files(home_a) == cache_files(home_b)
    # botocore does not take awsroles' 15-minute entry either
    run_botocore(monkeypatch, home_a, sts, "dev", {})
    assert sts.count("AssumeRole") == 4


def test_inline_comment_awsroles_strips_botocore_keeps(sts, homes, monkeypatch):
    home_a, home_b = homes
    sts.add_role(role("Inline"), external_id="ext-inline")
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('Inline')}\nsource_profile = base\n"
        f"external_id = ext-inline # the partner's id\n",
    )
    run_awsroles(home_a, sts, "dev", {})
    ((params, _),) = assume_calls(sts)
    assert params["ExternalId"] == "ext-inline"
    with pytest.raises(botocore.exceptions.ClientError, match="AccessDenied"):
        run_botocore(monkeypatch, home_b, sts, "dev", {})
    denied = [c for c in sts.calls if c.action == "AssumeRole"][-1]
    assert denied.params["ExternalId"] == "ext-inline # the partner's id"


def test_duplicate_key_awsroles_last_wins_botocore_parse_error(sts, homes, monkeypatch):
    home_a, home_b = homes
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('DupFirst')}\nsource_profile = base\n"
        f"role_arn = {role('DupLast')}\n",
    )
    run_awsroles(home_a, sts, "dev", {})
    ((params, _),) = assume_calls(sts)
    assert params["RoleArn"] == role("DupLast")
    with pytest.raises(botocore.exceptions.ConfigParseError):
        run_botocore(monkeypatch, home_b, sts, "dev", {})


def test_whitespace_inside_brackets_awsroles_profile_botocore_not(sts, homes, monkeypatch):
    home_a, home_b = homes
    _one_profile(
        homes, f"[   profile dev   ]\nrole_arn = {role('Padded')}\nsource_profile = base\n"
    )
    assert run_awsroles(home_a, sts, "dev", {}).access_key.startswith("ASIA")
    with pytest.raises(botocore.exceptions.ProfileNotFound):
        run_botocore(monkeypatch, home_b, sts, "dev", {})


def test_byte_order_mark_awsroles_accepts_botocore_parse_error(sts, homes, monkeypatch):
    home_a, home_b = homes
    _one_profile(homes, f"\ufeff[profile dev]\nrole_arn = {role('Bom')}\nsource_profile = base\n")
    assert run_awsroles(home_a, sts, "dev", {}).access_key.startswith("ASIA")
    with pytest.raises(botocore.exceptions.ConfigParseError):
        run_botocore(monkeypatch, home_b, sts, "dev", {})


def test_upper_case_default_section_inherited_by_botocore_only(sts, homes, monkeypatch):
    home_a, home_b = homes
    _one_profile(
        homes,
        "[DEFAULT]\nrole_session_name = from-defaults\n\n"
        f"[profile dev]\nrole_arn = {role('Dflt')}\nsource_profile = base\n",
    )
    run_awsroles(home_a, sts, "dev", {})
    n = len(sts.calls)
    run_botocore(monkeypatch, home_b, sts, "dev", {})
    ((mine, _),) = assume_calls(sts)[:1]
    ((theirs, _),) = assume_calls(sts, n)
    assert mine["RoleSessionName"].startswith("botocore-session-")
    assert theirs["RoleSessionName"] == "from-defaults"
    assert cache_files(home_a) != cache_files(home_b)


def test_profile_default_and_default_awsroles_prefixed_wins_botocore_later_wins(
    sts, homes, monkeypatch
):
    home_a, home_b = homes
    _one_profile(
        homes,
        f"[profile default]\nrole_arn = {role('Prefixed')}\n"
        f"source_profile = base\n\n"
        f"[default]\nrole_arn = {role('Plain')}\nsource_profile = base\n",
    )
    run_awsroles(home_a, sts, None, {})
    n = len(sts.calls)
    run_botocore(monkeypatch, home_b, sts, None, {})
    assert assume_calls(sts)[0][0]["RoleArn"] == role("Prefixed")
    assert assume_calls(sts, n)[0][0]["RoleArn"] == role("Plain")


def test_profile_prefix_in_credentials_file_awsroles_ignores_botocore_keeps(
    sts, homes, monkeypatch
):
    home_a, home_b = homes
    creds = (
        BASE_CREDS + f"\n[profile dev]\nrole_arn = {role('CredPrefix')}\nsource_profile = base\n"
    )
    _one_profile(homes, "", creds)
    with pytest.raises(AwsRolesError):
        run_awsroles(home_a, sts, "dev", {})
    with pytest.raises(botocore.exceptions.ProfileNotFound):
        run_botocore(monkeypatch, home_b, sts, "dev", {})
    # botocore's profile is literally named "profile dev"; awsroles has no such profile
    assert run_botocore(monkeypatch, home_b, sts, "profile dev", {}).access_key.startswith("ASIA")
    with pytest.raises(AwsRolesError):
        run_awsroles(home_a, sts, "profile dev", {})


def test_empty_mfa_serial_is_an_error_on_both_sides(sts, homes, monkeypatch):
    """`mfa_serial =` must not silently turn MFA off: botocore fails (ParamValidationError),
    awsroles raises a typed error naming the key, before any STS call."""
    home_a, home_b = homes
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('EmptyMfa')}\nsource_profile = base\nmfa_serial =\n",
    )
    with pytest.raises(botocore.exceptions.ParamValidationError):
        run_botocore(monkeypatch, home_b, sts, "dev", {}, Prompts())
    with pytest.raises(ConfigError) as err:
        run_awsroles(home_a, sts, "dev", {}, Prompts())
    assert "mfa_serial" in str(err.value) and "dev" in str(err.value)
    assert sts.count("AssumeRole") == 0 and cache_files(home_a) == []


def test_empty_duration_seconds_is_a_typed_error(sts, homes, monkeypatch):
    """botocore silently drops an empty duration_seconds like any value that does not parse;
    awsroles raises a typed error naming the key."""
    home_a, home_b = homes
    _one_profile(
        homes,
        f"[profile dev]\nrole_arn = {role('EmptyDur')}\nsource_profile = base\n"
        f"duration_seconds =\n",
    )
    run_botocore(monkeypatch, home_b, sts, "dev", {})
    ((params, _),) = assume_calls(sts)
    assert "DurationSeconds" not in params  # botocore: dropped
    with pytest.raises(ConfigError) as err:
        run_awsroles(home_a, sts, "dev", {})
    assert "duration_seconds" in str(err.value)


def test_values_botocore_sends_and_sts_rejects_are_typed_errors_before_any_call(
    sts, homes, monkeypatch
):
    """botocore checks only model minimums; awsroles checks the STS limits and pattern too,
    so these fail with a typed error naming the key and no STS call (botocore: a 400)."""
    home_a, home_b = homes
    for key, value in (("duration_seconds", "50000"), ("role_session_name", "has space")):
        _one_profile(
            homes,
            f"[profile dev]\nrole_arn = {role('Checked')}\n"
            f"source_profile = base\n{key} = {value}\n",
        )
        with pytest.raises(ConfigError) as err:
            run_awsroles(home_a, sts, "dev", {})
        assert key in str(err.value) and "dev" in str(err.value)
        n = sts.count("AssumeRole")
        with pytest.raises(botocore.exceptions.ClientError, match="ValidationError"):
            run_botocore(monkeypatch, home_b, sts, "dev", {})
        assert sts.count("AssumeRole") == n + 1
        assert sts.count("AssumeRole", status=200) == 0
