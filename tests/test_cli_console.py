"""``awsroles console``: a federated sign-in URL for the AWS console, against a FakeSTS and a
local federation endpoint (``AWSROLES_FEDERATION_URL``), in-process and as a subprocess."""

from __future__ import annotations

import http.client
import json
import logging
import os
import socket
import stat
import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

import pytest

from awsroles.cache.key import cache_key
from awsroles.cli.console import (
    ConsoleError,
    FederationError,
    default_destination,
    federation_endpoint,
    run_console,
)
from awsroles.cli.main import main
from awsroles.testing.fake_federation import FakeFederation

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

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEV_KEY = cache_key({"RoleArn": role("Dev"), "RoleSessionName": "dev-session"})
SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
CODE = "246810"
CONFIG = (
    TWO_HOP
    + f"""
[profile mfa]
role_arn = {role("Mfa")}
source_profile = base
mfa_serial = {SERIAL}
"""
)
US_EAST_1_HOME = "https://us-east-1.console.aws.amazon.com/console/home?region=us-east-1"


@pytest.fixture
def fed(sts):
    with FakeFederation(sts=sts) as server:
        yield server


@pytest.fixture
def home(clean_env, monkeypatch, sts, fed):
    write_aws_files(clean_env, CONFIG)
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWSROLES_FEDERATION_URL", fed.url)
    return clean_env


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def dev_entry(home):
    with open(os.path.join(cache_dir(home), DEV_KEY + ".json")) as f:
        return json.load(f)["Credentials"]


def secrets_of(home):
    """Every secret the run could leak: the base user's, and each cached role session's."""
    found = [BASE_SECRET]
    for name in cache_files(home):
        with open(os.path.join(cache_dir(home), name)) as f:
            creds = json.load(f)["Credentials"]
        found += [creds["SecretAccessKey"], creds["SessionToken"]]
    return found


def login_params(fed, url):
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == fed.url
    return parse_qsl(parts.query, keep_blank_values=True, strict_parsing=True)


# --- the URL and the getSigninToken request -------------------------------------------------


def test_prints_one_login_url_with_the_federation_parameters(home, fed, capsys):
    code, out, err = run(capsys, "console", "--profile", "dev")
    assert code == 0 and err == ""
    assert out.endswith("\n") and out.count("\n") == 1
    params = login_params(fed, out.strip())
    assert params == [
        ("Action", "login"),
        ("Issuer", "awsroles"),
        ("Destination", US_EAST_1_HOME),
        ("SigninToken", fed.tokens[-1]),
    ]
    assert fed.count() == 1 and fed.count("getSigninToken", status=200) == 1


def test_the_session_json_holds_the_resolved_role_sessions_keys(home, sts, fed, capsys):
    assert run(capsys, "console", "-p", "dev")[0] == 0
    dev = dev_entry(home)
    (request,) = fed.requests
    assert request.session_id == dev["AccessKeyId"] and request.session_id.startswith("ASIA")
    assert request.fields == ("sessionId", "sessionKey", "sessionToken")
    assert request.session_duration is None
    # the fake signed a GetCallerIdentity with the Session's key, secret and token, and STS
    # took it: the three are the role session's own
    calls = [c for c in sts.calls if c.action == "GetCallerIdentity"]
    assert [(c.access_key, c.status) for c in calls] == [(dev["AccessKeyId"], 200)]


def test_the_printed_url_signs_in_at_the_endpoint_and_lands_on_the_destination(home, fed, capsys):
    _, out, _ = run(capsys, "console", "-p", "dev", "--destination", "https://x.example/s3/")
    parts = urlsplit(out.strip())
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    conn.request("GET", f"{parts.path}?{parts.query}")
    response = conn.getresponse()
    assert response.status == 302 and response.getheader("Location") == "https://x.example/s3/"
    conn.close()


def test_destination_replaces_the_regions_console_home(home, fed, capsys):
    page = "https://console.aws.amazon.com/cloudwatch/home?region=eu-west-1#alarms:"
    code, out, _ = run(capsys, "console", "-p", "dev", "--destination", page)
    assert code == 0 and dict(login_params(fed, out.strip()))["Destination"] == page


@pytest.mark.parametrize("page", ["s3", "javascript:alert(1)", "ftp://example.com/", ""])
def test_a_destination_that_is_not_a_url_is_refused_before_anything_is_called(
    home, sts, fed, capsys, page
):
    code, out, err = run(capsys, "console", "-p", "dev", "--destination", page)
    assert code == 2 and out == ""
    assert err.startswith("awsroles: error: --destination is not a URL")
    assert sts.count() == 0 and fed.count() == 0


@pytest.mark.parametrize("seconds", [900, 3600, 43200])
def test_duration_is_sent_as_session_duration(home, fed, capsys, seconds):
    code, out, _ = run(capsys, "console", "-p", "dev", "--duration", str(seconds))
    assert code == 0 and fed.requests[0].session_duration == str(seconds)
    assert "SessionDuration" not in out  # a getSigninToken parameter, not a login one


@pytest.mark.parametrize("seconds", ["899", "43201", "0", "-900"])
def test_a_duration_out_of_range_is_refused_before_anything_is_called(
    home, sts, fed, capsys, seconds
):
    code, out, err = run(capsys, "console", "-p", "dev", "--duration", seconds)
    assert code == 2 and out == ""
    assert err == (
        "awsroles: error: --duration must be from 900 to 43200 seconds (15 minutes to 12 "
        f"hours), got {seconds}.\n"
    )
    assert sts.count() == 0 and fed.count() == 0


def test_a_duration_that_is_not_a_number_is_a_usage_error(home, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["console", "-p", "dev", "--duration", "1h"])
    assert exc.value.code == 2 and "--duration" in capsys.readouterr().err


def test_a_long_duration_refused_by_the_endpoint_hints_at_role_chaining(home, fed, capsys):
    fed.fail_next(1, 400, b"Invalid Credentials Parameter")
    code, out, err = run(capsys, "console", "-p", "dev", "--duration", "7200")
    assert code == 2 and out == ""
    assert f"federation endpoint {fed.url} answered HTTP 400" in err
    assert "role chaining" in err and "Invalid Credentials" not in err


# --- partitions and the endpoint override ---------------------------------------------------


@pytest.mark.parametrize(
    "region, endpoint, page",
    [
        (None, "https://signin.aws.amazon.com/federation", "https://console.aws.amazon.com/"),
        (
            "eu-west-1",
            "https://signin.aws.amazon.com/federation",
            "https://eu-west-1.console.aws.amazon.com/console/home?region=eu-west-1",
        ),
        (
            "us-gov-west-1",
            "https://signin.amazonaws-us-gov.com/federation",
            "https://us-gov-west-1.console.amazonaws-us-gov.com/console/home?region=us-gov-west-1",
        ),
        (
            "cn-north-1",
            "https://signin.amazonaws.cn/federation",
            "https://cn-north-1.console.amazonaws.cn/console/home?region=cn-north-1",
        ),
    ],
)
def test_each_partition_has_its_endpoint_and_console(region, endpoint, page):
    assert federation_endpoint({}, region) == endpoint
    assert default_destination(region) == page


def test_a_partition_without_a_public_console_is_a_typed_error_naming_the_variable():
    with pytest.raises(ConsoleError, match="AWSROLES_FEDERATION_URL"):
        federation_endpoint({}, "us-iso-east-1")
    with pytest.raises(ConsoleError, match="--destination"):
        default_destination("us-isob-east-1")
    override = {"AWSROLES_FEDERATION_URL": "https://signin.example/federation"}
    assert federation_endpoint(override, "us-iso-east-1") == "https://signin.example/federation"


def test_a_bad_override_is_a_typed_error_naming_the_variable():
    with pytest.raises(ConsoleError, match="environment variable AWSROLES_FEDERATION_URL"):
        federation_endpoint({"AWSROLES_FEDERATION_URL": "signin.example"}, None)


def test_the_profiles_region_picks_the_console_home(home, fed, monkeypatch, capsys):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-gov-west-1")
    code, out, _ = run(capsys, "console", "-p", "dev")
    assert code == 0 and dict(login_params(fed, out.strip()))["Destination"] == (
        "https://us-gov-west-1.console.amazonaws-us-gov.com/console/home?region=us-gov-west-1"
    )


# --- credentials the console cannot use -----------------------------------------------------


def test_long_lived_keys_of_a_profile_are_a_typed_error_naming_it(home, sts, fed, capsys):
    code, out, err = run(capsys, "console", "-p", "base")
    assert code == 2 and out == ""
    assert err.startswith("awsroles: error: profile 'base': the console needs a role session")
    assert "role_arn" in err and BASE_SECRET not in err
    assert fed.count() == 0
    with pytest.raises(ConsoleError) as exc:
        run_console("base")
    assert exc.value.profile == "base" and not isinstance(exc.value, FederationError)


def test_long_lived_keys_from_the_environment_name_the_variable(home, fed, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", BASE_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", BASE_SECRET)
    code, _, err = run(capsys, "console")
    assert code == 2 and "AWS_ACCESS_KEY_ID in the environment" in err and "profile '" not in err
    assert fed.count() == 0


def test_a_get_session_token_session_is_refused_by_the_endpoint(home, sts, fed, monkeypatch):
    from awsroles.credentials import Credentials
    from awsroles.sts.client import StsClient
    from awsroles.sts.endpoint import StsEndpoint

    client = StsClient(StsEndpoint(sts.url, "us-east-1", "test"), transport=sts.transport())
    session = client.get_session_token(Credentials(BASE_KEY, BASE_SECRET), SERIAL, CODE)
    creds = session.credentials("mfa-session")
    key, secret, token = creds.access_key, creds.secret_key, creds.token
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_SESSION_TOKEN", token)
    with pytest.raises(FederationError) as exc:
        run_console(None)
    assert exc.value.status == 400 and not exc.value.recoverable
    assert "role sessions only" in str(exc.value)
    assert secret not in str(exc.value) and token not in str(exc.value)
    assert fed.requests[0].reason == "the credentials are not a role or federated session"


# --- endpoint failures ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "status, body, words",
    [
        (400, b"Bad Request", "answered HTTP 400"),
        (403, b"Forbidden", "answered HTTP 403"),
        (200, b"<html>not json</html>", "without a SigninToken"),
        (200, b"{}", "without a SigninToken"),
        (200, b'{"SigninToken": ""}', "without a SigninToken"),
        (200, b'["SigninToken"]', "without a SigninToken"),
    ],
)
def test_an_endpoint_answer_without_a_token_is_a_typed_error_without_secrets(
    home, fed, capsys, status, body, words
):
    fed.fail_next(1, status, body)
    code, out, err = run(capsys, "console", "-p", "dev")
    assert code == 2 and out == ""
    assert err.startswith("awsroles: error: the federation endpoint ")
    assert words in err and f"{fed.url} " in err and "?" not in err
    assert not any(text in err for text in ("Bad Request", "Forbidden", "not json"))
    for secret in secrets_of(home):
        assert secret not in err
    fed.fail_next(1, status, body)
    with pytest.raises(FederationError) as exc:
        run_console("dev")
    assert exc.value.status == status and not exc.value.recoverable


def test_server_errors_are_retried_then_reported(home, fed, capsys):
    fed.fail_next(3, 503)
    code, _, err = run(capsys, "console", "-p", "dev")
    assert code == 2 and "answered HTTP 503" in err and fed.count(status=503) == 3
    fed.reset()
    fed.fail_next(1, 500)
    code, out, _ = run(capsys, "console", "-p", "dev")
    assert code == 0 and fed.count() == 2 and fed.tokens[-1] in out


def test_an_endpoint_that_does_not_answer_is_a_typed_error_naming_it(home, monkeypatch, capsys):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/federation"
    monkeypatch.setenv("AWSROLES_FEDERATION_URL", url)
    code, out, err = run(capsys, "console", "-p", "dev")
    assert code == 2 and out == ""
    assert "could not get a sign-in token" in err and url in err and "Session" not in err
    for secret in secrets_of(home):
        assert secret not in err
    with pytest.raises(FederationError) as exc:
        run_console("dev")
    assert exc.value.recoverable and exc.value.status == 0


# --- MFA, and what reaches output and logs ----------------------------------------------------


def test_mfa_token_answers_an_mfa_roles_code(home, sts, fed, capsys):
    sts.add_role(role("Mfa"), mfa_serial=SERIAL, mfa_code=CODE)
    code, out, err = run(capsys, "console", "-p", "mfa", "--mfa-token", CODE)
    assert code == 0 and err == "" and fed.tokens[-1] in out
    (assume,) = [c for c in sts.calls if c.action == "AssumeRole"]
    assert assume.params["SerialNumber"] == SERIAL and assume.params["TokenCode"] == "****"
    assert fed.requests[0].session_id != BASE_KEY


def test_a_wrong_mfa_code_stops_before_the_endpoint(home, sts, fed, capsys):
    sts.add_role(role("Mfa"), mfa_serial=SERIAL, mfa_code=CODE)
    code, out, err = run(capsys, "console", "-p", "mfa", "--mfa-token", "000000")
    assert code == 2 and out == "" and fed.count() == 0


def test_no_secret_in_output_or_debug_log_and_the_token_only_in_the_url(home, fed, capsys, caplog):
    caplog.set_level(logging.DEBUG, logger="awsroles")
    code, out, err = run(capsys, "--debug", "console", "-p", "dev")
    assert code == 0 and "getSigninToken at " + fed.url in err
    logged = err + "\n".join(r.getMessage() for r in caplog.records)
    for secret in secrets_of(home):
        assert secret not in out and secret not in logged
    token = fed.tokens[-1]
    assert out.count(token) == 1 and token not in logged


# --- as a user runs it: a real process, a browser ---------------------------------------------


def browser_script(tmp_path, status=0):
    """A BROWSER command that records the URL it is given and exits with ``status``."""
    record = tmp_path / "opened.txt"
    script = tmp_path / "record-browser"
    script.write_text(f'#!/bin/sh\nprintf "%s" "$1" > "{record}"\nexit {status}\n')
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script, record


@pytest.fixture
def proc_env(tmp_path, sts, fed):
    home = tmp_path / "home"
    write_aws_files(home, CONFIG)
    # no DISPLAY, WAYLAND_DISPLAY or TERM: webbrowser tries only $BROWSER
    env = make_env(home, sts.url, AWSROLES_FEDERATION_URL=fed.url)
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8", PYTHONPATH=ROOT)
    return env


def awsroles(env, *args):
    return subprocess.run(
        [sys.executable, "-m", "awsroles", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_a_subprocess_prints_the_url(proc_env, fed, tmp_path):
    done = awsroles(proc_env, "console", "-p", "dev", "--duration", "1800")
    assert done.returncode == 0, done.stderr
    assert done.stderr == "" and fed.tokens[-1] in done.stdout
    assert dict(login_params(fed, done.stdout.strip()))["Destination"] == US_EAST_1_HOME
    assert fed.requests[0].session_duration == "1800"
    for secret in secrets_of(tmp_path / "home"):
        assert secret not in done.stdout + done.stderr


def test_open_hands_the_url_to_the_browser_and_prints_no_url(proc_env, fed, tmp_path):
    script, record = browser_script(tmp_path)
    proc_env["BROWSER"] = str(script)
    done = awsroles(proc_env, "console", "-p", "dev", "--open")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "" and "asked your browser to open the AWS console" in done.stderr
    opened = record.read_text()
    assert dict(login_params(fed, opened))["SigninToken"] == fed.tokens[-1]
    assert fed.tokens[-1] not in done.stderr
    for secret in secrets_of(tmp_path / "home"):
        assert secret not in done.stdout + done.stderr + opened


def test_open_falls_back_to_printing_the_url_when_no_browser_opens(proc_env, fed, tmp_path):
    script, record = browser_script(tmp_path, status=1)
    proc_env["BROWSER"] = str(script)
    done = awsroles(proc_env, "console", "-p", "dev", "--open")
    assert done.returncode == 0, done.stderr
    assert "no browser could be opened" in done.stderr and fed.tokens[-1] not in done.stderr
    assert dict(login_params(fed, done.stdout.strip()))["SigninToken"] == fed.tokens[-1]


def test_a_subprocess_error_is_exit_2_on_stderr(proc_env, fed):
    done = awsroles(proc_env, "console", "-p", "base")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("awsroles: error: profile 'base'")
    assert BASE_SECRET not in done.stderr and fed.count() == 0


# --- the fake endpoint itself -----------------------------------------------------------------


def _get(fed, query):
    conn = http.client.HTTPConnection(fed.host, fed.port, timeout=10)
    conn.request("GET", f"{fed.path}?{query}")
    response = conn.getresponse()
    body = response.read()
    conn.close()
    return response.status, body


@pytest.mark.parametrize(
    "session, extra, reason",
    [
        ("not json", "", "Session is not a JSON object"),
        ({"sessionId": "ASIAX", "sessionKey": "k"}, "", "Session needs"),
        ({"sessionId": "ASIAX", "sessionKey": "k", "sessionToken": ""}, "", "Session needs"),
        (
            {"sessionId": "ASIAX", "sessionKey": "k", "sessionToken": "t"},
            "&SessionDuration=60",
            "SessionDuration",
        ),
    ],
)
def test_the_fake_refuses_a_malformed_request_with_400(session, extra, reason):
    from urllib.parse import quote

    text = session if isinstance(session, str) else json.dumps(session)
    with FakeFederation() as fed:
        status, body = _get(fed, f"Action=getSigninToken&Session={quote(text)}{extra}")
        assert status == 400 and reason in body.decode() and fed.tokens == []
        assert fed.requests[0].reason.startswith(reason)
        assert fed.requests[0].session_id == (None if text == "not json" else "ASIAX")


def test_the_fake_checks_shape_only_without_sts_and_stores_no_secret():
    from urllib.parse import quote

    session = {"sessionId": "ASIAEXAMPLE", "sessionKey": "sk-PLANTED", "sessionToken": "tk"}
    with FakeFederation() as fed:
        status, body = _get(fed, "Action=getSigninToken&Session=" + quote(json.dumps(session)))
        assert status == 200 and json.loads(body) == {"SigninToken": fed.tokens[0]}
        assert "sk-PLANTED" not in repr(fed.requests)
        assert _get(fed, "Action=login&SigninToken=unknown&Destination=https://x/")[0] == 400
        assert _get(fed, "Action=nothing")[0] == 400


def test_the_fake_refuses_a_role_session_its_sts_no_longer_honours(home, sts, fed, capsys):
    assert run(capsys, "console", "-p", "dev")[0] == 0
    sts.expire(dev_entry(home)["AccessKeyId"])  # revoked: the cached entry still looks valid
    code, out, err = run(capsys, "console", "-p", "dev")
    assert code == 2 and out == "" and "answered HTTP 400" in err
    assert fed.requests[-1].reason == "the credentials were refused by STS (ExpiredTokenError)"


@pytest.mark.parametrize(
    "url, refused",
    [
        ("http://signin.example.com/federation", True),
        ("http://127.0.0.1:9/federation", False),
        ("https://signin.example.com/federation", False),
    ],
)
def test_a_federation_override_off_this_machine_must_be_https(url, refused):
    from awsroles.cli.console import ConsoleError, federation_endpoint

    env = {"AWSROLES_FEDERATION_URL": url}
    if refused:
        with pytest.raises(ConsoleError, match="must be an https URL"):
            federation_endpoint(env, "us-east-1")
    else:
        assert federation_endpoint(env, "us-east-1") == url
