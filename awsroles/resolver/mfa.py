"""MFA codes: where they come from, and the guard that keeps background refreshes from asking.

The sources, the first that gives a code wins:

1. ``prompter=`` in code, or ``--mfa-token CODE`` on the command line. A prompter may return
   None: it has no code for this device, and the next source is asked.
2. ``mfa_process`` in the profile: a command run without a shell (split as
   ``credential_process`` is), whose first line of stdout is the code. Its output is never
   logged; its stderr reaches the user (a hardware key's "touch your key").
3. The terminal, as botocore asks: ``getpass`` on ``/dev/tty`` when there is one, otherwise
   one line from stdin (with getpass's warning on stderr), so ``echo CODE | awsroles ...``
   works in cron and CI as it does with the AWS CLI.

Every source counts as interactive: inside :class:`no_prompt` (an advisory refresh, in the
background) none is asked, and :class:`~awsroles.errors.MFADeferred` is raised instead.
"""

from __future__ import annotations

import contextvars

from ..errors import InvalidConfigError, MFADeferred, MFAError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Any, Optional

    from ..protocols import Prompter

__all__ = ["terminal_prompter", "get_token_code", "no_prompt", "MFA_PROCESS"]

#: The profile key naming a command that prints the code (aws-vault's name).
MFA_PROCESS = "mfa_process"

_NO_PROMPT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "awsroles_no_prompt", default=False
)


def terminal_prompter(serial: str) -> str:
    """Ask as botocore does: ``getpass`` with ``Enter MFA code for <serial>: ``, on
    ``/dev/tty`` when there is one, else reading one line from stdin. MFAError when there is
    nothing to read from (EOF, no stdin)."""
    import getpass
    import sys

    from ..errors import printable

    try:
        return getpass.getpass(f"Enter MFA code for {printable(serial)}: ")
    except (EOFError, KeyboardInterrupt) as exc:
        _end_prompt_line(sys.stderr)  # getpass ends the prompt's line only after a line is read
        if isinstance(exc, KeyboardInterrupt):
            raise
        raise MFAError(f"no MFA code was entered for {serial} (end of input).") from None
    except (OSError, AttributeError, ValueError):  # no stdin at all, or a closed one
        _end_prompt_line(sys.stderr)
        raise MFAError(
            f"an MFA code for {serial} is needed but there is no terminal to ask on and no "
            "input to read it from.",
            hint="Pass prompter=<callable> to awsroles, set mfa_process in the profile, or "
            "pipe the code in (echo CODE | ...).",
            cli_hint="Pass --mfa-token CODE, set mfa_process in the profile, or pipe the "
            "code in (echo CODE | awsroles ...).",
        ) from None


def _end_prompt_line(stream: Any) -> None:
    try:
        stream.write("\n")
        stream.flush()
    except (OSError, ValueError, AttributeError):
        pass


class no_prompt:
    """Context manager: MFA prompts inside raise MFADeferred instead of asking."""

    def __enter__(self) -> no_prompt:
        self._token = _NO_PROMPT.set(True)
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        _NO_PROMPT.reset(self._token)


def may_ask() -> bool:
    """False inside :class:`no_prompt`: a background refresh, which never asks for a code."""
    return not _NO_PROMPT.get()


def get_token_code(
    serial: str,
    profile: str,
    *,
    prompter: Optional[Prompter] = None,
    mfa_process: Optional[str] = None,
    ctx: Any = None,
) -> str:
    """The current code for the device ``serial``, from the first source that gives one
    (see the module's docstring). MFADeferred in a background refresh; MFAError when a source
    fails or gives something that is not 6 digits."""
    if not may_ask():
        raise MFADeferred(
            f"a new MFA code for {serial} is needed; it is asked for at the next mandatory "
            "refresh, not in the background.",
            profile=profile,
        )
    code: Optional[str] = None
    key = "mfa_serial"
    if prompter is not None:
        try:
            code = prompter(serial)
        except (EOFError, KeyboardInterrupt):
            raise MFAError(f"no MFA code was entered for {serial}.", profile=profile) from None
    if code is None and mfa_process is not None:
        code, key = _run_mfa_process(mfa_process, serial, profile, ctx), MFA_PROCESS
    if code is None:
        try:
            code = terminal_prompter(serial)
        except MFAError as exc:
            raise MFAError(
                exc.message, profile=profile, key=key, hint=exc.hint, cli_hint=exc.cli_hint
            ) from None
        except KeyboardInterrupt:
            raise MFAError(f"no MFA code was entered for {serial}.", profile=profile) from None
    code = code.strip()
    if not code:
        raise MFAError(f"no MFA code was entered for {serial}.", profile=profile, key=key)
    if not (len(code) == 6 and all("0" <= c <= "9" for c in code)):  # STS takes [0-9]{6}
        raise MFAError(
            f"the MFA code for {serial} must be 6 digits.",
            profile=profile,
            key=key,
            hint="Enter the current code shown by the device.",
        )
    return code


def _run_mfa_process(command: str, serial: str, profile: str, ctx: Any) -> str:
    """The first line of ``command``'s stdout (never logged). MFAError naming the profile and
    key when it cannot be run, fails, times out or prints nothing."""
    import sys

    from .._log import get_logger
    from ..providers.process_run import execute, split_command

    def failed(why: str, hint: Optional[str] = None) -> MFAError:
        return MFAError(
            f"mfa_process for {serial} {why}", profile=profile, key=MFA_PROCESS, hint=hint
        )

    try:
        argv = split_command(command)
    except ValueError as exc:
        raise InvalidConfigError(
            f"mfa_process cannot be split into arguments ({exc}).",
            profile=profile,
            key=MFA_PROCESS,
            hint="Check the quotes in the command.",
        ) from None
    if not argv:
        raise InvalidConfigError("mfa_process is empty.", profile=profile, key=MFA_PROCESS)
    env = dict(ctx.env) if ctx is not None else None
    limit = ctx.settings.process_time_limit if ctx is not None else None
    sink = (ctx.services.process_stderr if ctx is not None else None) or sys.stderr
    get_logger("awsroles").debug("profile '%s': running mfa_process (%s)", profile, argv[0])
    try:
        run = execute(argv, env or {}, limit, sink)
    except OSError as exc:
        raise failed(
            f"could not be started: {argv[0]!r} ({exc.strerror or type(exc).__name__}).",
            hint="Give the program's full path; the command runs without a shell.",
        ) from None
    if run.timed_out:
        raise failed(f"did not finish within {limit:g} s and was killed.")
    if run.returncode != 0:
        raise failed(f"exited with code {run.returncode}.")
    first = bytes(run.stdout).decode("utf-8", "replace").strip().split("\n", 1)[0].strip()
    if not first:
        raise failed("printed nothing on stdout.", hint="It must print the code on its first line.")
    return first
