"""Credentials printed for a shell or a tool: ``awsroles export`` and
``awsroles credential-process``.

The formats and their names are the AWS CLI v2's ``aws configure export-credentials``: the
same variables in the same order (``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, then ``AWS_SESSION_TOKEN`` and ``AWS_CREDENTIAL_EXPIRATION`` when
present), the same line shapes, and for ``process`` the same two-space-indented Version 1
JSON. Values are printed bare, as the AWS CLI prints them, when they consist of the characters
AWS keys, tokens and timestamps are made of; anything else (a helper behind credential_process
can print whatever it likes) is quoted for the target shell, or refused where it cannot be,
so ``eval "$(awsroles export)"`` can never run a stray command. ``Expiration`` and
``AWS_CREDENTIAL_EXPIRATION`` are ISO 8601 UTC with a ``Z``
(``2030-01-01T01:00:00Z``), the form STS itself uses.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import sys

from ..credentials import Credentials
from ..errors import AwsRolesError
from ..timestamps import format_timestamp

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Dict, List, Optional, TextIO, Tuple

__all__ = [
    "FORMATS",
    "DEFAULT_FORMAT",
    "render",
    "render_variables",
    "iso_z",
    "env_pairs",
    "process_document",
]

DEFAULT_FORMAT = "env"

#: Characters that need no quoting in any of the formats: base64 (keys, tokens), ISO 8601.
_PLAIN = re.compile(r"[A-Za-z0-9+/=_.:,@%-]*\Z")


class ExportFormatError(AwsRolesError):
    """A value cannot be written safely in the requested format."""


iso_z = format_timestamp  # ``2030-01-01T01:00:00Z``, as the AWS CLI writes it


def env_pairs(creds: Credentials) -> List[Tuple[str, str]]:
    """The variables, in the AWS CLI's order; token and expiration only when present."""
    pairs = [("AWS_ACCESS_KEY_ID", creds.access_key), ("AWS_SECRET_ACCESS_KEY", creds.secret_key)]
    if creds.token is not None:
        pairs.append(("AWS_SESSION_TOKEN", creds.token))
    if creds.expiry is not None:
        pairs.append(("AWS_CREDENTIAL_EXPIRATION", iso_z(creds.expiry)))
    return pairs


def process_document(creds: Credentials) -> Dict[str, object]:
    """The credential_process Version 1 document (what the AWS CLI's ``process`` prints)."""
    doc: Dict[str, object] = {
        "Version": 1,
        "AccessKeyId": creds.access_key,
        "SecretAccessKey": creds.secret_key,
    }
    if creds.token is not None:
        doc["SessionToken"] = creds.token
    if creds.expiry is not None:
        doc["Expiration"] = iso_z(creds.expiry)
    return doc


# --- quoting, per target --------------------------------------------------------------------


def _refuse(name: str, fmt: str, why: str) -> ExportFormatError:
    # Never show the value: it is a secret.
    return ExportFormatError(
        f"{name} contains {why}, which cannot be written safely in the '{fmt}' format "
        "(value not shown).",
        key=name,
        hint="Use --format json or --format process, or check the command or source that "
        "produced these credentials.",
    )


def _no_newline(name: str, value: str, fmt: str) -> str:
    if "\n" in value or "\r" in value or "\0" in value:
        raise _refuse(name, fmt, "a line break or NUL character")
    return value


def _posix(name: str, value: str, fmt: str) -> str:
    _no_newline(name, value, fmt)
    return value if _PLAIN.match(value) else shlex.quote(value)


def _powershell(name: str, value: str, fmt: str) -> str:
    _no_newline(name, value, fmt)
    # Inside "...", PowerShell expands $ and treats ` as the escape character; it also ends
    # the string at the typographic quotes U+201C/D/E. Escape all of those.
    return re.sub('([`"$\u201c\u201d\u201e])', r"`\1", value)


def _fish(name: str, value: str, fmt: str) -> str:
    _no_newline(name, value, fmt)
    # Inside "...", fish expands $ and honours \\, \" and \$.
    return re.sub(r'([\\"$])', r"\\\1", value)


def _cmd(name: str, value: str, fmt: str) -> str:
    _no_newline(name, value, fmt)
    if not _PLAIN.match(value) or "%" in value:
        raise _refuse(name, fmt, "characters that cmd.exe would interpret")
    return value


def _dotenv(name: str, value: str, fmt: str) -> str:
    _no_newline(name, value, fmt)
    if _PLAIN.match(value):
        return value
    return '"' + re.sub(r'([\\"$`])', r"\\\1", value) + '"'


#: format -> (line template, value quoter, needs "\n" line endings even on Windows)
_LINE_FORMATS: Dict[str, Tuple[str, Callable[[str, str, str], str], bool]] = {
    "env": ("export {name}={value}", _posix, True),
    "env-no-export": ("{name}={value}", _posix, True),
    "powershell": ('$Env:{name}="{value}"', _powershell, False),
    "windows-cmd": ("set {name}={value}", _cmd, False),
    "fish": ('set -gx {name} "{value}"', _fish, True),
    "dotenv": ("{name}={value}", _dotenv, True),
}

#: Every --format name with a one-line description (used in --help).
FORMATS: Dict[str, str] = {
    "env": "export AWS_ACCESS_KEY_ID=... lines for bash/zsh/sh (the default)",
    "env-no-export": "AWS_ACCESS_KEY_ID=... lines, without export",
    "powershell": '$Env:AWS_ACCESS_KEY_ID="..." lines for PowerShell',
    "windows-cmd": "set AWS_ACCESS_KEY_ID=... lines for cmd.exe",
    "fish": 'set -gx AWS_ACCESS_KEY_ID "..." lines for fish',
    "process": "credential_process Version 1 JSON (what credential-process prints)",
    "dotenv": "AWS_ACCESS_KEY_ID=... lines for a .env file",
    "json": "one JSON object: AccessKeyId, SecretAccessKey, SessionToken, Expiration, AccountId",
}


def render(creds: Credentials, fmt: str) -> str:
    """The text ``awsroles export --format fmt`` prints (ending in a newline)."""
    if fmt == "process":
        return json.dumps(process_document(creds), indent=2, separators=(",", ": ")) + "\n"
    if fmt == "json":
        doc = process_document(creds)
        del doc["Version"]
        if creds.account_id:
            doc["AccountId"] = creds.account_id
        return json.dumps(doc, indent=2, separators=(",", ": ")) + "\n"
    if fmt not in _LINE_FORMATS:
        raise ExportFormatError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}.")
    return render_variables(env_pairs(creds), fmt)


def render_variables(pairs: List[Tuple[str, str]], fmt: str) -> str:
    """``NAME=value`` lines in one of the shell and file formats, each value quoted for it."""
    try:
        template, quote, _ = _LINE_FORMATS[fmt]
    except KeyError:
        raise ExportFormatError(
            f"format {fmt!r} holds variables only in: {', '.join(_LINE_FORMATS)}."
        ) from None
    return "".join(
        template.format(name=name, value=quote(name, value, fmt)) + "\n" for name, value in pairs
    )


def write(text: str, fmt: str, stream: Optional[TextIO] = None) -> None:
    """Write ``text`` to stdout; POSIX shell formats keep "\\n" line endings on Windows, as the
    AWS CLI does (Git Bash would otherwise keep a "\\r" in every value)."""
    stream = sys.stdout if stream is None else stream
    force_lf = fmt in _LINE_FORMATS and _LINE_FORMATS[fmt][2]
    if force_lf and os.name == "nt" and hasattr(stream, "reconfigure"):  # pragma: no cover
        stream.reconfigure(newline="\n")
    stream.write(text)
    stream.flush()


def run_export(profile: Optional[str], fmt: str, mfa_token: Optional[str] = None) -> int:
    from .resolve import resolve_for_command

    creds, _ = resolve_for_command(profile, mfa_token=mfa_token)
    write(render(creds, fmt), fmt)
    return 0


def run_credential_process(profile: str, mfa_token: Optional[str] = None) -> int:
    return run_export(profile, "process", mfa_token)
