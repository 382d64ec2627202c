"""The ``awsroles`` command as a user runs it: in real processes, from bash, and as the
credential_process of the real AWS CLI, against a FakeSTS on 127.0.0.1."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from typing import Optional

import pytest

from helpers import (
    ACCOUNT,
    BASE_SECRET,
    TWO_HOP,
    cache_files,
    make_env,
    need_aws,
    write_aws_files,
)

pytestmark = pytest.mark.e2e

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
DEV_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev-session"
CONFIG = (
    TWO_HOP
    + f"""
[profile cp]
credential_process = {PY} -m awsroles credential-process --profile dev
region = us-east-1

[profile loop]
credential_process = {PY} -m awsroles credential-process --profile loop
region = us-east-1
"""
)


@pytest.fixture
def env(tmp_path, sts):
    home = tmp_path / "home"
    write_aws_files(home, CONFIG)
    e = make_env(home, sts.url)
    e.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8", PYTHONPATH=ROOT)
    return e


def awsroles(env, *args, **kw):
    return subprocess.run(
        [PY, "-m", "awsroles", *args], env=env, capture_output=True, text=True, timeout=60, **kw
    )


def test_eval_export_in_bash_then_the_aws_cli_uses_the_variables(env, sts):
    aws = need_aws()
    script = (
        f'eval "$("{PY}" -m awsroles export -p dev)" || exit 9\n'
        'echo "$AWS_ACCESS_KEY_ID"\n'
        f'"{aws}" sts get-caller-identity --output json\n'
    )
    proc = subprocess.run(
        ["bash", "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    key, rest = proc.stdout.split("\n", 1)
    assert key.startswith("ASIA")
    assert json.loads(rest)["Arn"] == DEV_ARN
    signed_with = [c.access_key for c in sts.calls if c.action == "GetCallerIdentity"]
    assert signed_with == [key]


def test_the_aws_cli_gets_credentials_through_awsroles_credential_process(env, sts):
    aws = need_aws()
    cmd = [aws, "sts", "get-caller-identity", "--profile", "cp", "--output", "json"]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["Arn"] == DEV_ARN
    assert sts.count("AssumeRole") == 2
    assert len(cache_files(env["HOME"])) == 2
    # a second AWS CLI run starts awsroles again, which is served from the shared cache
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60)
    assert json.loads(second.stdout)["Arn"] == DEV_ARN
    assert sts.count("AssumeRole") == 2
    assert BASE_SECRET not in first.stderr + second.stderr


def test_the_aws_cli_with_a_self_calling_credential_process_fails_naming_it(env, sts):
    aws = need_aws()
    started = time.monotonic()
    proc = subprocess.run(
        [aws, "sts", "get-caller-identity", "--profile", "loop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "profile 'loop'" in proc.stderr and "call itself forever" in proc.stderr
    assert time.monotonic() - started < 30 and sts.count() == 0


def test_exec_in_a_real_process(env, sts):
    aws = need_aws()
    proc = awsroles(env, "exec", "-p", "dev", "--", aws, "sts", "get-caller-identity")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["Arn"] == DEV_ARN
    assert awsroles(env, "exec", "-p", "dev", "--", "sh", "-c", "exit 3").returncode == 3
    missing = awsroles(env, "exec", "-p", "dev", "--", "no-such-command-awsroles")
    assert missing.returncode == 127
    assert missing.stderr == "awsroles: error: command not found: no-such-command-awsroles\n"


def _start_exec(env, child_code):
    proc = subprocess.Popen(
        [PY, "-m", "awsroles", "exec", "-p", "base", "--", PY, "-c", child_code],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout.readline().strip() == "ready"
    return proc


WAIT = "import sys, time; print('ready', flush=True); time.sleep(30)"


def test_exec_ctrl_c_reaches_the_command_and_gives_130(env):
    proc = _start_exec(env, WAIT)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does: the whole process group
    assert proc.wait(timeout=20) == 130


def test_exec_passes_sigterm_on_to_the_command(env):
    proc = _start_exec(env, WAIT)
    os.kill(proc.pid, signal.SIGTERM)  # awsroles only
    assert proc.wait(timeout=20) == 128 + signal.SIGTERM


def test_credential_process_in_a_real_process_prints_only_json(env):
    proc = awsroles(env, "credential-process", "--profile", "dev")
    assert proc.returncode == 0 and proc.stderr == ""
    assert json.loads(proc.stdout)["Version"] == 1


def test_errors_in_a_real_process(env):
    proc = awsroles(env, "whoami", "--profile", "nope")
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.startswith("awsroles: error: profile 'nope'")
    usage = awsroles(env, "export", "--format", "yaml")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


def console_script(path: str) -> Optional[str]:
    """The ``awsroles`` console script: the one installed beside this interpreter (a venv's
    bin/ need not be on PATH), then the first on ``path``."""
    beside = shutil.which("awsroles", path=os.path.dirname(sys.executable))
    return beside or shutil.which("awsroles", path=path)


def test_version_via_module_and_console_script(env):
    import awsroles as pkg

    assert awsroles(env, "--version").stdout.strip() == f"awsroles {pkg.__version__}"
    script = console_script(env["PATH"])
    if script is None:
        pytest.skip("the awsroles console script is not installed")
    out = subprocess.run([script, "--version"], env=env, capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip().startswith("awsroles ")
