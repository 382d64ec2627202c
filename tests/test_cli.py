"""The ``awsroles`` command, run in-process: ``main([...])`` with the environment set through
monkeypatch and a FakeSTS on the real clock (the command uses the system clock)."""

from __future__ import annotations

import json
import os
import sys
from datetime import datetime, timedelta, timezone

import pytest

from awsroles.cache.key import cache_key
from awsroles.cli.main import main

from helpers import ACCOUNT, BASE_KEY, BASE_SECRET, TWO_HOP, cache_dir, cache_files, role

DEV_KEY = cache_key({"RoleArn": role("Dev"), "RoleSessionName": "dev-session"})
OPS_KEY = cache_key({"RoleArn": role("Ops")})
DEV_ARN = f"arn:aws:sts::{ACCOUNT}:assumed-role/Dev/dev-session"
EXTRA = """
[profile cp]
credential_process = awsroles credential-process --profile dev

[profile loop]
credential_process = awsroles credential-process --profile loop

[profile shloop]
credential_process = sh -c 'exit 1'

[profile r]
role_arn = {r}
source_profile = pbase

[profile pbase]
credential_process = {py} -m awsroles export --format process --profile r
"""


@pytest.fixture
def home(clean_env, monkeypatch, sts):
    from helpers import write_aws_files

    write_aws_files(clean_env, TWO_HOP + EXTRA.format(r=role("R"), py=sys.executable))
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return clean_env


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def entry(home, key):
    with open(os.path.join(cache_dir(home), key + ".json")) as f:
        return json.load(f)


def cached_secrets(home):
    found = [BASE_SECRET]
    for name in cache_files(home):
        try:
            creds = entry(home, name[:-5])["Credentials"]
        except (ValueError, KeyError):
            continue
        found += [creds["SecretAccessKey"], creds["SessionToken"]]
    return found


# --- export and credential-process ----------------------------------------------------------


def test_export_prints_the_dev_credentials_as_env_lines(home, sts, capsys):
    code, out, err = run(capsys, "export", "--profile", "dev")
    assert code == 0 and err == ""
    creds = entry(home, DEV_KEY)["Credentials"]
    assert out == (
        f"export AWS_ACCESS_KEY_ID={creds['AccessKeyId']}\n"
        f"export AWS_SECRET_ACCESS_KEY={creds['SecretAccessKey']}\n"
        f"export AWS_SESSION_TOKEN={creds['SessionToken']}\n"
        f"export AWS_CREDENTIAL_EXPIRATION={creds['Expiration']}\n"
    )
    assert sts.count("AssumeRole") == 2
    # a second run is served from the cache
    assert run(capsys, "export", "-p", "dev")[1] == out
    assert sts.count("AssumeRole") == 2


def test_credential_process_prints_version_1_json(home, sts, capsys):
    code, out, err = run(capsys, "credential-process", "--profile", "dev")
    assert code == 0 and err == ""
    doc = json.loads(out)
    creds = entry(home, DEV_KEY)["Credentials"]
    assert doc == {
        "Version": 1,
        "AccessKeyId": creds["AccessKeyId"],
        "SecretAccessKey": creds["SecretAccessKey"],
        "SessionToken": creds["SessionToken"],
        "Expiration": creds["Expiration"],
    }
    assert doc["Expiration"].endswith("Z")
    datetime.strptime(doc["Expiration"], "%Y-%m-%dT%H:%M:%SZ")
    assert run(capsys, "export", "-p", "dev", "--format", "process")[1] == out


def test_credential_process_requires_a_profile(home, capsys):
    assert main(["credential-process"]) == 2
    assert "--profile" in capsys.readouterr().err
    # before the command counts too
    assert main(["--profile", "dev", "credential-process"]) == 0
    assert json.loads(capsys.readouterr().out)["Version"] == 1


@pytest.mark.parametrize(
    "argv",
    [
        ["--profile", "dev", "explain"],
        ["explain", "--profile", "dev"],
        ["--profile", "base", "explain", "--profile", "dev"],  # after the command wins
    ],
)
def test_the_profile_before_or_after_the_command(home, capsys, argv):
    assert main(argv) == 0
    assert "profile 'dev'" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["-p", "dev", "export", "--debug"], ["--debug", "export", "-p", "dev"]]
)
def test_debug_before_or_after_the_command(home, capsys, argv):
    assert main(argv) == 0
    assert " DEBUG STS AssumeRole" in capsys.readouterr().err


def test_export_without_profile_uses_the_default_chain(home, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAFROMENV")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-secret")
    code, out, _ = run(capsys, "export", "--format", "env-no-export")
    assert code == 0
    assert out == "AWS_ACCESS_KEY_ID=AKIAFROMENV\nAWS_SECRET_ACCESS_KEY=env-secret\n"


def _age_entry(home, key, minutes_left):
    path = os.path.join(cache_dir(home), key + ".json")
    data = entry(home, key)
    when = datetime.now(timezone.utc) + timedelta(minutes=minutes_left)
    data["Credentials"]["Expiration"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(path, "w") as f:
        json.dump(data, f)
    return data["Credentials"]["AccessKeyId"]


def test_an_entry_inside_its_advisory_window_is_refreshed_before_it_is_printed(home, sts, capsys):
    run(capsys, "export", "-p", "dev")
    old = _age_entry(home, DEV_KEY, 3)  # 3 min left: inside the 5-minute advisory window
    code, out, _ = run(capsys, "credential-process", "--profile", "dev")
    assert code == 0
    doc = json.loads(out)
    assert doc["AccessKeyId"] != old
    assert sts.count("AssumeRole") == 3  # dev refreshed once; ops still served from the cache
    assert entry(home, DEV_KEY)["Credentials"]["AccessKeyId"] == doc["AccessKeyId"]


def test_an_entry_outside_its_advisory_window_is_printed_as_is(home, sts, capsys):
    run(capsys, "export", "-p", "dev")
    old = _age_entry(home, DEV_KEY, 30)  # 30 min left: the window is 15 min
    assert json.loads(run(capsys, "credential-process", "-p", "dev")[1])["AccessKeyId"] == old
    assert sts.count("AssumeRole") == 2


def test_a_role_that_lives_15_minutes_is_not_assumed_again_on_every_run(home, sts, capsys):
    """A fresh set of a 900-second role never has the 15 minutes consumers want left: asking
    for them would call STS on every run. Half its lifetime is asked for instead."""
    from helpers import write_aws_files

    write_aws_files(
        home,
        f"[profile short]\nrole_arn = {role('Short')}\nsource_profile = base\n"
        "duration_seconds = 900\n",
        f"[base]\naws_access_key_id = {BASE_KEY}\naws_secret_access_key = {BASE_SECRET}\n",
    )
    first = json.loads(run(capsys, "credential-process", "-p", "short")[1])
    assert sts.count("AssumeRole") == 1
    again = json.loads(run(capsys, "credential-process", "-p", "short")[1])
    assert again["AccessKeyId"] == first["AccessKeyId"] and sts.count("AssumeRole") == 1
    short_key = cache_key({"RoleArn": role("Short"), "DurationSeconds": 900})
    _age_entry(home, short_key, 7)  # under half its lifetime left: replaced
    third = json.loads(run(capsys, "credential-process", "-p", "short")[1])
    assert third["AccessKeyId"] != first["AccessKeyId"] and sts.count("AssumeRole") == 2


# --- recursion ------------------------------------------------------------------------------


def test_a_profile_whose_credential_process_calls_awsroles_for_itself_is_refused(home, capsys):
    code, out, err = run(capsys, "credential-process", "--profile", "loop")
    assert code == 2 and out == ""
    assert err.startswith("awsroles: error: profile 'loop'")
    assert "call itself forever" in err and "'loop' -> 'loop'" in err


def test_a_loop_through_a_role_chain_is_refused_before_anything_runs(home, sts, capsys):
    code, _, err = run(capsys, "export", "--profile", "r")
    assert code == 2
    assert "profile 'pbase'" in err and "'r' -> 'pbase' -> 'r'" in err
    assert sts.count() == 0


def test_a_profile_already_on_the_process_stack_is_refused(home, monkeypatch, capsys):
    # As if awsroles (or an SDK run by it) were running shloop's credential_process, which
    # somehow ends up asking for shloop again.
    monkeypatch.setenv("AWSROLES_PROCESS_STACK", json.dumps([["shloop", "0123abcd"]]))
    code, _, err = run(capsys, "credential-process", "--profile", "shloop")
    assert code == 2
    assert "profile 'shloop'" in err and "already running" in err


def test_an_unrelated_stack_does_not_stop_a_legitimate_chain(home, monkeypatch, capsys):
    monkeypatch.setenv("AWSROLES_PROCESS_STACK", json.dumps([["cp", "0123abcd"]]))
    code, out, _ = run(capsys, "credential-process", "--profile", "dev")
    assert code == 0 and json.loads(out)["Version"] == 1


def test_awsroles_target_recognises_the_ways_awsroles_is_started():
    from awsroles.cli.resolve import awsroles_target

    assert awsroles_target(["awsroles", "credential-process", "--profile", "a"]) == "a"
    assert awsroles_target(["/usr/bin/awsroles", "export", "-p", "b"]) == "b"
    assert awsroles_target(["python3", "-m", "awsroles", "export", "--profile=c"]) == "c"
    assert awsroles_target(["awsroles", "explain", "--profile", "a"]) is None
    assert awsroles_target(["aws", "configure", "export-credentials", "--profile", "a"]) is None
    assert awsroles_target(["awsroles", "exec", "-p", "x", "--", "awsroles", "-p", "y"]) == "x"


# --- exec -----------------------------------------------------------------------------------

SHOW_ENV = (
    "import json, os; print(json.dumps({k: os.environ.get(k) for k in ("
    "'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', "
    "'AWS_CREDENTIAL_EXPIRATION', 'AWS_PROFILE', 'AWS_DEFAULT_PROFILE', 'AWS_REGION')}))"
)


def test_exec_runs_the_command_with_the_credentials(home, monkeypatch, capfd):
    monkeypatch.setenv("AWS_PROFILE", "dev")
    monkeypatch.setenv("AWS_DEFAULT_PROFILE", "dev")
    monkeypatch.delenv("AWS_DEFAULT_REGION")
    code = main(["exec", "--", sys.executable, "-c", SHOW_ENV])
    out, err = capfd.readouterr()
    assert code == 0, err
    seen = json.loads(out)
    creds = entry(home, DEV_KEY)["Credentials"]
    assert seen["AWS_ACCESS_KEY_ID"] == creds["AccessKeyId"]
    assert seen["AWS_SECRET_ACCESS_KEY"] == creds["SecretAccessKey"]
    assert seen["AWS_SESSION_TOKEN"] == creds["SessionToken"]
    assert seen["AWS_CREDENTIAL_EXPIRATION"] == creds["Expiration"]
    assert seen["AWS_PROFILE"] is None and seen["AWS_DEFAULT_PROFILE"] is None
    assert seen["AWS_REGION"] == "us-east-1"  # dev's region, passed on


def test_exec_drops_a_stale_session_token_for_static_keys(home, monkeypatch, capfd):
    monkeypatch.setenv("AWS_SESSION_TOKEN", "stale-token")
    monkeypatch.setenv("AWS_CREDENTIAL_EXPIRATION", "2000-01-01T00:00:00Z")
    assert main(["exec", "-p", "base", "--", sys.executable, "-c", SHOW_ENV]) == 0
    seen = json.loads(capfd.readouterr().out)
    assert seen["AWS_ACCESS_KEY_ID"] == BASE_KEY
    assert seen["AWS_SESSION_TOKEN"] is None and seen["AWS_CREDENTIAL_EXPIRATION"] is None


@pytest.mark.parametrize(
    "code_line, expected",
    [("sys.exit(0)", 0), ("sys.exit(7)", 7), ("os.kill(os.getpid(), signal.SIGTERM)", 143)],
)
def test_exec_returns_the_commands_exit_status(home, capfd, code_line, expected):
    script = f"import os, signal, sys; {code_line}"
    assert main(["exec", "-p", "base", "--", sys.executable, "-c", script]) == expected


def test_exec_command_not_found_is_127(home, capfd):
    assert main(["exec", "-p", "base", "--", "no-such-command-awsroles-test"]) == 127
    assert "command not found: no-such-command-awsroles-test" in capfd.readouterr().err


def test_exec_without_a_command_runs_the_users_shell(home, capfd, monkeypatch, tmp_path):
    shell = tmp_path / "shell"
    shell.write_text('#!/bin/sh\necho "in $AWSROLES_PROFILE"\nexit 4\n')
    shell.chmod(0o755)
    monkeypatch.setenv("SHELL", str(shell))
    assert main(["exec", "-p", "base", "--"]) == 4
    assert main(["exec", "-p", "base"]) == 4
    assert capfd.readouterr().out == "in base\nin base\n"


# --- whoami ---------------------------------------------------------------------------------


def test_whoami_prints_account_arn_and_user_id(home, sts, capsys):
    code, out, err = run(capsys, "whoami", "--profile", "dev")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"Account: {ACCOUNT}"
    assert lines[1] == f"Arn:     {DEV_ARN}"
    assert lines[2].startswith("UserId:  AROA") and lines[2].endswith(":dev-session")
    code, out, _ = run(capsys, "whoami", "-p", "dev", "--json")
    doc = json.loads(out)
    assert list(doc) == ["UserId", "Account", "Arn"] and doc["Arn"] == DEV_ARN
    assert sts.count("GetCallerIdentity") == 2 and sts.count("AssumeRole") == 2


def test_whoami_with_debug_logs_but_never_a_secret(home, capsys):
    import logging

    logger = logging.getLogger("awsroles")
    handlers, level = list(logger.handlers), logger.level
    code, out, err = run(capsys, "--debug", "whoami", "-p", "dev")
    assert code == 0 and "assumed" in err
    for secret in cached_secrets(home):
        assert secret not in out and secret not in err
    # the command undoes its logging when it returns (main() may run again in this process)
    assert logger.handlers == handlers and logger.level == level


# --- cache list / clear ---------------------------------------------------------------------


def test_cache_list_names_profiles_roles_and_expiry_but_no_secret(home, capsys):
    assert run(capsys, "cache", "list")[1].startswith("no entries in ")
    run(capsys, "export", "-p", "dev")
    os.makedirs(cache_dir(home), exist_ok=True)
    with open(os.path.join(cache_dir(home), "f" * 40 + ".json"), "w") as f:
        f.write("not json")
    code, out, err = run(capsys, "cache", "list")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"{cache_dir(home)}: 3 entries"
    assert lines[1].split() == ["ENTRY", "EXPIRES", "LEFT", "PROFILE", "ROLE"]
    by_name = {line.split()[0]: line for line in lines[2:]}
    dev = by_name[DEV_KEY + ".json"].split()
    assert dev[2:6] == ["59", "min", "dev", DEV_ARN] or dev[2:6] == ["60", "min", "dev", DEV_ARN]
    assert dev[1].endswith("Z")
    ops = by_name[OPS_KEY + ".json"].split()
    assert ops[4] == "ops" and ":assumed-role/Ops/" in ops[5]
    assert "(unreadable entry)" in by_name["f" * 40 + ".json"]
    for secret in cached_secrets(home):
        assert secret not in out


def test_cache_list_marks_expired_entries(home, capsys):
    run(capsys, "export", "-p", "dev")
    _age_entry(home, DEV_KEY, -5)
    out = run(capsys, "cache", "list")[1]
    line = next(x for x in out.splitlines() if x.startswith(DEV_KEY))
    assert "expired" in line and " dev " in line


def test_cache_clear_profile_removes_only_that_profiles_hops(home, capsys):
    run(capsys, "export", "-p", "dev")
    other = os.path.join(cache_dir(home), "a" * 40 + ".json")
    with open(other, "w") as f:
        f.write("{}")
    code, out, _ = run(capsys, "cache", "clear", "--profile", "dev")
    assert code == 0
    assert f"removed {cache_dir(home)}/{DEV_KEY}.json  (profile 'dev', {DEV_ARN})" in out
    assert f"{OPS_KEY}.json  (profile 'ops'" in out
    assert cache_files(home) == ["a" * 40 + ".json"]
    # again: nothing left to remove
    out = run(capsys, "cache", "clear", "-p", "dev")[1]
    assert out.count("no entry") == 2


def test_cache_clear_everything_removes_entries_and_lock_files(home, capsys):
    run(capsys, "export", "-p", "dev")
    names = os.listdir(cache_dir(home))
    assert DEV_KEY + ".json.lock" in names
    code, out, _ = run(capsys, "cache", "clear", "--yes")
    assert code == 0 and out.count("removed ") == 3  # 2 entries, then the lock files
    assert "removed 2 lock file(s)" in out
    assert os.listdir(cache_dir(home)) == []


def test_cache_clear_of_everything_needs_a_flag_without_a_terminal(home, capsys):
    run(capsys, "export", "-p", "dev")
    before = sorted(os.listdir(cache_dir(home)))
    code, out, err = run(capsys, "cache", "clear")  # stdin is not a terminal under pytest
    assert code == 2 and "--yes" in err and "--profile" in err
    assert sorted(os.listdir(cache_dir(home))) == before
    code, out, _ = run(capsys, "cache", "clear", "--all")
    assert code == 0 and not [n for n in os.listdir(cache_dir(home)) if n.endswith(".json")]


@pytest.mark.parametrize("answer, removed", [("y", True), ("YES", True), ("n", False), ("", False)])
def test_cache_clear_says_what_it_will_remove_and_asks(home, capsys, answer, removed):
    from awsroles.cli.cache import run_cache_clear

    run(capsys, "export", "-p", "dev")
    asked = []

    def ask(question):
        asked.append(question)
        return answer

    code = run_cache_clear(None, ask=ask)
    out = capsys.readouterr().out
    assert "2 entries in " in out and "assumed-role/Dev" in out and "[y/N]" in asked[0]
    left = [n for n in os.listdir(cache_dir(home)) if n.endswith(".json")]
    assert (code, left == []) == ((0, True) if removed else (1, False))
    assert ("nothing removed" in out) is not removed


def test_cache_clear_for_a_profile_without_a_role(home, capsys):
    assert "assumes no role" in run(capsys, "cache", "clear", "-p", "base")[1]


# --- errors and the global options ----------------------------------------------------------


def test_unknown_profile_is_exit_2_with_a_one_line_error(home, capsys):
    code, out, err = run(capsys, "export", "--profile", "nope")
    assert code == 2 and out == ""
    assert err.startswith("awsroles: error: ") and "'nope'" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_an_sts_refusal_is_exit_2_without_secrets(home, sts, capsys):
    sts.deny_role(role("Dev"))
    code, out, err = run(capsys, "credential-process", "-p", "dev")
    assert code == 2 and out == ""
    assert "awsroles: error:" in err and "AccessDenied" in err
    for secret in cached_secrets(home):
        assert secret not in err


def test_ctrl_c_is_exit_130(home, monkeypatch, capsys):
    import awsroles.cli.main as cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_dispatch", interrupted)
    assert main(["whoami"]) == 130


def test_version(capsys):
    import awsroles

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"awsroles {awsroles.__version__}"


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["demo"],
        ["explain"],
        ["export"],
        ["credential-process"],
        ["exec"],
        ["whoami"],
        ["cache"],
        ["cache", "list"],
        ["cache", "clear"],
        ["serve"],
        ["console"],
    ],
)
def test_every_help_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(command + ["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "examples:\n" in out and "awsroles " in out.split("examples:\n", 1)[1]


def test_explain_prints_the_plan_and_exits_2_for_an_unknown_profile(home, capsys):
    code, out, _ = run(capsys, "explain", "--profile", "dev")
    assert code == 0 and "AssumeRole " + role("Dev") in out
    assert run(capsys, "explain", "-p", "nope")[0] == 2


# --- hints name the command's flags ---------------------------------------------------------


def test_the_command_lines_hints_name_flags_and_pythons_name_keywords(clean_env, capsys):
    import awsroles

    code, _, err = run(capsys, "whoami")
    assert code == 2 and "--profile" in err and "profile=" not in err
    with pytest.raises(awsroles.NoCredentialsError) as exc:
        awsroles.resolve()
    assert "profile=..." in str(exc.value) and "--profile" not in str(exc.value)


def test_an_mfa_code_with_nowhere_to_come_from_names_mfa_token_at_the_command_line():
    from awsroles.errors import MFAError

    err = MFAError(
        "an MFA code is needed.", hint="Pass prompter=<callable>.", cli_hint="Pass --mfa-token."
    )
    assert str(err).endswith("Pass prompter=<callable>.")
    assert err.for_command_line().endswith("Pass --mfa-token.")
    plain = MFAError("no code.", hint="Set mfa_process.")
    assert plain.for_command_line() == str(plain)
    import pickle

    assert pickle.loads(pickle.dumps(err)).for_command_line() == err.for_command_line()
