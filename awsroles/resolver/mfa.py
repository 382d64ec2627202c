"""MFA codes: the default terminal prompt and the no-prompt guard for background refreshes."""

from __future__ import annotations

import contextvars
import sys

from ..errors import MFADeferred, MFAError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import Optional

    from ..protocols import Prompter

__all__ = ["terminal_prompter", "get_token_code", "no_prompt"]

_NO_PROMPT: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "awsroles_no_prompt", default=False
)


def terminal_prompter(serial: str) -> str:
    """Ask on the terminal without echo: ``Enter MFA code for <serial>: `` (botocore's text)."""
    import getpass

    if not _has_terminal():
        raise MFAError(
            f"an MFA code for {serial} is needed but there is no terminal to ask on.",
            hint="Pass prompter=<callable> to awsroles, or run once in a terminal so the "
            "credentials are cached.",
        )
    return getpass.getpass(f"Enter MFA code for {serial}: ")


def _has_terminal() -> bool:
    try:
        if sys.stdin is not None and sys.stdin.isatty():
            return True
        with open("/dev/tty"):
            return True
    except OSError:
        return False


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


def get_token_code(serial: str, prompter: Optional[Prompter], profile: str) -> str:
    if _NO_PROMPT.get():
        raise MFADeferred(
            f"profile '{profile}' needs a new MFA code; it is asked for at the next "
            "mandatory refresh, not in the background.",
            profile=profile,
        )
    ask = prompter if prompter is not None else terminal_prompter
    try:
        code = ask(serial)
    except (EOFError, KeyboardInterrupt):
        raise MFAError(f"no MFA code was entered for {serial}.", profile=profile) from None
    code = (code or "").strip()
    if not (code.isdigit() and len(code) == 6):
        raise MFAError(
            f"the MFA code for {serial} must be 6 digits.",
            profile=profile,
            key="mfa_serial",
            hint="Enter the current code shown by the device.",
        )
    return code
