"""``credential_process``: run an external command and read Version 1 JSON from its stdout.

As botocore: the command is split like ``botocore.compat.compat_shell_split``
(``shlex.split`` on POSIX, the C runtime's rules on Windows) and run **without a shell**, stdin
inherited, environment ``ctx.env``. ``Version`` must be the integer 1; ``AccessKeyId`` and
``SecretAccessKey`` are required; ``SessionToken``, ``Expiration`` and ``AccountId`` are
optional (``AccountId`` falls back to the profile's ``aws_account_id``). With an
``Expiration`` the result refreshes itself by running the command again; output that is
already expired is run once more, then an error.

Better than botocore (docs/differences.md):

* stderr goes through to the user's stderr as it is written (so a helper's prompts and
  progress are visible), and its last 2 KB are kept for the error message;
* a timeout (the ``process_timeout`` setting, default :data:`DEFAULT_TIMEOUT`) kills a hung
  helper;
* every failure is a typed :class:`CredentialProcessError` naming the profile; stdout is
  never echoed (it may hold the secret key), and a non-zero exit's stderr tail is scrubbed of
  any secret the helper also printed on stdout;
* a profile whose credential_process ends up running itself (``awsroles credential-process
  --profile P`` as P's own credential_process) fails at once instead of forking forever.
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from datetime import datetime

from .._log import get_logger
from .._untrusted import TooDeep, json_loads
from ..config.model import ProcessSource
from ..context import DEFAULT_PROCESS_TIMEOUT
from ..credentials import Credentials, first_unusable
from ..errors import CredentialRetrievalError, InvalidConfigError
from .process_run import MAX_STDOUT, TAIL_BYTES, Run, execute, split_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Tuple

log = get_logger("awsroles")

__all__ = [
    "METHOD",
    "DEFAULT_TIMEOUT",
    "STACK_ENV",
    "CredentialProcessError",
    "read_stack",
    "split_command",
    "parse_output",
    "run_once",
    "run_process",
    "process_credentials",
    "describe_command",
]

METHOD = "custom-process"
#: Seconds a credential_process may run before it is killed (the ``process_timeout`` setting).
DEFAULT_TIMEOUT = DEFAULT_PROCESS_TIMEOUT
#: Environment variable through which nested credential_process runs see their callers:
#: a JSON list of ``[profile, command digest]`` pairs, outermost first.
STACK_ENV = "AWSROLES_PROCESS_STACK"
MAX_DEPTH = 8
_KEY = "credential_process"


class CredentialProcessError(CredentialRetrievalError):
    """credential_process failed. ``exit_code`` is the command's exit status (None when it did
    not run or was killed); ``timed_out`` says it was killed after the timeout. A timeout or a
    non-zero exit is ``recoverable`` (the helper may work next time: still-valid credentials
    keep being served); bad output, a missing program or a loop are not."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: Optional[int] = None,
        timed_out: bool = False,
        recoverable: bool = False,
        **kw: Any,
    ) -> None:
        self.exit_code = exit_code
        self.timed_out = timed_out
        self.recoverable = recoverable
        kw.setdefault("key", _KEY)
        super().__init__(message, provider=METHOD, **kw)


# --- the recursion guard --------------------------------------------------------------------


def _stack_entry(source: ProcessSource) -> List[str]:
    digest = hashlib.sha256(source.command.encode("utf-8", "surrogatepass")).hexdigest()[:16]
    return [source.profile, digest]


def read_stack(env: Any) -> List[List[str]]:
    raw = env.get(STACK_ENV)
    if not raw:
        return []
    try:
        stack = json_loads(raw)
    except ValueError:
        return []
    if not isinstance(stack, list):
        return []
    return [e for e in stack if isinstance(e, list) and len(e) == 2]


def _check_recursion(source: ProcessSource, stack: List[List[str]]) -> None:
    entry = _stack_entry(source)
    if entry in stack or len(stack) >= MAX_DEPTH:
        chain = " -> ".join(f"'{p}'" for p, _ in stack + [entry])
        if entry in stack:
            why = "is already running further up: it calls itself"
        else:
            why = f"is nested {len(stack)} levels deep"
        raise CredentialProcessError(
            f"credential_process of profile '{source.profile}' {why} "
            f"(credential_process chain: {chain}).",
            profile=source.profile,
            hint="A profile's credential_process must not resolve that same profile (for "
            "example `awsroles credential-process --profile "
            f"{source.profile}`); point it at the profile that holds the real credentials.",
        )


# --- running --------------------------------------------------------------------------------


def _scrubbed_tail(run: Run) -> str:
    """The stderr tail as text, with any secret the command also printed on stdout removed."""
    text = bytes(run.tail).decode("utf-8", "replace").strip()
    try:
        doc = json_loads(bytes(run.stdout).decode("utf-8-sig"))
    except ValueError:
        doc = None
    if isinstance(doc, dict):
        for name in ("SecretAccessKey", "SessionToken"):
            secret = doc.get(name)
            if isinstance(secret, str) and len(secret) >= 4:
                text = text.replace(secret, "****")
    if len(run.tail) >= TAIL_BYTES:
        text = "..." + text
    return text


def _start(
    argv: List[str],
    env: Dict[str, str],
    limit: Optional[float],
    sink: Any,
    source: ProcessSource,
) -> Run:
    program = argv[0]
    try:
        return execute(argv, env, limit, sink)
    except FileNotFoundError:
        raise CredentialProcessError(
            f"the program {program!r} was not found.",
            profile=source.profile,
            hint="Give its full path or make sure it is on PATH. The command runs without a "
            "shell, so pipes, redirections, $VARIABLES and ~ do not work; for those write "
            "credential_process = sh -c '...'.",
        ) from None
    except PermissionError:
        raise CredentialProcessError(
            f"the program {program!r} is not executable (permission denied).",
            profile=source.profile,
            hint="Run chmod +x on it, or start it through its interpreter "
            f"(e.g. credential_process = python3 {program}).",
        ) from None
    except OSError as exc:
        raise CredentialProcessError(
            f"the program {program!r} could not be started ({exc.strerror or exc}).",
            profile=source.profile,
            hint="A script needs a #! line, or start it through its interpreter.",
        ) from None


def run_once(source: ProcessSource, ctx: Any, *, timeout: Optional[float] = None) -> Credentials:
    """Run ``source.command`` once and return the credentials it printed (with ``expiry`` when
    it gave one, even an expired one). Raises :class:`CredentialProcessError` or, for a
    command that cannot be split, :class:`InvalidConfigError`."""
    try:
        argv = split_command(source.command)
    except ValueError as exc:
        raise InvalidConfigError(
            f"credential_process cannot be split into arguments ({exc}).",
            profile=source.profile,
            key=_KEY,
            hint="Check the quotes in the command.",
        ) from None
    if not argv:
        raise InvalidConfigError(
            "credential_process is empty.",
            profile=source.profile,
            key=_KEY,
            hint="Write the command that prints the credentials, or remove the key.",
        )
    env = ctx.env
    stack = read_stack(env)
    _check_recursion(source, stack)
    child_env = {k: v for k, v in env.items() if isinstance(k, str) and isinstance(v, str)}
    child_env[STACK_ENV] = json.dumps(stack + [_stack_entry(source)])
    limit = ctx.settings.process_time_limit if timeout is None else timeout
    sink = ctx.services.process_stderr or sys.stderr

    log.debug("profile '%s': running credential_process (%s)", source.profile, argv[0])
    started = time.monotonic()
    run = _start(argv, child_env, limit, sink, source)
    elapsed = (time.monotonic() - started) * 1000
    if run.timed_out:
        raise CredentialProcessError(
            f"the command {argv[0]!r} did not finish within {limit:g} s and was killed."
            + _tail_suffix(run),
            timed_out=True,
            recoverable=True,
            profile=source.profile,
            hint="Check that it does not wait for input; raise the limit with "
            "process_timeout=... if it legitimately takes longer.",
            cli_hint="Check that it does not wait for input, and that it finishes within "
            f"{limit:g} s.",
        )
    if run.returncode != 0:
        raise CredentialProcessError(
            f"the command {argv[0]!r} exited with code {run.returncode}." + _tail_suffix(run),
            exit_code=run.returncode,
            recoverable=True,
            profile=source.profile,
        )
    log.info("profile '%s': credential_process ran in %.0f ms", source.profile, elapsed)
    if run.stdout_too_large:
        raise CredentialProcessError(
            f"the command {argv[0]!r} printed more than {MAX_STDOUT} bytes on stdout; "
            "that is not a credential document (output not shown).",
            profile=source.profile,
        )
    return parse_output(bytes(run.stdout), source)


def _tail_suffix(run: Run) -> str:
    tail = _scrubbed_tail(run)
    return f" Its stderr ended with: {tail}" if tail else " It wrote nothing on stderr."


# --- parsing --------------------------------------------------------------------------------


def _bad(message: str, source: ProcessSource) -> CredentialProcessError:
    return CredentialProcessError(
        message,
        profile=source.profile,
        hint="The command must print credential_process Version 1 JSON on stdout: "
        '{"Version": 1, "AccessKeyId": ..., "SecretAccessKey": ..., "SessionToken": ..., '
        '"Expiration": "<ISO 8601>"}.',
    )


def _parse_expiration(value: str, source: ProcessSource) -> datetime:
    from ..timestamps import parse_timestamp

    try:
        return parse_timestamp(value)  # a naive time is read as UTC (botocore would crash)
    except ValueError:
        raise _bad(
            "Expiration in the command's output is not an ISO 8601 date and time.", source
        ) from None


def parse_output(stdout: bytes, source: ProcessSource) -> Credentials:
    """Credentials from a command's stdout (Version 1 JSON). Never echoes the output."""
    try:
        text = stdout.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise _bad("the command's output is not UTF-8 text (output not shown).", source) from None
    try:
        doc = json_loads(text)
    except TooDeep:
        raise _bad(
            "the command's output nests arrays or objects too deeply to be a credential "
            f"document ({len(stdout)} bytes, not shown because they may hold secrets).",
            source,
        ) from None
    except ValueError as exc:
        where = getattr(exc, "msg", "invalid")
        raise _bad(
            f"the command's output is not valid JSON ({where}, line "
            f"{getattr(exc, 'lineno', '?')} column {getattr(exc, 'colno', '?')}; "
            f"{len(stdout)} bytes, not shown because they may hold secrets).",
            source,
        ) from None
    if not isinstance(doc, dict):
        raise _bad(
            f"the command's output is JSON but not an object ({type(doc).__name__}).", source
        )
    if "Version" not in doc:
        raise _bad("the command's output has no Version; the supported version is 1.", source)
    version = doc["Version"]
    if type(version) is not int or version != 1:  # botocore also takes true and 1.0
        shown = repr(version)[:40] if isinstance(version, (int, float, str)) else "an object"
        if isinstance(version, bool) or version is None:
            shown = json.dumps(version)
        raise _bad(
            f"unsupported Version {shown} in the command's output; the supported version "
            "is the number 1.",
            source,
        )

    def optional(name: str) -> Optional[str]:
        value = doc.get(name)
        if value is not None and not isinstance(value, str):
            raise _bad(f"{name} in the command's output must be a non-empty string.", source)
        return value

    def required(name: str) -> str:
        value = optional(name)
        if value is None:
            raise _bad(f"the command's output is missing the required key {name!r}.", source)
        if not value:
            raise _bad(f"{name} in the command's output must be a non-empty string.", source)
        return value

    access_key = required("AccessKeyId")
    secret_key = required("SecretAccessKey")
    token = optional("SessionToken") or None
    problem = first_unusable(
        {"AccessKeyId": access_key, "SecretAccessKey": secret_key, "SessionToken": token}
    )
    if problem is not None:
        raise _bad(f"in the command's output, {problem} (output not shown).", source)
    raw_expiry = optional("Expiration")
    account_id = optional("AccountId") or source.account_id
    expiry = _parse_expiration(raw_expiry, source) if raw_expiry else None
    return Credentials(
        access_key=access_key,
        secret_key=secret_key,
        token=token,
        expiry=expiry,
        account_id=account_id,
        method=METHOD,
    )


# --- the provider-facing entry point --------------------------------------------------------


def _expired(creds: Credentials, ctx: Any) -> bool:
    return creds.expiry is not None and creds.expiry <= ctx.clock.now()


def run_process(source: ProcessSource, ctx: Any) -> Any:
    """Run the command now. Without ``Expiration``: :class:`Credentials`. With one: a
    :class:`RefreshableCredentials` (method ``custom-process``) that runs the command again
    before they expire. Output that is already expired is run once more, then an error."""
    creds = run_once(source, ctx)
    if creds.expiry is None:
        return creds
    if _expired(creds, ctx):
        log.info(
            "profile '%s': credential_process returned expired credentials; running it again",
            source.profile,
        )
        creds = run_once(source, ctx)
        if creds.expiry is not None and _expired(creds, ctx):
            when = creds.expiry.isoformat()
            raise CredentialProcessError(
                f"the command returned credentials that had already expired (at {when}), "
                "twice in a row.",
                profile=source.profile,
                hint="Check the helper's own cache and the machine's clock.",
            )

    def fetch(mode: str, current: Optional[Credentials]) -> Credentials:
        return run_once(source, ctx)

    return ctx.refreshable(
        fetch,
        method=METHOD,
        initial=creds,
        label=f"credential_process of profile '{source.profile}'",
    )


#: The name the provider chain uses (``Lazy(lambda: process_credentials(base, ctx))``).
process_credentials = run_process


def describe_command(source: ProcessSource, env: Optional[Any] = None) -> Tuple[bool, str]:
    """An offline check for ``explain``: does the command split, and is its program found
    (on ``env``'s PATH)? Never runs it."""
    import os
    import shutil

    try:
        argv = split_command(source.command)
    except ValueError as exc:
        return False, f"credential_process cannot be split ({exc})"
    if not argv:
        return False, "credential_process is empty"
    program = argv[0]
    if os.path.dirname(program):
        found = os.path.isfile(program) and os.access(program, os.X_OK)
    else:
        path = None if env is None else env.get("PATH", os.defpath)
        found = shutil.which(program, path=path) is not None
    if not found:
        return False, f"credential_process program {program!r} not found or not executable"
    return True, f"credential_process runs {program!r}"
