"""Checks of role values, shared by profile keys and options passed in code.

Each raises InvalidConfigError naming the profile and key (and, through ``where``, the file
and line); none puts a secret in its message.
"""

from __future__ import annotations

from ..errors import InvalidConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Optional


def _word(value: Any, punctuation: str, longest: int) -> bool:
    """``re.fullmatch(r"[\\w<punctuation>]{2,<longest>}", value)`` without a regex (a compile
    costs every start): ``\\w`` is exactly ``str.isalnum()`` or ``_``."""
    return (
        isinstance(value, str)
        and 2 <= len(value) <= longest
        and all(c.isalnum() or c in punctuation for c in value)
    )


def duration(raw: Any, profile: Optional[str], where: Dict[str, Any]) -> Optional[int]:
    if raw is None:
        return None
    try:
        value = int(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        value = None
    if isinstance(raw, bool) or value is None or not 900 <= value <= 43200:
        raise InvalidConfigError(
            f"duration_seconds must be a whole number of seconds from 900 to 43200, got {raw!r}.",
            profile=profile,
            key="duration_seconds",
            hint="Write for example: duration_seconds = 3600",
            **where,
        )
    return value


def role_arn(value: Any, profile: Optional[str], where: Dict[str, Any]) -> str:
    text = value.strip() if isinstance(value, str) else ""
    if not text.startswith("arn:") or len(text) < 20:
        raise InvalidConfigError(
            f"role_arn {value!r} is not a role ARN.",
            profile=profile,
            key="role_arn",
            hint="Write for example: role_arn = arn:aws:iam::123456789012:role/Admin",
            **where,
        )
    return text


def session_name(
    value: Optional[str], profile: Optional[str], where: Dict[str, Any]
) -> Optional[str]:
    if value is not None and not _word(value, "_+=,.@-", 64):
        raise InvalidConfigError(
            f"role_session_name {value!r} must be 2 to 64 characters of letters, digits "
            "and +=,.@_-.",
            profile=profile,
            key="role_session_name",
            **where,
        )
    return value


def external_id(
    value: Optional[str], profile: Optional[str], where: Dict[str, Any]
) -> Optional[str]:
    if value is not None and not _word(value, "_+=,.@:/-", 1224):
        raise InvalidConfigError(
            "external_id must be 2 to 1224 characters of letters, digits and +=,.@:/_-.",
            profile=profile,
            key="external_id",
            **where,
        )
    return value


def mfa_serial(
    value: Optional[str], profile: Optional[str], where: Dict[str, Any]
) -> Optional[str]:
    if value is not None and not (
        len(value.strip()) >= 9 and _word(value.strip(), "_+=/:,.@-", 256)
    ):
        raise InvalidConfigError(
            f"mfa_serial {value!r} is not an MFA device serial or ARN (9 to 256 letters, "
            "digits and +=/:,.@_-).",
            profile=profile,
            key="mfa_serial",
            hint="Use the device ARN, e.g. arn:aws:iam::123456789012:mfa/alice",
            **where,
        )
    return value


def source_identity(value: Optional[str], profile: Optional[str]) -> Optional[str]:
    if value is not None and not _word(value, "_+=,.@-", 64):
        raise InvalidConfigError(
            "source_identity must be 2 to 64 characters of letters, digits and +=,.@_-.",
            profile=profile,
            key="source_identity",
        )
    return value


#: The key that turns on MFA sessions (awsroles' own), and the lengths GetSessionToken takes.
MFA_SESSION_KEY = "awsroles_mfa_session_seconds"
MFA_SESSION_RANGE = (900, 129600)


def mfa_session_seconds(raw: Any, profile: Optional[str], where: Dict[str, Any]) -> Optional[int]:
    if raw is None:
        return None
    low, high = MFA_SESSION_RANGE
    try:
        value = int(raw.strip() if isinstance(raw, str) else raw)
    except (TypeError, ValueError):
        value = None
    if isinstance(raw, bool) or value is None or not low <= value <= high:
        raise InvalidConfigError(
            f"{MFA_SESSION_KEY} must be a whole number of seconds from {low} to {high}, "
            f"got {raw!r}.",
            profile=profile,
            key=MFA_SESSION_KEY,
            hint=f"Write for example: {MFA_SESSION_KEY} = 43200 (12 hours)",
            **where,
        )
    return value


def command(
    value: Optional[str], key: str, profile: Optional[str], where: Dict[str, Any]
) -> Optional[str]:
    """A command line (``mfa_process``): None when absent, an error when blank."""
    if value is not None and not value.strip():
        raise InvalidConfigError(
            f"{key} is empty.",
            profile=profile,
            key=key,
            hint="Write the command, or remove the key.",
            **where,
        )
    return value
