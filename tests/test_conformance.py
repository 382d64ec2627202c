"""Every case of the AWS SDKs' shared test vectors, through awsroles' public entry points.

One parametrized test replays all suites vendored under tests/conformance/ (README.md there):

* scenario suites (``default-credential-provider-chain/*``, ``profile-provider/*``): the
  case's environment and file tree as a throwaway root, its recorded HTTP traffic served by
  :class:`awsroles.testing.replay.ReplayTransport` (method, URI, checked headers and STS form
  bodies compared), through ``awsroles.resolve(...)`` (the profile-provider suite with
  ``providers=[ProfileProvider()]``), on a clock frozen at the epoch, without a cache;
* ``default-token-provider-chain/*``: the SSO bearer token through
  ``awsroles.providers.sso_token``;
* ``login-provider-test-cases``: the ``login_session`` profile through ``awsroles.resolve``,
  its cache files in a throwaway HOME, its ``mockApiCalls`` answered by
  :class:`awsroles.testing.fake_signin.FakeSignin` (which verifies every DPoP proof), on the
  clock the vectors were written for;
* table suites: the parser through the shared-file loader, file locations through
  ``awsroles.config.files``, assume-role chains through ``ProfileProvider``'s plan (errors
  through ``resolve``), container and IMDS endpoint selection through ``resolve`` with a
  synthetic replay that checks the URLs requested.

Every case runs as written unless one of three tables names it:

* :data:`SKIPS`: genuinely foreign features, with the reason (the one skip table).
* :data:`DEVIATIONS`: deliberate differences from the vector, where botocore's behaviour is
  kept (docs/differences.md); the case asserts botocore's behaviour instead, with botocore
  itself as the oracle where it can run on the same input.
* :data:`BUGS`: library bugs, ``xfail(strict=True)`` until fixed.

Rust error strings are not ours: an error case asserts that an ``awsroles.AwsRolesError`` is
raised, of the class :data:`ERRORS` names for it. Request bodies are compared with the
recording except the fields :data:`BODY_NOT_COMPARED` lists, each with its reason.
:func:`test_counts_and_tables` pins the numbers. ``scripts/conformance_report.py`` turns a
run of this file (and of the botocore differential tests) into docs/conformance.md.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from typing import Any, Callable, Dict, NamedTuple, Optional

import pytest
from conformance_harness import (
    Case,
    all_cases,
    assert_credentials,
    assert_login_credentials,
    botocore_imds,
    botocore_profiles,
    credentials_json,
    frozen_clock,
    load_scenario,
    prepare_login_case,
    prepare_scenario,
    profile_chain,
    scenario_exchanges,
)

import awsroles
from awsroles import errors
from awsroles.errors import AwsRolesError, ConfigParseError, NoCredentialsError
from awsroles.testing.replay import RecordedExchange, ReplayTransport

from helpers import make_context

CASES = all_cases()
BY_ID = {case.id: case for case in CASES}

# --- the one skip table -----------------------------------------------------------------------

#: case id -> why it cannot run. Only genuinely foreign features belong here; none is left.
SKIPS: Dict[str, str] = {}


class Deviation(NamedTuple):
    reason: str
    check: Callable[..., Any]


#: case id -> deliberate deviation: the reason, and a check asserting botocore's behaviour
#: (filled in below the runners, next to their checks).
DEVIATIONS: Dict[str, Deviation] = {}

#: case id -> "BUG: ..." (xfail strict). Empty: no case fails because of a library bug.
BUGS: Dict[str, str] = {}

# --- error classes: Rust's wording is not ours; the class is -----------------------------------

_CHAIN = "default-credential-provider-chain/"
_PROFILE = "profile-provider/"


def _errors() -> Dict[str, type]:
    from awsroles.providers.login_token import LoginRefreshRequired, LoginTokenError
    from awsroles.providers.process import CredentialProcessError
    from awsroles.providers.sso_token import SsoTokenError

    e = errors
    ar = "assume-role-tests/"
    login = "login-provider-test-cases/"
    return {
        # no cache file, or one without a field botocore requires: log in again
        login + "01-failure-no-cache-file": LoginTokenError,
        login + "02-failure-missing-accesstoken": LoginTokenError,
        login + "03-failure-missing-refreshtoken": LoginTokenError,
        login + "04-failure-missing-clientid-in-cache": LoginTokenError,
        login + "05-failure-missing-dpopkey": LoginTokenError,
        # the sign-in service refused the refresh token (HTTP 400)
        login + "07-failure-expired-token-triggers-failed-refresh": LoginRefreshRequired,
        ar + "06-role-arn-without-source-source-profile": e.PartialCredentialsError,
        ar + "07-source-profile-and-credential-source-both-present": e.CredentialSourceError,
        # 08/09/10/12: the placeholder role_arn 'arn:foo' is refused first (awsroles checks
        # the ARN before any call); ROLE_ARN_PLACEHOLDER re-runs them with a valid ARN.
        ar + "08-partial-credentials-error-missing-secret": e.InvalidConfigError,
        ar + "09-partial-credentials-error-missing-access-key": e.InvalidConfigError,
        ar + "10-missing-credentials-error-empty-source-profile": e.InvalidConfigError,
        ar + "11-profile-only-contains-configuration": e.NoCredentialsError,
        ar + "12-missing-source-profile": e.InvalidConfigError,
        ar + "13-missing-root-profile-should-never-happen-in-practice": e.ProfileNotFoundError,
        ar + "16-assume-role-profile-infinite-loop": e.SourceProfileCycleError,
        ar + "17-infinite-loop-with-static-credentials": e.SourceProfileCycleError,
        ar + "20-web-identity-role": e.InvalidConfigError,
        ar + "23-invalid-sso-credentials-configuration-missing-account-id": e.InvalidConfigError,
        ar + "24-invalid-sso-credentials-configuration-missing-role-name": e.InvalidConfigError,
        # 25/27: a profile with only sso_session (a token configuration) supplies no
        # credentials in botocore's chain, so none here either (as assume-role 26).
        ar + "25-invalid-sso-token-configuration-sso-region-must-be-in-sso-se": (
            e.NoCredentialsError
        ),
        ar + "27-invalid-sso-token-configuration-sso-session-not-found": e.NoCredentialsError,
        "ecs-tests/00-all-fields-unset-provider-is-not-enabled": e.NoCredentialsError,
        "ecs-tests/02-invalid-full-uri": e.InvalidConfigError,
        "imds-endpoint-tests/04-invalid-endpoint-mode-override": e.InvalidConfigError,
        "imds-endpoint-tests/09-invalid-config-endpoint-mode": e.InvalidConfigError,
        "imds-endpoint-tests/12-invalid-uri": e.InvalidConfigError,
        _CHAIN + "eks_pod_identity_no_token_file": e.CredentialRetrievalError,
        _CHAIN + "imds_default_chain_error": e.NoCredentialsError,
        _CHAIN + "imds_disabled": e.NoCredentialsError,
        _CHAIN + "imds_no_iam_role": e.CredentialRetrievalError,
        _CHAIN + "imds_token_fail": e.CredentialRetrievalError,
        _CHAIN + "profile_overrides_web_identity": e.CredentialRetrievalError,
        _CHAIN + "sso_no_token_file": SsoTokenError,
        _CHAIN + "sso_server_error": e.CredentialRetrievalError,
        _CHAIN + "web_identity_source_profile_no_env": e.InvalidConfigError,
        _CHAIN + "web_identity_token_invalid_jwt": e.STSError,
        _PROFILE + "credential_process_failure": CredentialProcessError,
        _PROFILE + "credential_process_invalid": CredentialProcessError,
        _PROFILE + "empty_config": e.NoCredentialsError,
        _PROFILE + "invalid_config": e.ConfigParseError,
        _PROFILE + "invalid_sso_credentials_config": e.NoCredentialsError,
        _PROFILE + "sso_token": e.NoCredentialsError,
    }


#: case id -> the awsroles exception class an error case must raise (default AwsRolesError).
ERRORS: Dict[str, type] = _errors()

#: assume-role cases whose placeholder role_arn 'arn:foo' awsroles refuses before anything
#: else: run again with a well-formed ARN, they raise the error the vector is about.
ROLE_ARN_PLACEHOLDER: Dict[str, str] = {
    "assume-role-tests/08-partial-credentials-error-missing-secret": "PartialCredentialsError",
    "assume-role-tests/09-partial-credentials-error-missing-access-key": (
        "PartialCredentialsError"
    ),
    "assume-role-tests/10-missing-credentials-error-empty-source-profile": "InvalidConfigError",
    "assume-role-tests/12-missing-source-profile": "InvalidConfigError",
}

# --- request bodies: fields not compared with the recording, and why ----------------------------

#: A generated RoleSessionName must have botocore's form (checked instead of the recording).
GENERATED_NAME = re.compile(r"^botocore-session-\d+$")
_GENERATED = (
    "RoleSessionName is generated when not configured: the recording holds the Rust SDK's "
    "(assume-role-from-profile-<ms>); awsroles sends botocore's botocore-session-<seconds>, "
    "checked instead"
)
_INCONSISTENT = (
    "the recording was made with another configuration than the case's own files (the "
    "upstream runner does not compare bodies)"
)
GENERATED_SESSION_NAME = {
    _CHAIN + name
    for name in (
        "ecs_assume_role",
        "imds_assume_role",
        "web_identity_token_invalid_jwt",
        "web_identity_token_profile",
        "web_identity_token_source_profile",
    )
} | {
    _PROFILE + name
    for name in (
        "assume_role_override_global_env_url",
        "assume_role_override_global_profile_url",
        "assume_role_override_service_env_url",
        "assume_role_override_service_profile_url",
        "e2e_assume_role",
        "e2e_fips_and_dual_stack_sts",
        "region_override",
        "retry_on_error",
    )
}
#: case id -> {form field: why it is not compared with the recording}.
BODY_NOT_COMPARED: Dict[str, Dict[str, str]] = {
    case_id: {"RoleSessionName": _GENERATED} for case_id in GENERATED_SESSION_NAME
}
BODY_NOT_COMPARED[_CHAIN + "web_identity_token_env"] = {
    "RoleArn": _INCONSISTENT + " (recorded account 123456789123, env.json 123456789012)"
}
for _name in ("web_identity_token_profile", "web_identity_token_source_profile"):
    BODY_NOT_COMPARED[_CHAIN + _name].update(
        RoleArn=_INCONSISTENT + " (recorded role s3-reader in 134095065856)",
        WebIdentityToken=_INCONSISTENT + " (recorded token is not fs/token.jwt)",
    )
#: Compared after normalising both sides. docs/differences.md: whitespace around the web
#: identity token is dropped (the token files end with a newline; botocore sends it).
FORM_NORMALIZERS: Dict[str, Callable[[str], str]] = {"WebIdentityToken": str.strip}


def _common(**extra: Any) -> Dict[str, Any]:
    kw = {"clock": frozen_clock(), "cache": None, "background_refresh": False}
    kw.update(extra)
    return kw


# --- profile-parser-tests ---------------------------------------------------------------------


def _write_parser_files(case: Case, tmp_path: Path) -> Dict[str, str]:
    home = tmp_path / "home"
    aws = home / ".aws"
    aws.mkdir(parents=True)
    inp = case.data["input"]
    if "configFile" in inp:
        (aws / "config").write_text(inp["configFile"], encoding="utf-8")
    if "credentialsFile" in inp:
        (aws / "credentials").write_text(inp["credentialsFile"], encoding="utf-8")
    return {"HOME": str(home)}


def _loaded_profiles(env: Dict[str, str]) -> Dict[str, Any]:
    config = make_context(env=env).config
    return {
        "profiles": {name: dict(p.values) for name, p in config.profiles.items()},
        "sso_sessions": {name: dict(s.values) for name, s in config.sso_sessions.items()},
    }


def run_profile_parser(case: Case, tmp_path: Path) -> None:
    env = _write_parser_files(case, tmp_path)
    expected = case.data["output"]
    if "errorContaining" in expected:
        with pytest.raises(ConfigParseError) as info:
            _loaded_profiles(env)
        assert expected["errorContaining"] in str(info.value)
        return
    got = _loaded_profiles(env)
    assert got["profiles"] == expected["config"]["profiles"]
    if "sso_sessions" in expected["config"]:
        assert got["sso_sessions"] == expected["config"]["sso_sessions"]


def parser_as_botocore(case: Case, tmp_path: Path) -> None:
    """The profiles botocore reads from the same files (it accepts what the vector rejects or
    drops); and the vector's own expectation really fails (the entry is not stale)."""
    env = _write_parser_files(case, tmp_path)
    aws = Path(env["HOME"]) / ".aws"
    want = botocore_profiles(str(aws / "config"), str(aws / "credentials"))
    got = _loaded_profiles(env)["profiles"]
    assert got == want
    expected = case.data["output"]
    assert "errorContaining" in expected or got != expected["config"]["profiles"]


# --- file-location-tests ----------------------------------------------------------------------


def run_file_location(case: Case, tmp_path: Path) -> None:
    from awsroles.config.files import locate, selected_profile

    data = case.data
    found = locate(data["environment"], data["platform"])
    assert found.config_file == data["configLocation"]
    assert found.credentials_file == data["credentialsLocation"]
    if "profile" in data:
        assert selected_profile(data["environment"]) == data["profile"]


# --- assume-role-tests ------------------------------------------------------------------------


def _write_profiles(inp: Dict[str, Any], tmp_path: Path) -> Dict[str, str]:
    lines = []
    for name, values in inp["profiles"].items():
        lines.append("[default]" if name == "default" else f"[profile {name}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
    for name, values in inp.get("sso_sessions", {}).items():
        lines.append(f"[sso-session {name}]")
        lines += [f"{key} = {value}" for key, value in values.items()]
    aws = tmp_path / "home" / ".aws"
    aws.mkdir(parents=True)
    (aws / "config").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {"HOME": str(tmp_path / "home")}


def run_assume_role(case: Case, tmp_path: Path) -> None:
    from awsroles.resolver.profile import ProfileProvider

    inp, expected = case.data["input"], case.data["output"]
    env = _write_profiles(inp, tmp_path)
    selected = inp["selected_profile"]
    if "ProfileChain" in expected:
        plan = ProfileProvider().plan(make_context(selected, env=env))
        assert plan is not None
        assert profile_chain(plan) == expected["ProfileChain"]
        return
    _assume_role_error(selected, env, ERRORS.get(case.id, AwsRolesError), case.id)
    if case.id in ROLE_ARN_PLACEHOLDER:
        fixed = json.loads(
            json.dumps(inp).replace('"arn:foo"', '"arn:aws:iam::123456789012:role/foo"')
        )
        env = _write_profiles(fixed, tmp_path / "valid-arn")
        wanted = getattr(errors, ROLE_ARN_PLACEHOLDER[case.id])
        _assume_role_error(selected, env, wanted, case.id)


def _assume_role_error(selected: str, env: Dict[str, str], error: type, name: str) -> None:
    from awsroles.resolver.profile import ProfileProvider

    replay = ReplayTransport([], name=name)
    with pytest.raises(error) as info:
        awsroles.resolve(
            selected, providers=[ProfileProvider()], env=env, transport=replay, **_common()
        ).get_frozen_credentials()
    assert type(info.value) is error or error is AwsRolesError, type(info.value)
    replay.assert_all_consumed()


def sso_token_profile_has_no_credentials(case: Case, tmp_path: Path) -> None:
    """botocore's chain skips a profile with only ``sso_session``: no credentials there."""
    from awsroles.errors import NoCredentialsError
    from awsroles.resolver.profile import ProfileProvider

    inp = case.data["input"]
    env = _write_profiles(inp, tmp_path)
    selected = inp["selected_profile"]
    assert ProfileProvider().plan(make_context(selected, env=env)) is None
    with pytest.raises(NoCredentialsError):
        awsroles.resolve(
            selected,
            providers=[ProfileProvider()],
            env=env,
            transport=ReplayTransport([], name=case.id),
            **_common(),
        )
    from botocore.credentials import SSOProvider

    profiles = {selected: inp["profiles"][selected]}
    config = {"profiles": profiles, "sso_sessions": inp.get("sso_sessions", {})}
    boto = SSOProvider(lambda: config, client_creator=None, profile_name=selected)
    assert boto.load() is None


# --- ecs-tests / imds-endpoint-tests: synthetic replays ----------------------------------------


def run_ecs(case: Case, tmp_path: Path) -> None:
    from awsroles.providers.container import ContainerProvider

    env, result = case.data["env"], case.data["result"]
    if "Ok" in result:
        replay = ReplayTransport(
            [RecordedExchange("GET", result["Ok"], response_body=credentials_json())],
            name=case.id,
        )
        creds = awsroles.resolve(
            providers=[ContainerProvider()], env=env, transport=replay, **_common()
        )
        assert creds.get_frozen_credentials().access_key == "ASIAREPLAYED"
    else:
        replay = ReplayTransport([], name=case.id)
        with pytest.raises(ERRORS.get(case.id, AwsRolesError)):
            awsroles.resolve(
                providers=[ContainerProvider()], env=env, transport=replay, **_common()
            ).get_frozen_credentials()
    replay.assert_all_consumed()


def _imds_exchanges(token_url: str) -> list:
    base = token_url[: -len("/latest/api/token")]
    token = {"x-aws-ec2-metadata-token": ["replayed-imds-token"]}
    roles = base + "/latest/meta-data/iam/security-credentials/"
    return [
        RecordedExchange(
            "PUT",
            token_url,
            response_headers={"x-aws-ec2-metadata-token-ttl-seconds": "21600"},
            response_body=b"replayed-imds-token",
        ),
        RecordedExchange("GET", roles, request_headers=token, response_body=b"replayed-role"),
        RecordedExchange(
            "GET", roles + "replayed-role", request_headers=token, response_body=credentials_json()
        ),
    ]


def run_imds_endpoint(case: Case, tmp_path: Path) -> None:
    from awsroles.providers.imds import ImdsProvider

    data = case.data
    for name, text in data["fs"].items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    env = {"HOME": str(tmp_path)}
    for name, value in data["env"].items():
        env[name] = str(tmp_path / value) if name == "AWS_CONFIG_FILE" else value
    provider = ImdsProvider(endpoint=data.get("endpoint_override"), mode=data.get("mode_override"))
    result = data["result"]
    if "Ok" in result:
        replay = ReplayTransport(_imds_exchanges(result["Ok"]), name=case.id)
        creds = awsroles.resolve(providers=[provider], env=env, transport=replay, **_common())
        assert creds.get_frozen_credentials().access_key == "ASIAREPLAYED"
    else:
        replay = ReplayTransport([], name=case.id)
        with pytest.raises(ERRORS.get(case.id, AwsRolesError)):
            awsroles.resolve(
                providers=[provider], env=env, transport=replay, **_common()
            ).get_frozen_credentials()
    replay.assert_all_consumed()


# --- scenario suites --------------------------------------------------------------------------


def _resolve_scenario(case: Case, env: Dict[str, str], replay: ReplayTransport) -> Any:
    from awsroles.resolver.profile import ProfileProvider

    kw = _common(env=env, transport=replay, process_timeout=10)
    if case.suite == "profile-provider":
        kw["providers"] = [ProfileProvider()]
    return awsroles.resolve(**kw).get_frozen_credentials()


def run_scenario(
    case: Case,
    tmp_path: Path,
    *,
    exchanges: Any = None,
    extra_env: Optional[Dict[str, str]] = None,
    edit_config: Optional[Callable[[str], str]] = None,
    result: Optional[Dict[str, Any]] = None,
    error: Optional[type] = None,
) -> Optional[BaseException]:
    """Replay one scenario directory through ``awsroles.resolve``; the error raised, if any.
    The keyword arguments are for :data:`DEVIATIONS` only: more environment, an edited config
    file, other traffic, another expected result."""
    scenario, env, root = prepare_scenario(case.data, tmp_path)
    env.update(extra_env or {})
    if edit_config is not None:
        config = root / "home" / ".aws" / "config"
        config.write_text(edit_config(config.read_text(encoding="utf-8")), encoding="utf-8")
    replay = ReplayTransport(
        scenario_exchanges(case.data) if exchanges is None else exchanges,
        check_form_bodies=True,
        ignore_form_fields=BODY_NOT_COMPARED.get(case.id, {}),
        form_normalizers=FORM_NORMALIZERS,
        name=case.id,
    )
    result = scenario.result if result is None else result
    raised = None
    if "Ok" in result:
        assert_credentials(_resolve_scenario(case, env, replay), result["Ok"])
    else:
        with pytest.raises(error or ERRORS.get(case.id, AwsRolesError)) as info:
            _resolve_scenario(case, env, replay)
        raised = info.value
    replay.assert_all_consumed()
    if case.id in GENERATED_SESSION_NAME:
        sts = [r for r in replay.requests if _form_field(r, "Action")]
        names = [_form_field(r, "RoleSessionName") for r in sts]
        assert names and all(GENERATED_NAME.match(n or "") for n in names), names
    return raised


def _form_field(request: Any, name: str) -> Optional[str]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl((request.body or b"").decode())).get(name)


def run_token_chain(case: Case, tmp_path: Path) -> None:
    """The SSO bearer token for the selected profile, from the CLI v2 token cache."""
    from awsroles.providers.sso_token import SsoTokenSource, parse_time, read_token

    scenario, env, _root = prepare_scenario(case.data, tmp_path)
    replay = ReplayTransport(scenario_exchanges(case.data), name=case.id)
    ctx = make_context(env=env, transport=replay, clock=frozen_clock(), cache=None)
    profile = ctx.config.profile(ctx.profile_name)
    session_name = profile.get("sso_session")
    session = ctx.config.sso_sessions[session_name].values
    source = SsoTokenSource(
        ctx,
        profile=ctx.profile_name,
        session_name=session_name,
        start_url=session["sso_start_url"],
        sso_region=session["sso_region"],
        oidc_url=lambda: pytest.fail("no token refresh expected"),
    )
    ok = scenario.result["Ok"]
    assert source.token() == ok["token"]
    _, expires = read_token(
        source.path, profile=source.profile, session_name=session_name, start_url=source.start_url
    )
    assert expires == parse_time(ok["expiration"])
    replay.assert_all_consumed()


def run_login(case: Case, tmp_path: Path) -> None:
    """A ``login_session`` profile resolved from the vector's cache file; its refresh (if
    any) answered by the scripted fake, which checks each request body against the vector's
    ``tokenInput`` and verifies its DPoP proof; then the vector's outcomes in order."""
    data = case.data
    login = prepare_login_case(data, tmp_path)
    kw = _common(env=login.env, transport=login.signin.transport(), clock=login.clock)
    creds: Any = None
    for outcome in data["outcomes"]:
        result = outcome["result"]
        if result == "error":
            with pytest.raises(ERRORS.get(case.id, AwsRolesError)):
                awsroles.resolve(**kw).get_frozen_credentials()
        elif result == "credentials":
            creds = awsroles.resolve(**kw)
            assert_login_credentials(creds, outcome)
        elif result == "cacheContents":
            files = {k: v for k, v in outcome.items() if k != "result"}
            on_disk = sorted(p.name for p in login.cache_dir.iterdir() if p.suffix == ".json")
            assert on_disk == sorted(files)
            for name, doc in files.items():
                assert json.loads((login.cache_dir / name).read_text(encoding="utf-8")) == doc
        else:
            raise AssertionError(f"unknown outcome {result!r}")
    signin = login.signin
    assert signin.scripts_left() == 0, "a mocked call was never made"
    assert len(signin.calls) == len(data.get("mockApiCalls", []))
    assert all(call.proof == "ok" for call in signin.calls), signin.calls
    assert not [c for c in signin.calls if "differs" in c.reason], "a body is not the vector's"


RUNNERS: Dict[str, Callable[[Case, Path], None]] = {
    "profile-parser-tests": run_profile_parser,
    "file-location-tests": run_file_location,
    "assume-role-tests": run_assume_role,
    "ecs-tests": run_ecs,
    "imds-endpoint-tests": run_imds_endpoint,
    "default-credential-provider-chain": run_scenario,
    "profile-provider": run_scenario,
    "default-token-provider-chain": run_token_chain,
    "login-provider-test-cases": run_login,
}


# --- deliberate deviations: botocore's behaviour asserted instead -----------------------------


def imds_attempts_as_botocore(case: Case, tmp_path: Path) -> None:
    """botocore makes ONE attempt per IMDS request by default (metadata_service_num_attempts);
    the Rust SDK retries. So after the recorded 503 on the token PUT,
    botocore and awsroles fall back to IMDSv1 (a GET without token). With botocore's own
    setting for two attempts the recording replays exactly, for both."""
    recorded = scenario_exchanges(case.data)
    roles = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    v1 = [recorded[0], RecordedExchange("GET", roles, status=404)]
    run_scenario(case, tmp_path / "default", exchanges=v1, result={}, error=NoCredentialsError)
    oracle = ReplayTransport(v1, name="botocore")
    assert botocore_imds(oracle, {}) is None
    oracle.assert_all_consumed()

    two = {"AWS_METADATA_SERVICE_NUM_ATTEMPTS": "2"}
    run_scenario(case, tmp_path / "two-attempts", extra_env=two)
    oracle = ReplayTransport(recorded, name="botocore")
    ok = load_scenario(case.data).result["Ok"]
    want = (ok["access_key_id"], ok["secret_access_key"], ok["session_token"])
    assert botocore_imds(oracle, {}, num_attempts=2) == want
    oracle.assert_all_consumed()


def imds_v1_fallback_as_botocore(case: Case, tmp_path: Path) -> None:
    """A 403 on the token PUT means "no token" to botocore, which then tries
    IMDSv1; the Rust SDK stops ("IMDS is disabled"). The v1 GET is answered 403 too (IMDS
    disabled): botocore's IMDS provider finds nothing, so its credential_source =
    Ec2InstanceMetadata fails; awsroles raises the IMDS error, as the vector expects."""
    roles = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    exchanges = scenario_exchanges(case.data) + [RecordedExchange("GET", roles, status=403)]
    run_scenario(case, tmp_path, exchanges=exchanges)
    oracle = ReplayTransport(exchanges, name="botocore")
    assert botocore_imds(oracle, {}) is None
    oracle.assert_all_consumed()


def _wrap_in_shell(config: str) -> str:
    def wrap(match: Any) -> str:
        return match["lead"] + "sh -c " + shlex.quote(match["command"].strip())

    pattern = r"^(?P<lead>credential_process\s*=\s*)(?P<command>.+)$"
    return re.sub(pattern, wrap, config, flags=re.MULTILINE)


def process_without_shell(case: Case, tmp_path: Path) -> None:
    """credential_process runs without a shell, as in botocore (docs/providers.md); the Rust
    SDK runs ``sh -c``. The vector's command needs a shell (a pipe, or the builtin ``exit``):
    as written it fails, in awsroles and in botocore's ProcessProvider alike. Written as
    ``sh -c '<command>'`` it gives the vector's result."""
    from botocore.credentials import ProcessProvider

    from awsroles.providers.process import CredentialProcessError

    run_scenario(case, tmp_path / "as-written", result={}, error=CredentialProcessError)
    _scenario, env, _root = prepare_scenario(case.data, tmp_path / "botocore")
    command = make_context(env=env).config.profiles["default"].values["credential_process"]
    config = {"profiles": {"default": {"credential_process": command}}}
    with pytest.raises(Exception):  # noqa: B017 - botocore raises raw JSONDecodeError/OSError
        ProcessProvider("default", lambda: config).load()
    run_scenario(case, tmp_path / "sh-c", edit_config=_wrap_in_shell)


def sso_retries_the_5xx(case: Case, tmp_path: Path) -> None:
    """The recording holds one attempt; awsroles retries a 5xx from the SSO portal (3
    attempts; botocore's SSO client, legacy retry mode, makes 5), so the recorded 503 answers
    each attempt. The error is
    recoverable (static stability applies on a refresh) and carries the status."""
    exchanges = scenario_exchanges(case.data) * 3
    raised = run_scenario(case, tmp_path, exchanges=exchanges)
    assert raised is not None and raised.recoverable and raised.status == 503


def _parser(reason: str) -> Deviation:
    return Deviation(reason, parser_as_botocore)


DEVIATIONS.update(
    {
        "profile-parser-tests/02-profile-names-support-alphanumeric-characters-and": _parser(
            "docs/differences.md: profile names with characters outside the vectors' set "
            "([profile foo!bar]) are kept and selectable, as botocore keeps them"
        ),
        "profile-parser-tests/16-property-definitions-must-contain-an-equals-sign": _parser(
            "docs/differences.md: `key : value` is accepted (colon separator), as botocore's "
            "configparser does"
        ),
        "profile-parser-tests/40-invalid-profile-names-are-ignored": _parser(
            "docs/differences.md: credentials-file [in valid 2] is kept, as botocore keeps it "
            "([profile in valid] is dropped by both)"
        ),
        "assume-role-tests/26-sso-token-profile-selected": Deviation(
            "docs/differences.md: a profile with only sso_session (no sso_account_id / "
            "sso_role_name) supplies no credentials; botocore's SSOProvider returns None",
            sso_token_profile_has_no_credentials,
        ),
        _CHAIN + "imds_default_chain_retries": Deviation(
            "botocore's default is one IMDS attempt (metadata_service_num_attempts = 1), "
            "then the IMDSv1 fallback; the recording replays with two attempts",
            imds_attempts_as_botocore,
        ),
        _CHAIN + "imds_token_fail": Deviation(
            "a 403 on the IMDS token PUT falls back to IMDSv1, as botocore (the Rust SDK "
            "stops at once); the v1 GET is answered 403 too, then the same error outcome",
            imds_v1_fallback_as_botocore,
        ),
        _CHAIN + "sso_server_error": Deviation(
            "the recording holds one attempt; awsroles retries the SSO portal's 5xx (3 "
            "attempts; botocore's legacy retry mode makes 5), so the recorded 503 is served "
            "to each; same error outcome",
            sso_retries_the_5xx,
        ),
    }
)
for _name in ("credential_process", "credential_process_account_id_fallback"):
    DEVIATIONS[_PROFILE + _name] = Deviation(
        "credential_process runs without a shell, as botocore (the Rust SDK uses sh -c): "
        "the vector's `echo ... | base64 --decode` fails as written (botocore too); "
        "written as sh -c '...' it gives the vector's credentials",
        process_without_shell,
    )
DEVIATIONS[_PROFILE + "credential_process_failure"] = Deviation(
    "credential_process runs without a shell, as botocore: `exit` is a shell builtin, not a "
    "program, so it fails for that reason as written; as sh -c 'exit 1' it fails on the "
    "exit status, as the vector means",
    process_without_shell,
)


# --- the test ---------------------------------------------------------------------------------


def _param(case: Case) -> Any:
    marks = []
    if case.id in SKIPS:
        marks.append(pytest.mark.skip(reason=SKIPS[case.id]))
    elif case.id in BUGS:
        marks.append(pytest.mark.xfail(strict=True, reason=BUGS[case.id]))
    return pytest.param(case, id=case.id, marks=marks)


@pytest.mark.parametrize("case", [_param(c) for c in CASES])
def test_conformance_case(case: Case, tmp_path: Path, record_property: Any) -> None:
    # Read back by scripts/conformance_report.py from the junit XML.
    record_property("suite", case.suite)
    deviation = DEVIATIONS.get(case.id)
    if deviation is not None:
        record_property("deviation", deviation.reason)
        deviation.check(case, tmp_path)
    else:
        RUNNERS[case.suite](case, tmp_path)


#: suite -> (cases, skipped, deviations, xfailed bugs). Every other case passes as written.
#: Change on purpose (a new vector, a new skip), never to make the test pass.
EXPECTED_COUNTS = {
    "profile-parser-tests": (65, 0, 3, 0),
    "file-location-tests": (9, 0, 0, 0),
    "assume-role-tests": (28, 0, 1, 0),
    "ecs-tests": (11, 0, 0, 0),
    "imds-endpoint-tests": (14, 0, 0, 0),
    "login-provider-test-cases": (8, 0, 0, 0),
    "default-credential-provider-chain": (29, 0, 3, 0),
    "profile-provider": (18, 0, 3, 0),
    "default-token-provider-chain": (3, 0, 0, 0),
}


def test_counts_and_tables() -> None:
    """Every vector is collected once, every table entry names a real case, and the numbers
    of skipped, deviating and known-bug cases are the ones written down."""
    assert len(BY_ID) == len(CASES) == 185
    for table in (SKIPS, DEVIATIONS, BUGS, ERRORS, BODY_NOT_COMPARED, ROLE_ARN_PLACEHOLDER):
        stale = set(table) - set(BY_ID)
        assert not stale, f"entries that name no case: {sorted(stale)}"
    assert not set(SKIPS) & (set(DEVIATIONS) | set(BUGS)), "a skipped case is not also run"
    assert all(reason.strip() for reason in SKIPS.values())
    assert all(reason.startswith("BUG: ") for reason in BUGS.values())
    assert all(d.reason.strip() for d in DEVIATIONS.values())
    counts: Dict[str, list] = {suite: [0, 0, 0, 0] for suite in EXPECTED_COUNTS}
    for case in CASES:
        row = counts[case.suite]
        row[0] += 1
        row[1] += case.id in SKIPS
        row[2] += case.id in DEVIATIONS
        row[3] += case.id in BUGS
    assert {suite: tuple(row) for suite, row in counts.items()} == EXPECTED_COUNTS
    # Every vector runs: the login_session provider, the last one skipped, is implemented.
    assert not SKIPS


# --- the replay transport itself is strict ------------------------------------------------------


def _sts_exchange(**over: Any) -> RecordedExchange:
    kw = dict(
        method="POST",
        uri="https://sts.us-east-1.amazonaws.com/",
        request_headers={"content-type": ["application/x-www-form-urlencoded"]},
        request_body=b"Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&TokenCode=1",
        response_body=b"<ok/>",
    )
    kw.update(over)
    return RecordedExchange(**kw)


def _post(url: str, body: bytes, content_type: str = "application/x-www-form-urlencoded"):
    from awsroles.transport.base import HttpRequest

    return HttpRequest("POST", url, {"Content-Type": content_type}, body)


def test_replay_serves_in_order_and_checks_uri_headers_and_form_bodies() -> None:
    from awsroles.testing.replay import ReplayMismatch

    body = b"TokenCode=1&RoleArn=arn:aws:iam::1:role/x&Action=AssumeRole"  # any order
    replay = ReplayTransport([_sts_exchange()], check_form_bodies=True)
    charset = "application/x-www-form-urlencoded; charset=utf-8"
    response = replay(_post("https://STS.us-east-1.amazonaws.com:443", body, charset))
    assert (response.status, response.body) == (200, b"<ok/>")
    replay.assert_all_consumed()
    with pytest.raises(ReplayMismatch, match="beyond the 1 recorded"):
        replay(_post("https://sts.us-east-1.amazonaws.com/", body))
    with pytest.raises(ReplayMismatch):  # remembered even when the caller swallowed it
        replay.assert_all_consumed()

    for url, sent, ctype, fragment in (
        ("https://sts.us-east-2.amazonaws.com/", body, charset, "host"),
        ("https://sts.us-east-1.amazonaws.com/x", body, charset, "path"),
        ("http://sts.us-east-1.amazonaws.com/", body, charset, "scheme"),
        ("https://sts.us-east-1.amazonaws.com/?a=1", body, charset, "query"),
        ("https://sts.us-east-1.amazonaws.com/", body, "application/json", "content-type"),
        ("https://sts.us-east-1.amazonaws.com/", body.replace(b"=1", b"=2"), charset, "TokenCode"),
    ):
        strict = ReplayTransport([_sts_exchange()], check_form_bodies=True)
        with pytest.raises(ReplayMismatch, match=fragment) as info:
            strict(_post(url, sent, ctype))
        assert "=2" not in str(info.value)  # a secret field's value is never shown
    unused = ReplayTransport([_sts_exchange()])
    with pytest.raises(ReplayMismatch, match="never requested"):
        unused.assert_all_consumed()


def test_replay_checks_the_imds_token_header_both_ways() -> None:
    from awsroles.testing.replay import ReplayMismatch
    from awsroles.transport.base import HttpRequest

    url = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
    recorded = RecordedExchange("GET", url, {"x-aws-ec2-metadata-token": ["t1"]})
    for headers in ({}, {"X-aws-ec2-metadata-token": "t2"}):
        with pytest.raises(ReplayMismatch, match="x-aws-ec2-metadata-token"):
            ReplayTransport([recorded])(HttpRequest("GET", url, headers))
    with pytest.raises(ReplayMismatch, match="sent but not recorded"):
        ReplayTransport([RecordedExchange("GET", url)])(
            HttpRequest("GET", url, {"x-aws-ec2-metadata-token": "t1"})
        )
    ok = ReplayTransport([recorded])
    assert ok(HttpRequest("GET", url, {"X-Aws-Ec2-Metadata-Token": "t1"})).status == 200
    ok.assert_all_consumed()


def test_replay_reads_the_recording_format() -> None:
    doc = json.loads(
        (BY_ID["profile-provider/retry_on_error"].data / "http-traffic.json").read_text(
            encoding="utf-8"
        )
    )
    replay = ReplayTransport.from_json(doc)
    assert [(e.method, e.status) for e in replay.exchanges] == [("POST", 503), ("POST", 200)]
    assert b"AssumeRoleResponse" in replay.exchanges[1].response_body
    assert replay.exchanges[0].request_body.startswith(b"Action=AssumeRole")
