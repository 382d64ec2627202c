"""Cross-process single flight: N processes on a cold cache make one STS call per hop."""

import os
import subprocess
import sys
import time

import pytest

from helpers import (
    ACCOUNT,
    TWO_HOP,
    cache_files,
    make_env,
    role,
    write_aws_files,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

WORKER = r"""
import os, sys, time
gate = sys.argv[1]
while not os.path.exists(gate):
    time.sleep(0.002)
import awsroles

def prompter(serial):
    with open(os.environ["PROMPT_LOG"], "a") as f:
        f.write(serial + "\n")
    return "123456"

creds = awsroles.resolve(prompter=prompter)
print(creds.get_frozen_credentials().access_key)
"""

pytestmark = pytest.mark.e2e


def _run_many(home, tmp_path, sts, n, **env_extra):
    env = dict(make_env(home, sts.url, **env_extra))
    env["PATH"] = os.environ.get("PATH", "")
    env["PYTHONPATH"] = ROOT
    env["PROMPT_LOG"] = str(tmp_path / "prompts.log")
    gate = tmp_path / "go"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(gate)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(n)
    ]
    time.sleep(1.0)  # let every interpreter start and spin on the gate
    gate.write_text("go")
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    keys = {out.strip() for out, _ in outs}
    prompts = (
        (tmp_path / "prompts.log").read_text().splitlines()
        if (tmp_path / "prompts.log").exists()
        else []
    )
    return keys, prompts


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def test_16_processes_one_assume_role(home, tmp_path, sts):
    write_aws_files(home, f"[profile r]\nrole_arn = {role('R')}\nsource_profile = base\n")
    keys, _ = _run_many(home, tmp_path, sts, 16, AWS_PROFILE="r")
    assert sts.count("AssumeRole") == 1
    assert len(keys) == 1  # every process got the same credentials
    assert len(cache_files(home)) == 1


def test_16_processes_two_hops_one_call_per_hop(home, tmp_path, sts):
    write_aws_files(home, TWO_HOP)
    keys, _ = _run_many(home, tmp_path, sts, 16, AWS_PROFILE="dev")
    assert sts.count("AssumeRole") == 2
    assert len(keys) == 1


def test_16_processes_mfa_prompts_once(home, tmp_path, sts):
    serial = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
    sts.add_role(role("M"), mfa_serial=serial, mfa_code="123456")
    write_aws_files(
        home, f"[profile m]\nrole_arn = {role('M')}\nsource_profile = base\nmfa_serial = {serial}\n"
    )
    keys, prompts = _run_many(home, tmp_path, sts, 16, AWS_PROFILE="m")
    assert prompts == [serial]
    assert sts.count("AssumeRole") == 1
    assert len(keys) == 1
