"""The local credential server: ``awsroles serve`` and ``awsroles exec --server``, with boto3,
botocore and the real AWS CLI as its clients (their container credentials provider)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import pytest

import awsroles
from awsroles.errors import InvalidConfigError
from awsroles.integrations.server import CredentialServer

from helpers import (
    ACCOUNT,
    BASE_KEY,
    BASE_SECRET,
    TWO_HOP,
    make_env,
    need_aws,
    role,
    write_aws_files,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
DEV_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev-session"


def _get(url, token=None, method="GET"):
    request = urllib.request.Request(url, method=method)
    if token is not None:
        request.add_header("Authorization", token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    write_aws_files(h, TWO_HOP)
    return h


# --- the server object ----------------------------------------------------------------------


def test_it_serves_the_container_format_to_holders_of_the_token(home, fake_sts, clock):
    creds = awsroles.resolve("dev", env=make_env(home, fake_sts.url), clock=clock)
    with CredentialServer(creds) as server:
        assert server.url.startswith("http://127.0.0.1:") and server.port > 0
        assert len(server.token) >= 43  # 32 random bytes, URL-safe base64
        status, body = _get(server.url, server.token)
        assert status == 200
        assert set(body) == {"AccessKeyId", "SecretAccessKey", "Token", "Expiration", "AccountId"}
        assert body["AccountId"] == ACCOUNT
        assert body["AccessKeyId"].startswith("ASIA") and body["Expiration"].endswith("Z")
        again = _get(server.url, server.token)[1]
        assert again["AccessKeyId"] == body["AccessKeyId"]
        assert fake_sts.count("AssumeRole") == 2  # one per hop, then served as held
        assert "****" in repr(server) and server.token not in repr(server)


@pytest.mark.parametrize(
    "token", [None, "", "wrong", "Bearer x"], ids=["none", "empty", "wrong", "bearer"]
)
def test_a_missing_or_wrong_token_gets_401_and_no_secret(home, fake_sts, clock, token):
    creds = awsroles.resolve("dev", env=make_env(home, fake_sts.url), clock=clock)
    with CredentialServer(creds) as server:
        good = _get(server.url, server.token)[1]
        status, body = _get(server.url, token)
        assert status == 401
        text = json.dumps(body)
        for secret in (good["SecretAccessKey"], good["Token"], good["AccessKeyId"], server.token):
            assert secret not in text


def test_other_paths_and_methods(home, fake_sts, clock):
    creds = awsroles.resolve("dev", env=make_env(home, fake_sts.url), clock=clock)
    with CredentialServer(creds) as server:
        assert _get(server.url + "other", server.token)[0] == 404
        assert _get(server.url, server.token, method="POST")[0] == 405


def test_long_lived_keys_are_refused_at_start():
    with pytest.raises(InvalidConfigError, match="temporary credentials only"):
        CredentialServer(awsroles.Credentials(BASE_KEY, BASE_SECRET)).start()


def test_a_set_short_of_the_clients_window_is_refreshed_before_it_is_served(home, fake_sts, clock):
    creds = awsroles.resolve("dev", env=make_env(home, fake_sts.url), clock=clock)
    with CredentialServer(creds, min_left=15 * 60) as server:
        first = _get(server.url, server.token)[1]
        clock.advance(minutes=46)  # 14 minutes left: a client would refresh at once
        second = _get(server.url, server.token)[1]
        assert second["AccessKeyId"] != first["AccessKeyId"]
        assert second["Expiration"] > first["Expiration"]
        assert _get(server.url, server.token)[1] == second


def test_clients_are_served_while_a_refresh_waits_on_sts(home, fake_sts, clock):
    from awsroles.refresh import background

    env = make_env(home, fake_sts.url)
    creds = awsroles.resolve("dev", env=env, clock=clock, advisory_timeout=20 * 60)
    with CredentialServer(creds, min_left=10 * 60) as server:
        first = _get(server.url, server.token)[1]["AccessKeyId"]
        clock.advance(minutes=45)  # 15 left: stale for us, fine for the clients
        fake_sts.delay = 1.0
        started = time.monotonic()
        answers = []
        threads = [
            threading.Thread(target=lambda: answers.append(_get(server.url, server.token)))
            for _ in range(10)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        served_in = time.monotonic() - started
        assert [a[0] for a in answers] == [200] * 10
        assert {a[1]["AccessKeyId"] for a in answers} == {first}  # the held set, at once
        assert served_in < 1.0  # while the background refresh waited on STS
        assert background.wait_idle(10)
        assert _get(server.url, server.token)[1]["AccessKeyId"] != first


def test_a_refresh_failure_is_a_503_naming_the_problem_without_secrets(home, fake_sts, clock):
    creds = awsroles.resolve("dev", env=make_env(home, fake_sts.url), clock=clock)
    with CredentialServer(creds) as server:
        _get(server.url, server.token)
        fake_sts.deny_role(role("Dev"))
        clock.advance(minutes=59, seconds=30)
        status, body = _get(server.url, server.token)
        assert status == 503 and body["code"] == "AccessDeniedError"
        assert "AssumeRole" in body["message"] and BASE_SECRET not in body["message"]


def test_nothing_off_loopback_reaches_it(home, fake_sts, clock):
    import conftest

    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:  # the address this machine would use off loopback (a UDP connect sends nothing)
        conftest._real_connect(probe, ("10.255.255.255", 1))
        address = probe.getsockname()[0]
    except OSError:
        pytest.skip("this machine has no address off loopback")
    finally:
        probe.close()
    if address.startswith("127."):
        pytest.skip("this machine has no address off loopback")
    creds = awsroles.resolve("dev", env=make_env(home, fake_sts.url), clock=clock)
    with CredentialServer(creds) as server:
        client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        client.settimeout(5)
        try:
            with pytest.raises(OSError):  # refused: nothing listens there
                conftest._real_connect(client, (address, server.port))
        finally:
            client.close()
        assert server._httpd.server_address[0] == "127.0.0.1"


# --- clients: botocore, boto3, the AWS CLI --------------------------------------------------


def test_boto3_uses_it_through_its_container_provider(home, sts, monkeypatch):
    boto3 = pytest.importorskip("boto3")
    creds = awsroles.resolve("dev", env=make_env(home, sts.url))
    with CredentialServer(creds) as server:
        for name in list(os.environ):
            if name.startswith("AWS_"):
                monkeypatch.delenv(name)
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("HOME", str(home.parent / "empty-home"))
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        session = boto3.Session(region_name="us-east-1")
        assert session.get_credentials().method == "container-role"
        identity = session.client("sts", endpoint_url=sts.url).get_caller_identity()
        assert identity["Arn"] == DEV_ARN


@pytest.fixture
def cli_env(home, sts):
    env = make_env(home, sts.url)
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8", PYTHONPATH=ROOT)
    return env


def _serve(cli_env, *args):
    proc = subprocess.Popen(
        [PY, "-m", "awsroles", "serve", "--profile", "dev", *args],
        env=cli_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = [proc.stdout.readline() for _ in range(2)]
    return proc, lines


@pytest.mark.e2e
def test_serve_prints_the_variables_and_the_aws_cli_uses_them(cli_env, sts, home):
    aws = need_aws()
    proc, lines = _serve(cli_env)
    try:
        served = dict(line.strip()[len("export ") :].split("=", 1) for line in lines)
        assert set(served) == {
            "AWS_CONTAINER_AUTHORIZATION_TOKEN",
            "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        }
        client = {
            "PATH": cli_env["PATH"],
            "HOME": str(home.parent / "client-home"),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL_STS": sts.url,
            **served,
        }
        out = subprocess.run(
            [aws, "sts", "get-caller-identity", "--output", "json"],
            env=client,
            capture_output=True,
            text=True,
            timeout=60,
            stdin=subprocess.DEVNULL,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["Arn"] == DEV_ARN
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "serving profile 'dev' on http://127.0.0.1:" in err
    assert " GET / 200 " in err  # the access log
    assert served["AWS_CONTAINER_AUTHORIZATION_TOKEN"] not in err
    assert "credential server stopped" in err


@pytest.mark.e2e
@pytest.mark.parametrize("fmt", ["fish", "dotenv", "powershell"])
def test_serve_honours_format(cli_env, fmt):
    proc, lines = _serve(cli_env, "--format", fmt)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=30)
    assert proc.returncode == 0
    text = "".join(lines)
    assert "AWS_CONTAINER_CREDENTIALS_FULL_URI" in text
    assert {"fish": "set -gx ", "dotenv": "AWS_CONTAINER", "powershell": "$Env:"}[fmt] in text


@pytest.mark.e2e
def test_serve_with_long_lived_keys_fails_at_once(cli_env):
    out = subprocess.run(
        [PY, "-m", "awsroles", "serve", "--profile", "base"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "temporary credentials only" in out.stderr
    assert out.stdout == ""


CHILD = r"""
import os, sys, time, boto3
assert "AWS_ACCESS_KEY_ID" not in os.environ and "AWS_PROFILE" not in os.environ
print("profile", os.environ["AWSROLES_PROFILE"], os.environ.get("AWS_REGION"), flush=True)
sts = boto3.client("sts", endpoint_url=os.environ["STS_URL"])
keys = []
deadline = time.monotonic() + float(sys.argv[1])
while time.monotonic() < deadline:
    sts.get_caller_identity()
    keys.append(sts._request_signer._credentials.get_frozen_credentials().access_key)
    time.sleep(0.5)
print("calls", len(keys), "keys", len(set(keys)), flush=True)
"""


def _exec_server_child(tmp_path, sts, seconds):
    home = tmp_path / "home"
    write_aws_files(
        home,
        f"[profile short]\nrole_arn = {role('Short')}\nsource_profile = base\n"
        "duration_seconds = 900\nregion = eu-west-1\n",
    )
    env = make_env(home, sts.url)
    env.update(
        PATH=os.environ.get("PATH", "/usr/bin:/bin"),
        PYTHONPATH=ROOT,
        STS_URL=sts.url,
        AWS_ACCESS_KEY_ID="AKIAPARENTSHOULDNOTLEAK",
        AWS_SECRET_ACCESS_KEY="parent-secret",
        AWS_PROFILE="ignored",
    )
    env.pop("AWS_DEFAULT_REGION", None)
    started = time.time()
    out = subprocess.run(
        [PY, "-m", "awsroles", "exec", "--server", "--profile", "short", "--"]
        + [PY, "-c", CHILD, str(seconds)],
        env=env,
        capture_output=True,
        text=True,
        timeout=seconds + 120,
    )
    assert out.returncode == 0, out.stderr
    assert "parent-secret" not in out.stdout + out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "profile short eu-west-1"  # AWSROLES_PROFILE and the profile's region
    calls, keys = int(lines[1].split()[1]), int(lines[1].split()[3])
    assert sts.count("GetCallerIdentity", status=200) == calls  # every call succeeded
    return calls, keys, time.time() - started


@pytest.mark.e2e
def test_exec_server_child_gets_new_keys_without_restarting(tmp_path, sts):
    # Credentials of 70 s are always inside the SDK's 15-minute refresh window, so the child's
    # SDK asks the server before each call, and the server hands out a new set each time.
    sts.lifetime = 70
    calls, keys, _ = _exec_server_child(tmp_path, sts, 5)
    assert calls >= 6 and keys >= 2


@pytest.mark.e2e
@pytest.mark.slow
def test_exec_server_child_outlives_two_credential_lifetimes(tmp_path, sts):
    # The child keeps calling STS for longer than two lifetimes of the role's credentials
    # (65 s each, as STS issues them here): every call succeeds, with no restart.
    sts.lifetime = 65
    calls, keys, took = _exec_server_child(tmp_path, sts, 140)
    assert took > 2 * 65 and calls >= 200 and keys >= 3


@pytest.mark.e2e
def test_exec_server_passes_the_exit_status_through(cli_env):
    out = subprocess.run(
        [
            PY,
            "-m",
            "awsroles",
            "exec",
            "--server",
            "-p",
            "dev",
            "--",
            PY,
            "-c",
            "import os, sys; sys.exit(7 if os.environ.get('AWS_CONTAINER_CREDENTIALS_FULL_URI') "
            "else 1)",
        ],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 7, out.stderr


@pytest.mark.e2e
def test_exec_with_no_command_starts_the_shell(cli_env, tmp_path):
    shell = tmp_path / "fake-shell"
    shell.write_text(
        '#!/bin/sh\necho "shell $AWSROLES_PROFILE ${AWS_ACCESS_KEY_ID%%????????????????}"\nexit 3\n'
    )
    shell.chmod(0o755)
    out = subprocess.run(
        [PY, "-m", "awsroles", "exec", "--profile", "dev"],
        env={**cli_env, "SHELL": str(shell)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3, out.stderr
    assert out.stdout.strip() == "shell dev ASIA"


@pytest.mark.e2e
def test_exec_server_warns_when_the_default_profile_would_win(cli_env, home):
    def run():
        return subprocess.run(
            [PY, "-m", "awsroles", "exec", "--server", "-p", "dev", "--", PY, "-c", "pass"],
            env=cli_env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    quiet = run()
    assert quiet.returncode == 0 and "warning" not in quiet.stderr, quiet.stderr
    with open(home / ".aws" / "credentials", "a") as f:
        f.write(f"[default]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = x\n")
    warned = run()
    assert warned.returncode == 0, warned.stderr
    assert "profile 'default' in the shared files has credentials" in warned.stderr


def test_the_access_log_leaves_out_query_strings(home, fake_sts, clock, caplog):
    creds = awsroles.resolve("dev", env=make_env(home, fake_sts.url), clock=clock)
    with caplog.at_level("INFO", logger="awsroles.server"):
        with CredentialServer(creds) as server:
            _get(server.url + "?planted=query-PLANTED", server.token)
            _get(server.url + "?planted=query-PLANTED")
    lines = [r.getMessage() for r in caplog.records if r.name == "awsroles.server"]
    assert len(lines) == 2 and all(" GET / " in line for line in lines)
    assert "PLANTED" not in caplog.text


def test_with_debug_each_access_is_logged_once(capsys):
    from awsroles.cli.main import _enable_debug
    from awsroles.cli.serve import access_log
    from awsroles.integrations.server import log

    undo_debug = _enable_debug()
    undo_access = access_log()
    try:
        log.info("127.0.0.1 GET / 200 (expires -)")
    finally:
        undo_access()
        undo_debug()
    assert capsys.readouterr().err.count("GET / 200") == 1
