"""Shared helpers for the conformance harness (tests/test_conformance.py).

Reads ONLY the vendored vectors under ``tests/conformance/`` (see its README.md and ORIGIN.md).

* :func:`all_cases` lists every case of every suite, each with a stable id
  ``<suite>/<case>`` (scenario directories by directory name, table cases by list index).
* :func:`make_root`, :func:`scenario_env`, :func:`rewrite_config_paths`: a scenario's ``fs/``
  copied into a throwaway root, its absolute paths (``/home``, ``/token.jwt``) rewritten to that
  root in the environment and inside the shared config files, as the replay instructions in
  tests/conformance/README.md ask.
* :func:`frozen_clock`: time frozen at the Unix epoch, as the upstream runner does for its
  IMDS scenarios (tests/conformance/README.md); every recorded credential expires after it, so
  nothing refreshes and no retry really sleeps.
* :func:`scenario_replay`: the recorded traffic as a :class:`ReplayTransport`.
* :func:`assert_credentials`: compare with a vector's ``Ok`` (expiry at second precision,
  absent keys as None).
* :func:`profile_chain`: an assume-role plan as a vector's ``ProfileChain``.
* :func:`prepare_login_case`: a ``login-provider-test-cases`` entry as a throwaway HOME (its
  config and its ``~/.aws/login/cache`` files) and a :class:`FakeSignin` scripted with its
  ``mockApiCalls``, on the clock :data:`LOGIN_FROZEN_AT`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

from awsroles.config.model import (
    LoginSource,
    NamedSource,
    ProcessSource,
    SsoSource,
    StaticKeys,
    WebIdentitySource,
)
from awsroles.testing.clock import FrozenClock
from awsroles.testing.replay import RecordedExchange, ReplayTransport, load_traffic

ROOT = Path(__file__).resolve().parent / "conformance" / "smithy-rs"
AWS_CONFIG = ROOT / "aws-config" / "test-data"
AWS_RUNTIME = ROOT / "aws-runtime" / "test-data"

#: suite id -> where its cases live (a JSON file or a folder of scenario directories).
SUITES: Dict[str, Path] = {
    "profile-parser-tests": AWS_RUNTIME / "profile-parser-tests.json",
    "file-location-tests": AWS_RUNTIME / "file-location-tests.json",
    "assume-role-tests": AWS_CONFIG / "assume-role-tests.json",
    "ecs-tests": AWS_CONFIG / "ecs-tests.json",
    "imds-endpoint-tests": AWS_CONFIG / "imds-config" / "imds-endpoint-tests.json",
    "login-provider-test-cases": AWS_CONFIG / "login-provider-test-cases.json",
    "default-credential-provider-chain": AWS_CONFIG / "default-credential-provider-chain",
    "profile-provider": AWS_CONFIG / "profile-provider",
    "default-token-provider-chain": AWS_CONFIG / "default-token-provider-chain",
}

#: Environment variables that hold a path inside the scenario's fake filesystem.
PATH_VARS = (
    "HOME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)
#: Profile keys that hold a path (rewritten inside the config and credentials files).
PATH_KEYS = ("web_identity_token_file",)

#: Frozen "now" for every scenario: before every recorded expiry (the earliest is 2009).
FROZEN_AT = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Frozen "now" for the login vectors: the one refresh that succeeds answers
#: ``expiresIn: 900`` and expects ``expiresAt: 2025-11-19T00:15:00Z``, so the vectors were
#: written for 2025-11-19T00:00:00Z (after their expired sessions of 2020, before the valid one
#: of 3025). :func:`prepare_login_case` checks that every case agrees.
LOGIN_FROZEN_AT = datetime(2025, 11, 19, tzinfo=timezone.utc)
#: The login vectors configure no region; the upstream runner gives its provider one. Any
#: works: the fake answers at whatever host the sign-in endpoint rules choose, and the DPoP
#: proof's ``htu`` must name that URL.
LOGIN_REGION = "us-east-1"


@dataclass(frozen=True)
class Case:
    """One conformance case. ``data`` is the table entry, or for scenario suites the
    directory (a :class:`Path`)."""

    suite: str
    name: str
    data: Any

    @property
    def id(self) -> str:
        return f"{self.suite}/{self.name}"


def _slug(text: str, limit: int = 60) -> str:
    text = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return text[:limit].rstrip("-")


def _load_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def _table(suite: str, entries: List[Mapping[str, Any]], label: str) -> List[Case]:
    # Table cases are keyed by list index (two file-location cases share one name).
    return [
        Case(suite, f"{i:02d}-{_slug(str(entry.get(label, '')))}", entry)
        for i, entry in enumerate(entries)
    ]


def suite_cases(suite: str) -> List[Case]:
    path = SUITES[suite]
    if path.is_dir():
        return [Case(suite, d.name, d) for d in sorted(path.iterdir()) if d.is_dir()]
    doc = _load_json(path)
    if suite == "profile-parser-tests":
        return _table(suite, doc["tests"], "name")
    if suite == "file-location-tests":
        return _table(suite, doc["tests"], "name")
    if suite == "assume-role-tests":
        return _table(suite, doc, "docs")
    if suite in ("ecs-tests", "imds-endpoint-tests"):
        return _table(suite, doc["tests"], "docs")
    if suite == "login-provider-test-cases":
        return _table(suite, doc, "documentation")
    raise KeyError(suite)


def all_cases() -> List[Case]:
    out: List[Case] = []
    for suite in SUITES:
        out.extend(suite_cases(suite))
    return out


# --- scenario directories ---------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    directory: Path
    env: Dict[str, str]
    result: Dict[str, Any]
    docs: str


def load_scenario(directory: Path) -> Scenario:
    env_file = directory / "env.json"
    env = _load_json(env_file) if env_file.exists() else {}
    test_case = _load_json(directory / "test-case.json")
    return Scenario(directory, dict(env), test_case["result"], test_case.get("docs", ""))


def make_root(directory: Path, tmp_path: Path) -> Path:
    """A copy of the scenario's ``fs/`` (the fake ``/``) under ``tmp_path``; empty when the
    scenario has none (no file exists)."""
    root = tmp_path / "fs"
    fs = directory / "fs"
    if fs.is_dir():
        shutil.copytree(str(fs), str(root))
    else:
        root.mkdir(parents=True)
    return root


def scenario_env(env: Mapping[str, str], root: Path) -> Dict[str, str]:
    """``env`` with absolute paths in :data:`PATH_VARS` moved under ``root``. Nothing is
    inherited from ``os.environ`` (a missing HOME stays missing)."""
    out = dict(env)
    for name in PATH_VARS:
        value = out.get(name)
        if value and value.startswith("/"):
            out[name] = str(root) + value
    return out


_PATH_LINE = re.compile(
    r"^(?P<lead>\s*(?:" + "|".join(PATH_KEYS) + r")\s*[=:]\s*)(?P<path>/\S*)(?P<rest>.*)$",
    re.IGNORECASE | re.MULTILINE,
)


def rewrite_config_paths(files: Iterable[Path], root: Path) -> None:
    """Point absolute paths in path-valued profile keys (``web_identity_token_file =
    /token.jwt``) at ``root``, in place."""
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text(encoding="utf-8")
        new = _PATH_LINE.sub(lambda m: m["lead"] + str(root) + m["path"] + m["rest"], text)
        if new != text:
            path.write_text(new, encoding="utf-8")


def prepare_scenario(directory: Path, tmp_path: Path) -> tuple:
    """``(scenario, env, root)``: the fake filesystem built, paths rewritten everywhere."""
    scenario = load_scenario(directory)
    root = make_root(directory, tmp_path)
    env = scenario_env(scenario.env, root)
    files = [root / "home" / ".aws" / "config", root / "home" / ".aws" / "credentials"]
    if "HOME" in env:
        files += [Path(env["HOME"]) / ".aws" / "config", Path(env["HOME"]) / ".aws" / "credentials"]
    for name in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        if env.get(name):
            files.append(Path(env[name]))
    rewrite_config_paths(dict.fromkeys(files), root)
    return scenario, env, root


def frozen_clock() -> FrozenClock:
    return FrozenClock(FROZEN_AT)


def scenario_exchanges(directory: Path) -> List[RecordedExchange]:
    return load_traffic(_load_json(directory / "http-traffic.json"))


def scenario_replay(
    directory: Path,
    exchanges: Optional[List[RecordedExchange]] = None,
    ignore_form_fields: Iterable[str] = (),
) -> ReplayTransport:
    return ReplayTransport(
        scenario_exchanges(directory) if exchanges is None else exchanges,
        check_form_bodies=True,
        ignore_form_fields=ignore_form_fields,
        name=f"{directory.parent.name}/{directory.name}",
    )


# --- results ----------------------------------------------------------------------------------


def assert_credentials(creds: Any, ok: Mapping[str, Any]) -> None:
    """``creds`` (Credentials or RefreshableCredentials) equals a vector's ``Ok`` document."""
    frozen = creds.get_frozen_credentials()
    got = {
        "access_key_id": frozen.access_key,
        "secret_access_key": frozen.secret_key,
        "session_token": frozen.token,
        "account_id": frozen.account_id,
        "expiry": None if frozen.expiry is None else int(frozen.expiry.timestamp()),
    }
    want = {key: ok.get(key) for key in got}
    assert got == want


def credentials_json(
    access_key: str = "ASIAREPLAYED",
    expiration: str = "2030-01-01T00:00:00Z",
    account_id: Optional[str] = None,
) -> bytes:
    """A container/IMDS credential document for the synthetic exchanges of table suites."""
    doc = {
        "Code": "Success",
        "Type": "AWS-HMAC",
        "AccessKeyId": access_key,
        "SecretAccessKey": "replayed-secret",
        "Token": "replayed-token",
        "Expiration": expiration,
    }
    if account_id:
        doc["AccountId"] = account_id
    return json.dumps(doc).encode()


def _profile_base(base: Any) -> Dict[str, Any]:
    if isinstance(base, StaticKeys):
        out = {"access_key_id": base.access_key, "secret_access_key": base.secret_key}
        if base.token:
            out["session_token"] = base.token
        if base.account_id:
            out["account_id"] = base.account_id
        return {"AccessKey": out}
    if isinstance(base, NamedSource):
        return {"NamedSource": base.name}
    if isinstance(base, WebIdentitySource):
        out = {"role_arn": base.role_arn, "web_identity_token_file": base.token_file}
        if base.role_session_name:
            out["role_session_name"] = base.role_session_name
        return {"WebIdentityToken": out}
    if isinstance(base, SsoSource):
        return {"Sso": dict(base.settings)}
    if isinstance(base, ProcessSource):
        return {"CredentialProcess": base.command}
    if isinstance(base, LoginSource):
        return {"Login": {"login_session": base.session}}
    raise AssertionError(base)


def profile_chain(plan: Any) -> list:
    """An assume-role plan as the vectors' ``ProfileChain``: its base, then one ``AssumeRole``
    per hop (assume-role-tests.json)."""
    out = [_profile_base(plan.base)]
    for hop in plan.hops:
        d = {"role_arn": hop.role_arn}
        if hop.external_id is not None:
            d["external_id"] = hop.external_id
        if hop.role_session_name:
            d["role_session_name"] = hop.role_session_name
        out.append({"AssumeRole": d})
    return out


# --- login-provider-test-cases ----------------------------------------------------------------


@dataclass(frozen=True)
class LoginCase:
    """A login vector made real: the environment for ``awsroles.resolve``, its HOME, the
    scripted fake sign-in endpoint and the frozen clock."""

    env: Dict[str, str]
    home: Path
    cache_dir: Path
    signin: Any
    clock: FrozenClock


def _login_profile(config_text: str) -> str:
    names = re.findall(r"^\[profile ([^\]]+)\]", config_text, re.MULTILINE)
    assert len(names) == 1, f"a login vector configures one profile, not {names}"
    return names[0].strip()


def _check_login_clock(data: Mapping[str, Any]) -> None:
    """A refresh the vector expects to succeed implies the moment it was written for."""
    from datetime import timedelta

    from awsroles.timestamps import parse_timestamp

    for call in data.get("mockApiCalls", []):
        output = call.get("response", {}).get("tokenOutput")
        got = [o for o in data["outcomes"] if o["result"] == "credentials"]
        if output and got:
            implied = parse_timestamp(got[0]["expiresAt"]) - timedelta(seconds=output["expiresIn"])
            assert implied == LOGIN_FROZEN_AT, implied


def prepare_login_case(data: Mapping[str, Any], tmp_path: Path) -> LoginCase:
    """HOME with the vector's config and cache files written as they are, the profile
    selected with ``AWS_PROFILE``, and a :class:`FakeSignin` (in memory, verifying every DPoP
    proof) that answers the vector's ``mockApiCalls`` in order and nothing else."""
    from awsroles.testing.fake_signin import FakeSignin
    from awsroles.testing.login_cache import write_document

    _check_login_clock(data)
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text(data["configContents"], encoding="utf-8")
    cache_dir = home / ".aws" / "login" / "cache"
    cache_dir.mkdir(parents=True)
    for name, doc in data["cacheContents"].items():
        write_document(str(cache_dir / name), doc)
    clock = FrozenClock(LOGIN_FROZEN_AT)
    signin = FakeSignin(clock=clock)
    for call in data.get("mockApiCalls", []):
        reply = call.get("response", {}).get("tokenOutput")
        status = call.get("responseCode", 200)
        signin.script(call["request"]["tokenInput"], status=status, reply=reply)
    env = {
        "HOME": str(home),
        "AWS_PROFILE": _login_profile(data["configContents"]),
        "AWS_REGION": LOGIN_REGION,
    }
    return LoginCase(env, home, cache_dir, signin, clock)


def assert_login_credentials(creds: Any, outcome: Mapping[str, Any]) -> None:
    """``creds`` equals a login vector's ``credentials`` outcome (expiry at second precision)."""
    from awsroles.timestamps import parse_timestamp

    frozen = creds.get_frozen_credentials()
    got = (frozen.access_key, frozen.secret_key, frozen.token, frozen.account_id, frozen.expiry)
    want = (
        outcome["accessKeyId"],
        outcome["secretAccessKey"],
        outcome["sessionToken"],
        outcome.get("accountId"),
        parse_timestamp(outcome["expiresAt"]),
    )
    assert got == want
    assert frozen.method == "login"


# --- botocore as the oracle for deliberate deviations -----------------------------------------


def botocore_profiles(config_path: Optional[str], credentials_path: Optional[str]) -> dict:
    """The profiles botocore reads from these files: the config file through
    ``configloader.load_config``, then the credentials file's sections key by key on top (the
    credentials file wins, as botocore's providers read it)."""
    from botocore.configloader import load_config, raw_config_parse

    profiles: Dict[str, Dict[str, str]] = {}
    if config_path and os.path.isfile(config_path):
        for name, values in load_config(config_path).get("profiles", {}).items():
            profiles[name] = {k: v for k, v in values.items() if isinstance(v, str)}
    if credentials_path and os.path.isfile(credentials_path):
        for name, values in raw_config_parse(credentials_path).items():
            profiles.setdefault(name, {}).update(values)
    return profiles


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_kw: Any) -> Iterable[bytes]:
        yield self._body


class _BotocoreSession:
    """Stands in for botocore's ``URLLib3Session``: sends through an awsroles transport."""

    def __init__(self, transport: Any) -> None:
        self._transport = transport

    def send(self, prepared: Any) -> Any:
        from botocore.awsrequest import AWSResponse

        from awsroles.transport.base import HttpRequest

        body = prepared.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        request = HttpRequest(prepared.method, prepared.url, dict(prepared.headers), body)
        response = self._transport(request)
        return AWSResponse(prepared.url, response.status, response.headers, _Raw(response.body))


def botocore_imds(transport: Any, env: Mapping[str, str], num_attempts: int = 1) -> Any:
    """botocore's own ``InstanceMetadataProvider`` (as ``create_credential_resolver`` builds
    it) over ``transport``: its credentials' ``(access_key, secret_key, token)``, or None.
    (botocore reads the system clock and extends expired IMDS credentials, so the expiry is
    not comparable.)"""
    from botocore.credentials import InstanceMetadataProvider
    from botocore.utils import InstanceMetadataFetcher

    fetcher = InstanceMetadataFetcher(timeout=1, num_attempts=num_attempts, env=dict(env))
    fetcher._session = _BotocoreSession(transport)
    creds = InstanceMetadataProvider(iam_role_fetcher=fetcher).load()
    if creds is None:
        return None
    return (creds._access_key, creds._secret_key, creds._token)
