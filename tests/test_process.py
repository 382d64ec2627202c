"""credential_process: botocore's rules plus pass-through stderr, a timeout,
typed errors that never echo stdout, and the recursion guard."""

from __future__ import annotations

import json
import logging
import os
import shlex
import sys
import textwrap
import time
from datetime import datetime, timezone

import pytest

from awsroles.config.model import ProcessSource
from awsroles.credentials import Credentials
from awsroles.errors import AwsRolesError, CredentialRetrievalError, InvalidConfigError
from awsroles.providers.process import (
    STACK_ENV,
    CredentialProcessError,
    describe_command,
    process_credentials,
    run_once,
    run_process,
    split_command,
)
from awsroles.refresh.sync import RefreshableCredentials
from awsroles.testing.clock import FrozenClock

from helpers import make_context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SECRET = "process-secret-PLANTED-7f3a"
TOKEN = "process-token-PLANTED-9c1e"


@pytest.fixture
def clock():
    return FrozenClock("2030-01-01T00:00:00Z")


def make_ctx(clock, process_timeout=10, **env_extra):
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent"}
    env.update(env_extra)
    return make_context(
        env=env, clock=clock, cache=None, background_refresh=False, process_timeout=process_timeout
    )


def script(tmp_path, body: str, name: str = "helper.py") -> str:
    """Write a Python helper and return the credential_process command that runs it."""
    path = tmp_path / name
    path.write_text("import json, os, sys, time\n" + textwrap.dedent(body))
    return f"{shlex.quote(sys.executable)} -S -E {shlex.quote(str(path))}"


def doc(**over):
    d = {"Version": 1, "AccessKeyId": "AKIAPROCESS0001", "SecretAccessKey": SECRET}
    d.update(over)
    return d


def printing(tmp_path, document, extra: str = "") -> str:
    return script(tmp_path, f"{extra}\nprint(json.dumps({document!r}))\n")


def counting(tmp_path, expirations) -> str:
    """A helper that counts its runs in a file and returns expirations[run - 1]."""
    counter = tmp_path / "runs"
    return script(
        tmp_path,
        f"""
        p = {str(counter)!r}
        n = int(open(p).read()) + 1 if os.path.exists(p) else 1
        open(p, "w").write(str(n))
        exp = {list(expirations)!r}[min(n, {len(expirations)}) - 1]
        print(json.dumps(dict(Version=1, AccessKeyId="AKIARUN%d" % n,
                              SecretAccessKey={SECRET!r}, SessionToken={TOKEN!r},
                              Expiration=exp)))
        """,
    )


def runs(tmp_path) -> int:
    p = tmp_path / "runs"
    return int(p.read_text()) if p.exists() else 0


# --- success ------------------------------------------------------------------------------


def test_static_output_gives_plain_credentials(tmp_path, clock):
    cmd = printing(tmp_path, doc(SessionToken=TOKEN, AccountId="111122223333"))
    creds = process_credentials(ProcessSource("p", cmd), make_ctx(clock))
    assert isinstance(creds, Credentials)
    assert (creds.access_key, creds.secret_key, creds.token) == ("AKIAPROCESS0001", SECRET, TOKEN)
    assert creds.account_id == "111122223333"
    assert creds.method == "custom-process" and creds.expiry is None


def test_null_expiration_and_empty_token_are_absent(tmp_path, clock):
    cmd = printing(tmp_path, doc(Expiration=None, SessionToken=""))
    creds = run_process(ProcessSource("p", cmd), make_ctx(clock))
    assert isinstance(creds, Credentials) and creds.token is None


def test_account_id_falls_back_to_the_profile(tmp_path, clock):
    cmd = printing(tmp_path, doc())
    assert run_once(ProcessSource("p", cmd, "123456789001"), make_ctx(clock)).account_id == (
        "123456789001"
    )
    cmd = printing(tmp_path, doc(AccountId="123456789002"))
    assert run_once(ProcessSource("p", cmd, "123456789001"), make_ctx(clock)).account_id == (
        "123456789002"
    )


def test_expiration_refreshes_by_running_the_command_again(tmp_path, clock):
    cmd = counting(tmp_path, ["2030-01-01T01:00:00Z", "2030-01-01T03:00:00+00:00"])
    creds = run_process(ProcessSource("p", cmd), make_ctx(clock))
    assert isinstance(creds, RefreshableCredentials) and creds.method == "custom-process"
    assert creds.get_frozen_credentials().access_key == "AKIARUN1"
    assert creds.expiry == datetime(2030, 1, 1, 1, tzinfo=timezone.utc)
    clock.advance(minutes=30)
    assert creds.get_frozen_credentials().access_key == "AKIARUN1" and runs(tmp_path) == 1
    clock.advance(minutes=29, seconds=30)  # inside the mandatory window
    assert creds.get_frozen_credentials().access_key == "AKIARUN2"
    assert runs(tmp_path) == 2 and creds.expiry == datetime(2030, 1, 1, 3, tzinfo=timezone.utc)


def test_expired_output_is_run_once_more(tmp_path, clock):
    cmd = counting(tmp_path, ["2029-12-31T23:00:00Z", "2030-01-01T02:00:00Z"])
    creds = run_process(ProcessSource("p", cmd), make_ctx(clock))
    assert creds.get_frozen_credentials().access_key == "AKIARUN2" and runs(tmp_path) == 2


def test_output_expired_twice_is_an_error(tmp_path, clock):
    cmd = counting(tmp_path, ["2029-12-31T23:00:00Z"])
    with pytest.raises(CredentialProcessError) as err:
        run_process(ProcessSource("p", cmd), make_ctx(clock))
    assert runs(tmp_path) == 2
    assert "already expired" in str(err.value) and "'p'" in str(err.value)


def test_naive_expiration_is_utc(tmp_path, clock):
    cmd = printing(tmp_path, doc(Expiration="2030-01-01T05:00:00"))
    assert run_once(ProcessSource("p", cmd), make_ctx(clock)).expiry == datetime(
        2030, 1, 1, 5, tzinfo=timezone.utc
    )


def test_environment_is_ctx_env(tmp_path, clock):
    cmd = script(
        tmp_path,
        f"print(json.dumps(dict(Version=1, AccessKeyId=os.environ['MY_KEY'], "
        f"SecretAccessKey={SECRET!r})))",
    )
    creds = run_once(ProcessSource("p", cmd), make_ctx(clock, MY_KEY="AKIAFROMCTXENV"))
    assert creds.access_key == "AKIAFROMCTXENV"


def test_a_recoverable_failure_keeps_serving_valid_credentials(tmp_path, clock):
    counter = tmp_path / "runs"
    cmd = script(
        tmp_path,
        f"""
        p = {str(counter)!r}
        n = int(open(p).read()) + 1 if os.path.exists(p) else 1
        open(p, "w").write(str(n))
        if n > 1:
            sys.stderr.write("helper: network down\\n"); sys.exit(2)
        print(json.dumps(dict(Version=1, AccessKeyId="AKIAONE", SecretAccessKey="s",
                              Expiration="2030-01-01T01:00:00Z")))
        """,
    )
    creds = run_process(ProcessSource("p", cmd), make_ctx(clock))
    clock.advance(minutes=59, seconds=30)
    assert creds.get_frozen_credentials().access_key == "AKIAONE"  # static stability
    assert runs(tmp_path) == 2


# --- stderr ---------------------------------------------------------------------------------


def test_stderr_passes_through_on_success(tmp_path, clock, capfd):
    cmd = printing(tmp_path, doc(), extra="sys.stderr.write('helper: using cached login\\n')")
    run_once(ProcessSource("p", cmd), make_ctx(clock))
    assert "helper: using cached login" in capfd.readouterr().err


def test_non_zero_exit_reports_code_and_stderr_tail(tmp_path, clock, capfd):
    cmd = script(tmp_path, "sys.stderr.write('boom: not logged in\\n'); sys.exit(3)")
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("dev", cmd), make_ctx(clock))
    e = err.value
    assert e.exit_code == 3 and e.recoverable and e.provider == "custom-process"
    assert "code 3" in str(e) and "boom: not logged in" in str(e) and "'dev'" in str(e)
    assert "boom: not logged in" in capfd.readouterr().err


def test_only_the_stderr_tail_is_kept(tmp_path, clock, capfd):
    cmd = script(tmp_path, "sys.stderr.write('x' * 20000 + 'THE END'); sys.exit(1)")
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", cmd), make_ctx(clock))
    assert "THE END" in str(err.value) and len(str(err.value)) < 3000
    assert len(capfd.readouterr().err) >= 20000  # the user saw all of it


def test_secrets_printed_on_stdout_are_scrubbed_from_the_stderr_tail(tmp_path, clock, capfd):
    cmd = script(
        tmp_path,
        f"print(json.dumps(dict(Version=1, AccessKeyId='A', SecretAccessKey={SECRET!r})))\n"
        f"sys.stderr.write('debug: secret is {SECRET}\\n'); sys.exit(1)",
    )
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", cmd), make_ctx(clock))
    assert SECRET not in str(err.value) and "****" in str(err.value)


def test_a_custom_stderr_sink(tmp_path, clock):
    import io

    sink = io.StringIO()
    env = {"PATH": os.environ.get("PATH", os.defpath), "HOME": "/nonexistent"}
    ctx = make_context(env=env, clock=clock, cache=None, process_stderr=sink, process_timeout=10)
    run_once(ProcessSource("p", printing(tmp_path, doc(), "sys.stderr.write('héllo\\n')")), ctx)
    assert sink.getvalue() == "héllo\n"


# --- timeout --------------------------------------------------------------------------------


def test_timeout_kills_the_command(tmp_path, clock):
    pid_file = tmp_path / "pid"
    cmd = script(
        tmp_path,
        f"open({str(pid_file)!r}, 'w').write(str(os.getpid()))\n"
        "sys.stderr.write('waiting for you\\n'); sys.stderr.flush()\ntime.sleep(60)",
    )
    ctx = make_ctx(clock, process_timeout=0.7)
    started = time.monotonic()
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", cmd), ctx)
    assert time.monotonic() - started < 5
    e = err.value
    assert e.timed_out and e.recoverable and "0.7 s" in str(e) and "waiting for you" in str(e)
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


# --- bad output -----------------------------------------------------------------------------


def test_bad_json_never_echoes_stdout(tmp_path, clock, caplog):
    cmd = script(tmp_path, f"print('{SECRET} is not JSON')")
    with caplog.at_level(logging.DEBUG), pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", cmd), make_ctx(clock))
    assert "not valid JSON" in str(err.value)
    assert SECRET not in str(err.value) and SECRET not in repr(err.value)
    assert SECRET not in caplog.text
    assert err.value.__cause__ is None and err.value.__suppress_context__


@pytest.mark.parametrize(
    "version, shown",
    [("1", "'1'"), (2, "2"), (True, "true"), (1.0, "1.0"), (None, "null"), ([1], "an object")],
)
def test_version_must_be_the_integer_one(tmp_path, clock, version, shown):
    cmd = printing(tmp_path, doc(Version=version))
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", cmd), make_ctx(clock))
    assert f"unsupported Version {shown}" in str(err.value)


def test_missing_version(tmp_path, clock):
    d = doc()
    del d["Version"]
    with pytest.raises(CredentialProcessError, match="no Version"):
        run_once(ProcessSource("p", printing(tmp_path, d)), make_ctx(clock))


@pytest.mark.parametrize("key", ["AccessKeyId", "SecretAccessKey"])
def test_missing_required_keys(tmp_path, clock, key):
    d = doc()
    del d[key]
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", printing(tmp_path, d)), make_ctx(clock))
    assert f"missing the required key '{key}'" in str(err.value)


@pytest.mark.parametrize(
    "over",
    [{"SecretAccessKey": 5}, {"AccessKeyId": ""}, {"SessionToken": ["x"]}, {"Expiration": "soon"}],
)
def test_wrong_types_are_typed_errors(tmp_path, clock, over):
    with pytest.raises(CredentialProcessError):
        run_once(ProcessSource("p", printing(tmp_path, doc(**over))), make_ctx(clock))


def test_not_an_object_and_not_utf8(tmp_path, clock):
    with pytest.raises(CredentialProcessError, match="not an object"):
        run_once(ProcessSource("p", script(tmp_path, "print('[1, 2]')")), make_ctx(clock))
    cmd = script(tmp_path, "sys.stdout.buffer.write(b'\\xff\\xfe{')", "bin.py")
    with pytest.raises(CredentialProcessError, match="not UTF-8"):
        run_once(ProcessSource("p", cmd), make_ctx(clock))


def test_huge_output_is_refused(tmp_path, clock):
    cmd = script(tmp_path, "sys.stdout.write('x' * (3 * 1024 * 1024))")
    with pytest.raises(CredentialProcessError, match="more than"):
        run_once(ProcessSource("p", cmd), make_ctx(clock))


def test_utf8_bom_is_accepted(tmp_path, clock):
    body = json.dumps(doc())
    cmd = script(tmp_path, f"sys.stdout.buffer.write(b'\\xef\\xbb\\xbf' + {body!r}.encode())")
    assert run_once(ProcessSource("p", cmd), make_ctx(clock)).secret_key == SECRET


# --- starting the command -------------------------------------------------------------------


def test_program_not_found_explains_there_is_no_shell(clock):
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", "no-such-helper-xyz --profile p"), make_ctx(clock))
    assert "'no-such-helper-xyz' was not found" in str(err.value)
    assert "without a shell" in str(err.value) and not err.value.recoverable


def test_program_not_executable(tmp_path, clock):
    path = tmp_path / "helper.sh"
    path.write_text("#!/bin/sh\necho {}\n")
    path.chmod(0o644)
    with pytest.raises(CredentialProcessError, match="not executable"):
        run_once(ProcessSource("p", str(path)), make_ctx(clock))


def test_bad_quoting_and_empty_command_are_config_errors(clock):
    with pytest.raises(InvalidConfigError) as err:
        run_once(ProcessSource("p", "helper 'unterminated"), make_ctx(clock))
    assert err.value.key == "credential_process" and err.value.profile == "p"
    with pytest.raises(InvalidConfigError, match="empty"):
        run_once(ProcessSource("p", "   "), make_ctx(clock))


def test_describe_command_is_offline(tmp_path):
    exe_dir, exe = os.path.split(sys.executable)
    ok, why = describe_command(ProcessSource("p", f"{exe} helper.py"), {"PATH": exe_dir})
    assert ok and exe in why
    ok, why = describe_command(ProcessSource("p", "no-such-helper-xyz"), {"PATH": "/nonexistent"})
    assert not ok and "not found" in why
    assert describe_command(ProcessSource("p", sys.executable))[0]
    assert not describe_command(ProcessSource("p", "helper 'open"))[0]


# --- splitting: botocore's compat_shell_split -----------------------------------------------

SPLIT_CASES = [
    "helper --profile dev",
    'helper "a b" c',
    "helper 'a b' c",
    r"C:\tools\helper.exe --x",
    r'"C:\Program Files\helper.exe" --x',
    r'a\\"b c" d',
    r"a\\\"b c",
    r'a\\\\"b c" d',
    'a "" b',
    "  lots   of\tspace ",
    r"trailing\\",
    "",
]


@pytest.mark.parametrize("command", SPLIT_CASES)
def test_windows_split_matches_botocore(command):
    from botocore.compat import compat_shell_split

    assert split_command(command, "win32") == compat_shell_split(command, "win32")


@pytest.mark.parametrize("command", [c for c in SPLIT_CASES if "\\" not in c])
def test_posix_split_matches_botocore(command):
    from botocore.compat import compat_shell_split

    assert split_command(command, "linux") == compat_shell_split(command, "linux")


def test_windows_unterminated_quote():
    with pytest.raises(ValueError):
        split_command('helper "open', "win32")


# --- the recursion guard --------------------------------------------------------------------


def test_a_marker_for_the_same_profile_and_command_stops_it(tmp_path, clock):
    cmd = printing(tmp_path, doc())
    first = make_ctx(clock)
    seen = tmp_path / "stack"
    probe = script(
        tmp_path,
        f"open({str(seen)!r}, 'w').write(os.environ[{STACK_ENV!r}])\nprint(json.dumps({doc()!r}))",
        "probe.py",
    )
    run_once(ProcessSource("p", probe), first)
    stack = seen.read_text()
    assert json.loads(stack)[0][0] == "p"
    # Same profile and command inside its own run: refused without running anything.
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("p", probe), make_ctx(clock, **{STACK_ENV: stack}))
    assert "calls itself" in str(err.value) and "'p'" in str(err.value)
    assert not err.value.recoverable
    # Another profile (or another command) inside it is fine.
    run_once(ProcessSource("q", cmd), make_ctx(clock, **{STACK_ENV: stack}))


def test_real_recursion_through_a_child_fails_fast(tmp_path, clock):
    """P's credential_process resolves P again (as `awsroles credential-process --profile P`
    would): the child refuses, and the parent's error carries the child's explanation."""
    cmd = script(
        tmp_path,
        f"""
        sys.path.insert(0, {ROOT!r})
        from awsroles.config.model import ProcessSource
        from awsroles.context import Context, Services
        from awsroles.errors import AwsRolesError
        from awsroles.providers.process import run_once
        try:
            ctx = Context(services=Services(env=os.environ))
            c = run_once(ProcessSource("loop", os.environ["SELF_CMD"]), ctx)
        except AwsRolesError as exc:
            sys.stderr.write("awsroles: %s\\n" % exc)
            sys.exit(1)
        print(json.dumps(dict(Version=1, AccessKeyId=c.access_key, SecretAccessKey="x")))
        """,
    )
    started = time.monotonic()
    with pytest.raises(CredentialProcessError) as err:
        run_once(ProcessSource("loop", cmd), make_ctx(clock, SELF_CMD=cmd))
    assert time.monotonic() - started < 10
    assert "exited with code 1" in str(err.value) and "calls itself" in str(err.value)


def test_depth_limit(tmp_path, clock):
    stack = json.dumps([[f"p{i}", "0" * 16] for i in range(8)])
    with pytest.raises(CredentialProcessError, match="nested 8 levels"):
        run_once(
            ProcessSource("p", printing(tmp_path, doc())), make_ctx(clock, **{STACK_ENV: stack})
        )


def test_a_garbled_marker_is_ignored(tmp_path, clock):
    cmd = printing(tmp_path, doc())
    assert run_once(ProcessSource("p", cmd), make_ctx(clock, **{STACK_ENV: "{not json"}))


# --- secrets --------------------------------------------------------------------------------


def test_no_secret_in_logs_reprs_or_errors(tmp_path, clock, caplog, capfd):
    seen = []
    with caplog.at_level(logging.DEBUG):
        cmd = counting(tmp_path, ["2030-01-01T01:00:00Z"])
        creds = run_process(ProcessSource("p", cmd), make_ctx(clock))
        seen += [repr(creds), str(creds), repr(creds.get_frozen_credentials())]
        for body in (
            f"print('{SECRET}')",
            f"print(json.dumps(dict(Version=2, SecretAccessKey={SECRET!r})))",
            f"print(json.dumps(dict(Version=1, AccessKeyId='A', SecretAccessKey={SECRET!r},"
            f" SessionToken={TOKEN!r}, Expiration='x')))",
            f"print(json.dumps(dict(Version=1, SecretAccessKey={SECRET!r})))",
            f"print(json.dumps(dict(Version=1, AccessKeyId='A', SecretAccessKey={SECRET!r},"
            f" SessionToken={TOKEN!r})))\nsys.stderr.write({TOKEN!r}); sys.exit(4)",
        ):
            with pytest.raises(AwsRolesError) as err:
                run_once(ProcessSource("p", script(tmp_path, body, "s.py")), make_ctx(clock))
            seen += [str(err.value), repr(err.value)]
    seen.append(caplog.text)
    for text in seen:
        assert SECRET not in text and TOKEN not in text


def test_errors_are_credential_retrieval_errors_and_pickle(tmp_path, clock):
    import pickle

    with pytest.raises(CredentialRetrievalError) as err:
        run_once(ProcessSource("p", script(tmp_path, "sys.exit(7)")), make_ctx(clock))
    again = pickle.loads(pickle.dumps(err.value))
    assert str(again) == str(err.value) and again.exit_code == 7 and again.recoverable


# --- differential: botocore's ProcessProvider -----------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        doc(SessionToken=TOKEN, Expiration="2030-06-01T00:00:00Z", AccountId="111122223333"),
        doc(),
        doc(SessionToken=TOKEN),
    ],
)
def test_same_credentials_as_botocore(tmp_path, clock, document):
    from botocore.credentials import ProcessProvider

    cmd = printing(tmp_path, document)
    config = {"profiles": {"p": {"credential_process": cmd, "aws_account_id": "123456789001"}}}
    theirs = ProcessProvider("p", lambda: config).load().get_frozen_credentials()
    ours = run_process(ProcessSource("p", cmd, "123456789001"), make_ctx(clock))
    mine = ours.get_frozen_credentials()
    assert (mine.access_key, mine.secret_key, mine.token, mine.account_id) == (
        theirs.access_key,
        theirs.secret_key,
        theirs.token,
        theirs.account_id,
    )
