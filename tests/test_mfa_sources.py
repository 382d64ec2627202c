"""Where MFA codes come from: ``prompter=`` (or ``--mfa-token``), then the profile's
``mfa_process``, then the terminal as botocore asks (getpass: /dev/tty, else a line from stdin);
none of them inside an advisory (background) refresh; and the code never shows anywhere.

In-process tests run on a frozen clock against a FakeSTS with a role that requires MFA; the
terminal (``getpass.getpass``) is replaced in every in-process test so that nothing can block
on a real terminal. Command tests run ``python -m awsroles`` in a new session (no controlling
terminal), so getpass falls back to stdin as it does in cron and CI."""

from __future__ import annotations

import getpass
import io
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from typing import List, Optional

import pytest

import awsroles
from awsroles.cli.resolve import OneCode, make_context
from awsroles.context import Context, Services, Settings
from awsroles.credentials import Credentials
from awsroles.errors import AccessDeniedError, AwsRolesError, InvalidConfigError, MFAError
from awsroles.providers.process_run import split_command
from awsroles.refresh import background
from awsroles.resolver.report import render_report

from helpers import ACCOUNT, cache_files, make_env, role, write_aws_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = sys.executable
SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"
OTHER_SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/bob"
# Not a substring of the account id or of any ARN here, so a leak of it can be seen.
CODE = "482913"
WRONG = "654321"
PROMPT = f"Enter MFA code for {SERIAL}: "
GETPASS_WARNING = "Warning: Password input may be echoed."
MFA_ROLE = role("Mfa")


# --- helpers --------------------------------------------------------------------------------


def py_command(code: str, *args: str) -> str:
    """A command line running ``python -c code args...``, quoted as a shell would be (the
    command is split with shlex, as credential_process is)."""
    return " ".join(shlex.quote(part) for part in (PY, "-c", code, *args))


def counting(counter, output: str = CODE) -> str:
    """An mfa_process that appends one line to ``counter`` per run and prints ``output``."""
    return py_command(
        f"import sys;open({str(counter)!r},'a').write('run\\n');sys.stdout.write({output!r})"
    )


def runs(counter) -> int:
    return len(counter.read_text().splitlines()) if counter.exists() else 0


def mfa_profile(
    name: str = "mfa",
    role_name: str = "Mfa",
    *,
    serial: Optional[str] = SERIAL,
    source: str = "base",
    mfa_process: Optional[str] = None,
) -> str:
    text = f"[profile {name}]\nrole_arn = {role(role_name)}\nsource_profile = {source}\n"
    if serial is not None:
        text += f"mfa_serial = {serial}\n"
    if mfa_process is not None:
        text += f"mfa_process = {mfa_process}\n"
    return text + "\n"


def assume_calls(sts) -> list:
    return [c for c in sts.calls if c.action == "AssumeRole"]


class Terminal:
    """Stands in for ``getpass.getpass``: records each prompt; answers ``answer``, or raises
    EOFError (end of input) when it is None."""

    def __init__(self) -> None:
        self.asked: List[str] = []
        self.answer: Optional[str] = None

    def __call__(self, prompt: str = "Password: ", stream=None) -> str:
        self.asked.append(prompt)
        if self.answer is None:
            raise EOFError
        return self.answer


class Prompter:
    """A ``prompter=`` that records the serials it is asked for."""

    def __init__(self, answer: Optional[str] = CODE) -> None:
        self.asked: List[str] = []
        self.answer = answer

    def __call__(self, serial: str) -> Optional[str]:
        self.asked.append(serial)
        return self.answer


@pytest.fixture(autouse=True)
def terminal(monkeypatch):
    fake = Terminal()
    monkeypatch.setattr(getpass, "getpass", fake)
    return fake


@pytest.fixture
def home(tmp_path, fake_sts):
    h = tmp_path / "home"
    h.mkdir()
    fake_sts.add_role(MFA_ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    return h


def resolve(home, sts, clock, profile: str = "mfa", **kw) -> Credentials:
    return awsroles.resolve(
        profile, env=make_env(home, sts.url), clock=clock, **kw
    ).get_frozen_credentials()


def log_texts(records) -> str:
    return "\n".join(f"{r.getMessage()} {r.args!r} {r.exc_text or ''}" for r in records)


# --- 1. the order of the sources ------------------------------------------------------------


def test_the_prompter_wins_over_mfa_process_and_the_terminal(
    home, fake_sts, clock, terminal, tmp_path
):
    counter = tmp_path / "runs"
    # both other sources would give a wrong code, so using either would be refused
    write_aws_files(home, mfa_profile(mfa_process=counting(counter, WRONG)))
    terminal.answer = WRONG
    prompter = Prompter(CODE)
    creds = resolve(home, fake_sts, clock, prompter=prompter)
    assert creds.access_key.startswith("ASIA")
    assert prompter.asked == [SERIAL]
    assert runs(counter) == 0 and terminal.asked == []
    (call,) = assume_calls(fake_sts)
    assert call.params["SerialNumber"] == SERIAL and call.status == 200


def test_a_prompter_returning_none_passes_to_mfa_process(home, fake_sts, clock, terminal, tmp_path):
    counter = tmp_path / "runs"
    write_aws_files(home, mfa_profile(mfa_process=counting(counter, CODE)))
    terminal.answer = WRONG
    prompter = Prompter(None)
    assert resolve(home, fake_sts, clock, prompter=prompter).token
    assert prompter.asked == [SERIAL]
    assert runs(counter) == 1 and terminal.asked == []


def test_a_prompter_returning_none_without_mfa_process_passes_to_the_terminal(
    home, fake_sts, clock, terminal
):
    write_aws_files(home, mfa_profile())
    terminal.answer = CODE
    prompter = Prompter(None)
    assert resolve(home, fake_sts, clock, prompter=prompter).token
    assert prompter.asked == [SERIAL]
    assert terminal.asked == [PROMPT]  # botocore's prompt, word for word


def test_mfa_process_wins_over_the_terminal(home, fake_sts, clock, terminal, tmp_path):
    counter = tmp_path / "runs"
    write_aws_files(home, mfa_profile(mfa_process=counting(counter, CODE)))
    terminal.answer = WRONG
    assert resolve(home, fake_sts, clock).token
    assert runs(counter) == 1 and terminal.asked == []


def test_no_source_with_a_code_ends_at_the_terminal_with_an_mfa_error(
    home, fake_sts, clock, terminal
):
    write_aws_files(home, mfa_profile())
    prompter = Prompter(None)
    with pytest.raises(MFAError) as err:
        resolve(home, fake_sts, clock, prompter=prompter)  # the terminal: end of input
    assert err.value.profile == "mfa"
    assert "no MFA code was entered" in str(err.value) and SERIAL in str(err.value)
    assert prompter.asked == [SERIAL] and terminal.asked == [PROMPT]
    assert fake_sts.count("AssumeRole") == 0


# --- 2. mfa_process -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "printed",
    [
        CODE + "\n",
        CODE,
        CODE + "\nsecond line\n999999\n",
        "  " + CODE + "  \r\n",
        "\n\t" + CODE + "\t\nignored 654321\n",
    ],
    ids=["line", "no-newline", "extra-lines", "spaces-crlf", "blank-lines-around"],
)
def test_mfa_process_code_is_its_first_line_stripped(home, fake_sts, clock, printed):
    write_aws_files(
        home, mfa_profile(mfa_process=py_command(f"import sys;sys.stdout.write({printed!r})"))
    )
    assert resolve(home, fake_sts, clock).token  # the role accepts CODE only
    (call,) = assume_calls(fake_sts)
    assert call.status == 200 and call.params["TokenCode"] == "****"


def test_mfa_process_is_split_like_credential_process_and_run_without_a_shell(
    home, fake_sts, clock, tmp_path
):
    out = tmp_path / "argv.json"
    # double quotes around the program, single quotes and double quotes around arguments; a
    # shell would pipe into cat, expand $HOME and the glob, and run the second command
    command = (
        f"{PY} -c \"import sys,json;open(sys.argv[1],'w').write(json.dumps(sys.argv[2:]));"
        f"print('{CODE}')\" {out} | cat 'two words' \"a b\" $HOME * && echo 999999"
    )
    write_aws_files(home, mfa_profile(mfa_process=command))
    assert resolve(home, fake_sts, clock).token
    argv = json.loads(out.read_text())
    assert argv == ["|", "cat", "two words", "a b", "$HOME", "*", "&&", "echo", "999999"]
    assert split_command(command)[4:] == argv  # credential_process's splitting


def test_mfa_process_stderr_reaches_process_stderr(home, fake_sts, clock, capfd):
    command = py_command(
        f"import sys;sys.stderr.write('touch your security key\\n');sys.stderr.flush();"
        f"print('{CODE}')"
    )
    write_aws_files(home, mfa_profile(mfa_process=command))
    sink = io.StringIO()
    assert resolve(home, fake_sts, clock, process_stderr=sink).token
    assert sink.getvalue() == "touch your security key\n"
    out, err = capfd.readouterr()
    assert CODE not in out + err  # stdout is captured, never passed through
    assert "touch your security key" not in err  # to the sink given, not to sys.stderr


def test_mfa_process_stdout_never_reaches_a_log_record(home, fake_sts, clock, caplog):
    marker = "second-line-of-mfa-process-stdout"
    command = py_command(f"print('{CODE}');print('{marker}')")
    write_aws_files(home, mfa_profile(mfa_process=command))
    with caplog.at_level(logging.DEBUG, logger="awsroles"):
        assert resolve(home, fake_sts, clock).token
    texts = log_texts(caplog.records)
    assert "running mfa_process" in texts  # records at DEBUG were collected
    assert CODE not in texts and marker not in texts


def test_mfa_process_output_is_not_in_the_error_when_it_fails(home, fake_sts, clock, caplog):
    marker = "second-line-of-mfa-process-stdout"
    command = py_command(f"import sys;print('{CODE}');print('{marker}');sys.exit(1)")
    write_aws_files(home, mfa_profile(mfa_process=command))
    with caplog.at_level(logging.DEBUG, logger="awsroles"):
        with pytest.raises(MFAError) as err:
            resolve(home, fake_sts, clock)
    shown = f"{err.value} {err.value!r} {vars(err.value)}"
    assert "exited with code 1" in shown
    assert CODE not in shown and marker not in shown
    assert CODE not in log_texts(caplog.records) and marker not in log_texts(caplog.records)


@pytest.mark.parametrize(
    "command, message",
    [
        (py_command("import sys;sys.exit(3)"), "exited with code 3"),
        (py_command(f"import sys;print('{CODE}');sys.exit(7)"), "exited with code 7"),
        ("/nonexistent/awsroles-mfa-helper --device alice", "could not be started"),
        ("awsroles-no-such-mfa-helper-program", "could not be started"),
        (py_command("pass"), "printed nothing"),
        (py_command("print('   ')"), "printed nothing"),
    ],
    ids=["exit-3", "code-then-exit-7", "no-such-path", "not-on-path", "nothing", "blank"],
)
def test_mfa_process_failures_are_mfa_errors_naming_the_key(
    home, fake_sts, clock, command, message
):
    write_aws_files(home, mfa_profile(mfa_process=command))
    with pytest.raises(MFAError) as err:
        resolve(home, fake_sts, clock)
    assert err.value.key == "mfa_process" and err.value.profile == "mfa"
    assert message in str(err.value) and SERIAL in str(err.value)
    assert "profile 'mfa'" in str(err.value) and "key 'mfa_process'" in str(err.value)
    assert fake_sts.count("AssumeRole") == 0


@pytest.mark.parametrize(
    "printed",
    ["24680", "2468024", "24680a", "abcdef", "SECRET-ISH-VALUE-0042", "246 802"],
    ids=["5-digits", "7-digits", "letter", "letters", "long", "space"],
)
def test_mfa_process_printing_something_else_than_6_digits_is_refused_unshown(
    home, fake_sts, clock, caplog, printed
):
    write_aws_files(home, mfa_profile(mfa_process=py_command(f"print({printed!r})")))
    with caplog.at_level(logging.DEBUG, logger="awsroles"):
        with pytest.raises(MFAError) as err:
            resolve(home, fake_sts, clock)
    assert err.value.key == "mfa_process" and err.value.profile == "mfa"
    assert "must be 6 digits" in str(err.value)
    assert printed not in f"{err.value} {err.value!r} {vars(err.value)}"
    assert printed not in log_texts(caplog.records)
    assert fake_sts.count("AssumeRole") == 0  # refused before anything is sent


NON_ASCII_DIGITS = {
    "fullwidth": "\uff14\uff18\uff12\uff19\uff11\uff13",
    "arabic-indic": "\u0664\u0668\u0662\u0669\u0661\u0663",
    "superscript": "\u2074\u2078\u00b2\u2079\u00b9\u00b3",  # str.isdigit() is True
}


@pytest.mark.parametrize("source", ["prompter", "mfa_process"])
@pytest.mark.parametrize("name", list(NON_ASCII_DIGITS))
def test_six_non_ascii_digits_are_not_a_code(home, fake_sts, clock, source, name):
    # STS takes [0-9]{6}; these look like digits to str.isdigit() but are no TOTP code, and
    # sending them only buys a refusal from STS
    printed = NON_ASCII_DIGITS[name]
    if source == "prompter":
        write_aws_files(home, mfa_profile())
        options = {"prompter": Prompter(printed)}
    else:
        command = py_command(f"import sys;sys.stdout.buffer.write({printed.encode()!r})")
        write_aws_files(home, mfa_profile(mfa_process=command))
        options = {}
    with pytest.raises(MFAError) as err:
        resolve(home, fake_sts, clock, **options)
    assert err.value.key == ("mfa_process" if source == "mfa_process" else "mfa_serial")
    assert "must be 6 digits" in str(err.value) and printed not in str(err.value)
    assert fake_sts.count("AssumeRole") == 0  # refused before anything is sent


def test_mfa_process_that_hangs_is_killed_at_process_timeout(home, fake_sts, clock):
    write_aws_files(home, mfa_profile(mfa_process=py_command("import time;time.sleep(60)")))
    started = time.monotonic()
    with pytest.raises(MFAError) as err:
        resolve(home, fake_sts, clock, process_timeout=0.5)
    assert time.monotonic() - started < 10  # 0.5 s, with a generous bound for slow machines
    assert err.value.key == "mfa_process" and err.value.profile == "mfa"
    assert "did not finish within 0.5 s" in str(err.value)
    assert fake_sts.count("AssumeRole") == 0


def test_an_unsplittable_mfa_process_is_invalid_config_naming_the_key(
    home, fake_sts, clock, terminal
):
    write_aws_files(home, mfa_profile(mfa_process=f'{PY} -c "print(123456)'))
    with pytest.raises(InvalidConfigError) as err:
        resolve(home, fake_sts, clock)
    assert err.value.key == "mfa_process" and err.value.profile == "mfa"
    assert "cannot be split" in str(err.value)
    assert terminal.asked == [] and fake_sts.count("AssumeRole") == 0


def test_mfa_process_without_mfa_serial_is_invalid_config_naming_the_key(
    home, fake_sts, clock, tmp_path
):
    counter = tmp_path / "runs"
    write_aws_files(home, mfa_profile(serial=None, mfa_process=counting(counter)))
    with pytest.raises(InvalidConfigError) as err:
        resolve(home, fake_sts, clock)
    assert err.value.key == "mfa_process" and err.value.profile == "mfa"
    assert "mfa_serial" in str(err.value)
    assert os.path.join(str(home), ".aws", "config") in str(err.value)
    assert runs(counter) == 0 and fake_sts.count() == 0


def test_an_empty_mfa_process_is_invalid_config(home, fake_sts, clock, terminal):
    write_aws_files(home, mfa_profile(mfa_process=""))
    with pytest.raises(InvalidConfigError) as err:
        resolve(home, fake_sts, clock)
    assert err.value.key == "mfa_process" and err.value.profile == "mfa"
    assert "empty" in str(err.value)
    assert terminal.asked == [] and fake_sts.count() == 0


@pytest.mark.parametrize("command", ['""', "''", "\"\" ''"])
def test_an_mfa_process_of_only_empty_quotes_is_an_error_naming_the_key(
    home, fake_sts, clock, terminal, command
):
    write_aws_files(home, mfa_profile(mfa_process=command))
    with pytest.raises(AwsRolesError) as err:
        resolve(home, fake_sts, clock)
    assert err.value.key == "mfa_process" and err.value.profile == "mfa"
    assert terminal.asked == [] and fake_sts.count("AssumeRole") == 0


# --- 3. the terminal, through the command ---------------------------------------------------


@pytest.fixture
def cli_env(tmp_path, sts):
    """A HOME with profile 'mfa' (no mfa_process) and the environment for the command."""
    home = tmp_path / "home"
    write_aws_files(home, mfa_profile())
    sts.add_role(MFA_ROLE, mfa_serial=SERIAL, mfa_code=CODE)
    env = make_env(home, sts.url)
    env.update(PATH=os.environ.get("PATH", "/usr/bin:/bin"), LANG="C.UTF-8", PYTHONPATH=ROOT)
    return env


def command(env, *args: str, closed_stdin: bool = False, **kw) -> subprocess.CompletedProcess:
    """``python -m awsroles ARGS`` in a new session: no controlling terminal, so /dev/tty
    cannot be opened and getpass reads stdin. ``closed_stdin``: file descriptor 0 closed."""
    argv = [PY, "-m", "awsroles", *args]
    if closed_stdin:
        argv = ["sh", "-c", 'exec "$@" <&-', "sh", *argv]
        kw.setdefault("stdin", subprocess.DEVNULL)  # for sh, which closes it for awsroles
    return subprocess.run(
        argv, env=env, capture_output=True, text=True, timeout=60, start_new_session=True, **kw
    )


def error_lines(stderr: str) -> List[str]:
    return [line for line in stderr.splitlines() if line.startswith("awsroles: error:")]


def the_error(stderr: str) -> str:
    """The command's error message: from ``awsroles: error:`` to the end, which must be one
    line."""
    text = stderr[stderr.index("awsroles: error:") :]
    assert text.endswith("\n") and text.count("\n") == 1, text
    return text


def identity(env, exported: dict) -> dict:
    """GetCallerIdentity with the credentials the command printed (JSON export format)."""
    creds = Credentials(
        exported["AccessKeyId"], exported["SecretAccessKey"], exported["SessionToken"]
    )
    return Context(Settings(), Services(env=env)).sts_client().get_caller_identity(creds)


@pytest.mark.e2e
def test_a_code_piped_on_stdin_is_read_as_botocore_reads_it(cli_env, sts):
    done = command(cli_env, "export", "-p", "mfa", "--format", "json", input=CODE + "\n")
    assert done.returncode == 0, done.stderr
    # getpass's fallback: its warning and the prompt on stderr, nothing of it on stdout
    assert GETPASS_WARNING in done.stderr and PROMPT in done.stderr
    assert "Enter MFA code" not in done.stdout and "Warning" not in done.stdout
    assert CODE not in done.stderr  # stdin is not echoed
    exported = json.loads(done.stdout)
    assert identity(cli_env, exported)["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Mfa/"
    )
    (call,) = assume_calls(sts)
    assert call.params["SerialNumber"] == SERIAL and call.params["TokenCode"] == "****"


@pytest.mark.e2e
@pytest.mark.parametrize(
    "how",
    ["eof", "empty-line", "devnull", "closed"],
)
def test_no_code_on_stdin_is_a_one_line_mfa_error(cli_env, sts, how):
    kw: dict = {}
    if how == "eof":
        kw["input"] = ""
    elif how == "empty-line":
        kw["input"] = "\n"
    elif how == "devnull":
        kw["stdin"] = subprocess.DEVNULL
    else:
        kw["closed_stdin"] = True
    done = command(cli_env, "export", "-p", "mfa", **kw)
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.count("awsroles: error:") == 1
    line = the_error(done.stderr)
    assert "profile 'mfa'" in line and SERIAL in line
    if how == "closed":
        assert "no terminal to ask on and no input" in line
    else:
        assert "no MFA code was entered" in line
        assert PROMPT in done.stderr
    assert sts.count("AssumeRole") == 0


@pytest.mark.e2e
@pytest.mark.parametrize("how", ["eof", "devnull", "closed"])
def test_the_error_after_an_unanswered_prompt_starts_its_own_line(cli_env, sts, how):
    # getpass ends its prompt's line only when a line was read; at end of input, or with no
    # stdin at all, the prompt is left open, and the error must not be glued to it
    kw: dict = {"input": ""} if how == "eof" else {}
    if how == "devnull":
        kw["stdin"] = subprocess.DEVNULL
    elif how == "closed":
        kw["closed_stdin"] = True
    done = command(cli_env, "export", "-p", "mfa", **kw)
    assert done.returncode == 2
    assert PROMPT in done.stderr
    (line,) = error_lines(done.stderr)
    assert "profile 'mfa'" in line


@pytest.mark.e2e
def test_a_wrong_code_on_stdin_is_sts_access_denied(cli_env, sts):
    done = command(cli_env, "export", "-p", "mfa", input=WRONG + "\n")
    assert done.returncode == 2
    assert done.stdout == "" and "Traceback" not in done.stderr
    (line,) = error_lines(done.stderr)
    assert "AccessDenied" in line and MFA_ROLE in line
    assert "MultiFactorAuthentication failed with invalid MFA one time pass code" in line
    assert WRONG not in done.stderr
    (call,) = assume_calls(sts)
    assert call.status == 403 and call.params["TokenCode"] == "****"


# --- 4. --mfa-token ------------------------------------------------------------------------


def _check_export(env, out):
    assert identity(env, json.loads(out))["Arn"].startswith(
        f"arn:aws:sts::{ACCOUNT}:assumed-role/Mfa/"
    )


def _check_credential_process(env, out):
    doc = json.loads(out)
    assert doc["Version"] == 1
    _check_export(env, out)


def _check_exec(env, out):
    assert out.strip().startswith("ASIA")


def _check_whoami(env, out):
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/Mfa/" in out


TOKEN_COMMANDS = {
    "export": (["export", "-p", "mfa", "--format", "json"], [], _check_export),
    "credential-process": (["credential-process", "-p", "mfa"], [], _check_credential_process),
    "exec": (
        ["exec", "-p", "mfa"],
        ["--", PY, "-c", "import os;print(os.environ['AWS_ACCESS_KEY_ID'])"],
        _check_exec,
    ),
    "whoami": (["whoami", "-p", "mfa"], [], _check_whoami),
}


@pytest.mark.e2e
@pytest.mark.parametrize("closed_stdin", [False, True], ids=["devnull", "closed"])
@pytest.mark.parametrize("name", list(TOKEN_COMMANDS))
def test_mfa_token_works_without_stdin_and_never_shows(cli_env, sts, name, closed_stdin):
    head, tail, check = TOKEN_COMMANDS[name]
    args = ["--debug", *head, "--mfa-token", CODE, *tail]
    if closed_stdin:
        done = command(cli_env, *args, closed_stdin=True)
    else:
        done = command(cli_env, *args, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    check(cli_env, done.stdout)
    assert "Enter MFA code" not in done.stderr  # the terminal was not asked
    assert " DEBUG " in done.stderr  # --debug logged ...
    assert CODE not in done.stdout + done.stderr  # ... never the code
    (call,) = assume_calls(sts)
    assert call.status == 200 and call.params["SerialNumber"] == SERIAL


@pytest.mark.e2e
def test_mfa_token_wins_over_mfa_process(cli_env, sts, tmp_path):
    counter = tmp_path / "runs"
    write_aws_files(cli_env["HOME"], mfa_profile(mfa_process=counting(counter, WRONG)))
    done = command(cli_env, "export", "-p", "mfa", "--mfa-token", CODE, stdin=subprocess.DEVNULL)
    assert done.returncode == 0, done.stderr
    assert runs(counter) == 0
    assert [c.status for c in assume_calls(sts)] == [200]


@pytest.mark.e2e
def test_a_malformed_mfa_token_is_a_one_line_error_that_does_not_show_it(cli_env, sts):
    token = "S3CR3T-T0KEN"
    done = command(cli_env, "export", "-p", "mfa", "--mfa-token", token, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    (line,) = error_lines(done.stderr)
    assert "must be 6 digits" in line and "profile 'mfa'" in line
    assert token not in done.stderr and "Traceback" not in done.stderr
    assert sts.count("AssumeRole") == 0


def _two_hop_config(inner_serial: str, outer_serial: str, outer_process: Optional[str]) -> str:
    return mfa_profile("inner", "In", serial=inner_serial) + mfa_profile(
        "outer", "Out", serial=outer_serial, source="inner", mfa_process=outer_process
    )


@pytest.mark.e2e
@pytest.mark.parametrize("same_device", [False, True], ids=["two-devices", "one-device"])
def test_mfa_token_answers_the_first_hop_only_the_second_runs_mfa_process(
    cli_env, sts, tmp_path, same_device
):
    outer_serial = SERIAL if same_device else OTHER_SERIAL
    inner_code, outer_code = ("111111", "222222") if not same_device else (CODE, CODE)
    counter = tmp_path / "runs"
    write_aws_files(
        cli_env["HOME"], _two_hop_config(SERIAL, outer_serial, counting(counter, outer_code))
    )
    sts.add_role(role("In"), mfa_serial=SERIAL, mfa_code=inner_code)
    sts.add_role(role("Out"), mfa_serial=outer_serial, mfa_code=outer_code)
    done = command(
        cli_env, "export", "-p", "outer", "--mfa-token", inner_code, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    assert "Enter MFA code" not in done.stderr
    # the inner hop is asked first and takes the token; the outer's code is its mfa_process's
    assert runs(counter) == 1
    calls = assume_calls(sts)
    assert [(c.params["RoleArn"], c.params["SerialNumber"], c.status) for c in calls] == [
        (role("In"), SERIAL, 200),
        (role("Out"), outer_serial, 200),
    ]
    assert inner_code not in done.stderr + done.stdout


@pytest.mark.e2e
def test_mfa_token_is_not_reused_for_the_second_hop_which_asks_the_terminal(cli_env, sts):
    # the same device on both hops, no mfa_process: the token answers the inner hop; the
    # outer hop asks the terminal, which has nothing to read
    write_aws_files(cli_env["HOME"], _two_hop_config(SERIAL, SERIAL, None))
    sts.add_role(role("In"), mfa_serial=SERIAL, mfa_code=CODE)
    sts.add_role(role("Out"), mfa_serial=SERIAL, mfa_code=CODE)
    done = command(cli_env, "export", "-p", "outer", "--mfa-token", CODE, stdin=subprocess.DEVNULL)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count(PROMPT) == 1  # asked once, for the outer hop
    assert done.stderr.count("awsroles: error:") == 1
    line = the_error(done.stderr)
    assert "profile 'outer'" in line and "no MFA code was entered" in line
    assert "Traceback" not in done.stderr
    calls = assume_calls(sts)
    assert [(c.params["RoleArn"], c.status) for c in calls] == [(role("In"), 200)]
    assert len(cache_files(cli_env["HOME"])) == 1  # the inner hop's entry is kept
    # a code on stdin answers that second ask; the inner hop comes from the cache
    again = command(cli_env, "export", "-p", "outer", "--mfa-token", CODE, input=CODE + "\n")
    assert again.returncode == 0, again.stderr
    assert again.stderr.count(PROMPT) == 0  # the token answered the outer hop this time
    calls = assume_calls(sts)
    assert [(c.params["RoleArn"], c.status) for c in calls] == [
        (role("In"), 200),
        (role("Out"), 200),
    ]


# --- 5. no source in a background refresh ---------------------------------------------------


class Asks:
    """One source that counts its asks: the prompter, or an mfa_process writing to a file."""

    def __init__(self, kind: str, counter) -> None:
        self.kind = kind
        self.counter = counter
        self.prompter = Prompter(CODE) if kind == "prompter" else None

    def profile(self) -> str:
        if self.kind == "prompter":
            return mfa_profile()
        return mfa_profile(mfa_process=counting(self.counter, CODE))

    def count(self) -> int:
        return len(self.prompter.asked) if self.prompter is not None else runs(self.counter)


@pytest.mark.parametrize("kind", ["prompter", "mfa_process"])
def test_an_advisory_refresh_asks_no_source_the_mandatory_one_asks_once(
    home, fake_sts, clock, terminal, tmp_path, kind
):
    asks = Asks(kind, tmp_path / "runs")
    write_aws_files(home, asks.profile())
    creds = awsroles.resolve(
        "mfa",
        env=make_env(home, fake_sts.url),
        clock=clock,
        prompter=asks.prompter,
        background_refresh=False,  # advisory refreshes run inline, on this thread
    )
    first = creds.get_frozen_credentials()
    assert asks.count() == 1
    clock.advance(minutes=50)  # 10 min left of 60: advisory window
    for _ in range(3):
        assert creds.get_frozen_credentials() == first  # the held set is served
    assert creds.refresh(force=True) == first  # forced, but advisory: still no ask
    assert asks.count() == 1 and terminal.asked == []
    assert fake_sts.count("AssumeRole") == 1
    clock.advance(minutes=9, seconds=30)  # 30 s left: mandatory window
    second = creds.get_frozen_credentials()
    assert second.access_key != first.access_key
    assert creds.get_frozen_credentials() == second
    assert asks.count() == 2 and terminal.asked == []
    assert fake_sts.count("AssumeRole") == 2


@pytest.mark.parametrize("kind", ["prompter", "mfa_process"])
def test_a_background_thread_refresh_asks_no_source(
    home, fake_sts, clock, terminal, tmp_path, kind
):
    asks = Asks(kind, tmp_path / "runs")
    write_aws_files(home, asks.profile())
    creds = awsroles.resolve(
        "mfa", env=make_env(home, fake_sts.url), clock=clock, prompter=asks.prompter
    )
    first = creds.get_frozen_credentials()
    clock.advance(minutes=50)
    assert creds.get_frozen_credentials() == first  # starts the background refresh
    assert background.wait_idle(10)
    assert creds.get_frozen_credentials() == first
    assert background.wait_idle(10)
    assert asks.count() == 1 and terminal.asked == []
    assert fake_sts.count("AssumeRole") == 1
    clock.advance(minutes=9, seconds=30)
    assert creds.get_frozen_credentials().access_key != first.access_key
    assert asks.count() == 2


def test_an_advisory_refresh_of_an_outer_hop_never_asks_for_the_inner_hops_code(
    home, fake_sts, clock, terminal
):
    # The inner hop needs MFA; the outer does not, and lives 15 minutes. When the outer is
    # in its advisory window while the inner is in its mandatory one, the outer's advisory
    # refresh would need a mandatory refresh of the inner, which must not ask either.
    write_aws_files(
        home,
        mfa_profile("inner", "Mfa")
        + f"[profile outer]\nrole_arn = {role('Out')}\nsource_profile = inner\n"
        "duration_seconds = 900\n",
    )
    prompter = Prompter(CODE)
    creds = awsroles.resolve(
        "outer",
        env=make_env(home, fake_sts.url),
        clock=clock,
        prompter=prompter,
        background_refresh=False,
    )
    creds.get_frozen_credentials()  # t0: inner (1 h) and outer (15 min)
    assert len(prompter.asked) == 1
    clock.advance(minutes=48)  # the outer has expired; the inner has 12 min left
    held = creds.get_frozen_credentials()  # outer assumed again, from the held inner set
    assert len(prompter.asked) == 1
    assert fake_sts.count("AssumeRole") == 3  # inner, outer, outer
    clock.advance(minutes=11, seconds=10)  # inner: 50 s left; outer: 3 min 50 s left
    assert creds.get_frozen_credentials() == held
    assert len(prompter.asked) == 1 and terminal.asked == []
    assert fake_sts.count("AssumeRole") == 3
    clock.advance(minutes=3)  # outer: 50 s left, mandatory; the inner has expired
    assert creds.get_frozen_credentials().access_key != held.access_key
    assert len(prompter.asked) == 2
    assert fake_sts.count("AssumeRole") == 5


# --- 6. explain ----------------------------------------------------------------------------


def test_explain_names_mfa_process_as_the_code_source_and_hides_the_command(
    clean_env, monkeypatch, capsys
):
    from awsroles.cli.main import main

    marker = "mfa-helper-argument-never-shown"
    write_aws_files(clean_env, mfa_profile(mfa_process=py_command(f"print('{CODE}')", marker)))
    assert main(["explain", "-p", "mfa"]) == 0
    out = capsys.readouterr().out
    assert f"  mfa: code for {SERIAL} from mfa_process (a command, run without a shell)" in out
    assert marker not in out


def test_explain_names_the_terminal_as_the_code_source(clean_env, capsys):
    from awsroles.cli.main import main

    write_aws_files(clean_env, mfa_profile())
    assert main(["explain", "-p", "mfa"]) == 0
    out = capsys.readouterr().out
    assert f"  mfa: code for {SERIAL} from the terminal (/dev/tty, else one line from stdin)" in out


def test_explain_through_the_command_lists_every_mfa_hop(clean_env, capsys):
    from awsroles.cli.main import main

    write_aws_files(clean_env, _two_hop_config(SERIAL, OTHER_SERIAL, py_command("print(1)")))
    assert main(["explain", "-p", "outer"]) == 0
    out = capsys.readouterr().out
    mfa = out[out.index("MFA:") :].splitlines()
    assert mfa[1:3] == [
        f"  inner: code for {SERIAL} from the terminal (/dev/tty, else one line from stdin)",
        f"  outer: code for {OTHER_SERIAL} from mfa_process (a command, run without a shell)",
    ]


def test_explain_names_a_prompter_given_in_code(clean_env):
    # awsroles.explain() takes no prompter: the report is rendered for a context that has one
    write_aws_files(clean_env, mfa_profile(mfa_process=py_command("print(1)")))
    ctx = Context(Settings(profile="mfa"), Services(env=dict(os.environ), prompter=Prompter()))
    text, error = render_report(ctx)
    assert error is None
    # the prompter first; should it return None, mfa_process answers
    assert (
        f"  mfa: code for {SERIAL} from the prompter given in code (or --mfa-token), "
        "else mfa_process (a command, run without a shell)"
    ) in text
    assert "the terminal" not in text


# --- 7. secret hygiene ----------------------------------------------------------------------

SECRET_CODE = "480917"  # a code found nowhere else in a run


def test_a_prompted_code_is_in_no_log_record_exception_or_repr(home, fake_sts, clock, caplog):
    fake_sts.add_role(role("Secret"), mfa_serial=OTHER_SERIAL, mfa_code=SECRET_CODE)
    write_aws_files(home, mfa_profile("secret", "Secret", serial=OTHER_SERIAL))
    with caplog.at_level(logging.DEBUG, logger="awsroles"):
        creds = awsroles.resolve(
            "secret",
            env=make_env(home, fake_sts.url),
            clock=clock,
            prompter=Prompter(SECRET_CODE),
        )
        frozen = creds.get_frozen_credentials()
        # a wrong code: the refusal names the role, never the code
        with pytest.raises(AccessDeniedError) as err:
            resolve(home, fake_sts, clock, "secret", cache=None, prompter=Prompter("135790"))
    assert "135790" not in f"{err.value} {err.value!r} {vars(err.value)}"
    texts = log_texts(caplog.records)
    assert caplog.records and SECRET_CODE not in texts and "135790" not in texts
    assert SECRET_CODE not in f"{creds!r} {frozen!r} {frozen}"
    calls = assume_calls(fake_sts)
    assert [c.params["TokenCode"] for c in calls] == ["****", "****"]
    assert SECRET_CODE not in repr(fake_sts.calls) and "135790" not in repr(fake_sts.calls)


def test_the_one_shot_prompter_of_mfa_token_hides_its_code():
    ctx = make_context("mfa", env={}, mfa_token=SECRET_CODE)
    one = ctx.services.prompter
    assert isinstance(one, OneCode)
    assert repr(one) == "OneCode(****)" and str(one) == "OneCode(****)"
    assert SECRET_CODE not in f"{ctx!r} {ctx.services!r} {ctx.settings!r}"
    assert one(SERIAL) == SECRET_CODE  # the first ask
    assert one(SERIAL) is None and one(OTHER_SERIAL) is None  # then the next source
    assert make_context("mfa", env={}).services.prompter is None


def test_an_mfa_process_code_is_in_no_log_record_or_repr(home, fake_sts, clock, caplog):
    fake_sts.add_role(role("Secret"), mfa_serial=OTHER_SERIAL, mfa_code=SECRET_CODE)
    write_aws_files(
        home,
        mfa_profile(
            "secret",
            "Secret",
            serial=OTHER_SERIAL,
            mfa_process=py_command(f"print('{SECRET_CODE}')"),
        ),
    )
    with caplog.at_level(logging.DEBUG, logger="awsroles"):
        creds = awsroles.resolve("secret", env=make_env(home, fake_sts.url), clock=clock)
        creds.get_frozen_credentials()
        explained = awsroles.explain("secret", env=make_env(home, fake_sts.url), clock=clock)
    assert SECRET_CODE not in log_texts(caplog.records)
    assert SECRET_CODE not in f"{creds!r} {explained}"
    (call,) = assume_calls(fake_sts)
    assert call.status == 200 and call.params["TokenCode"] == "****"
