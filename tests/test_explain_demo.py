"""explain() output and the ``awsroles demo`` command."""

import io

import awsroles
from awsroles.cli.main import main

from helpers import BASE_SECRET, TWO_HOP, make_env, write_aws_files


def test_explain_shows_chain_plan_and_cache(tmp_path, fake_sts, clock):
    home = tmp_path / "home"
    write_aws_files(home, TWO_HOP)
    env = make_env(home, fake_sts.url, AWS_PROFILE="dev")
    text = awsroles.explain(env=env, clock=clock)
    assert "selected profile: dev (from AWS_PROFILE)" in text
    assert "env" in text and "skipped: AWS_ACCESS_KEY_ID is not set" in text
    assert "AssumeRole arn:aws:iam::123456789012:role/Ops [profile 'ops']" in text
    assert "no valid entry (STS will be called)" in text
    assert fake_sts.count() == 0  # explain never calls out
    awsroles.resolve(env=env, clock=clock).get_frozen_credentials()
    text = awsroles.explain(env=env, clock=clock)
    assert "valid, expires" in text and BASE_SECRET not in text


def test_env_credentials_work_even_with_a_broken_config(tmp_path):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "config").write_text("[profile x\n")
    env = make_env(home, AWS_ACCESS_KEY_ID="AKIAENV", AWS_SECRET_ACCESS_KEY="s")
    assert awsroles.resolve(env=env).get_frozen_credentials().access_key == "AKIAENV"


def test_demo_runs_and_second_process_hits_cache():
    from awsroles.cli.demo import run

    out = io.StringIO()
    assert run(out) == 0
    text = out.getvalue()
    assert "2 AssumeRole calls" in text
    assert "AssumeRole calls made by it: 0 (served from the cache)" in text
    assert "assumed-role/Dev/awsroles-demo" in text
    assert "demo-base-secret-key" not in text


def test_cli_explain_error_exit_code(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_DEFAULT_PROFILE", raising=False)
    assert main(["explain", "--profile", "nope"]) == 2
    out = capsys.readouterr().out
    assert "profile        fails:" in out and "nope" in out
