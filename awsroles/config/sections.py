"""Reading one profile: its merged values, each file's section in botocore's order, where a key
was written (for errors), and its static keys.

A profile is either a plain mapping (tests, ``explain`` on hand-made profiles) or the parser's
``Profile`` with per-file sections and ``origin(key)``."""

from __future__ import annotations

from collections.abc import Mapping

from ..credentials import first_unusable
from ..errors import InvalidConfigError, PartialCredentialsError
from .model import StaticKeys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional

__all__ = ["values_of", "key_sections", "where", "static_keys", "has_static_keys"]


def values_of(profile: Any) -> Mapping[str, str]:
    """A profile's merged values: a plain mapping, or what ``Profile.values`` holds."""
    values: Mapping[str, str] = (
        profile.values
        if hasattr(profile, "values") and not isinstance(profile, Mapping)
        else profile
    )
    return values


def key_sections(profile: Any) -> List[Any]:
    """(file, values, method) for each file's section, in the order botocore's providers
    read static keys: the credentials file (``shared-credentials-file``), then the config
    file (``config-file``). A plain mapping is one credentials-file section."""
    if isinstance(profile, Mapping):
        return [(None, profile, "shared-credentials-file")]
    out = []
    for attr, method in (
        ("credentials_section", "shared-credentials-file"),
        ("config_section", "config-file"),
    ):
        sec = getattr(profile, attr, None)
        if sec is not None:
            path = getattr(profile, attr.replace("_section", "_path"), None)
            out.append((path, sec.values, method))
    return out or [(None, values_of(profile), "shared-credentials-file")]


def where(profile: Any, key: Optional[str]) -> Dict[str, Any]:
    """file/line keyword arguments for an error about ``key`` of ``profile``."""
    origin = getattr(profile, "origin", None)
    if key and callable(origin):
        try:
            found = origin(key)
        except Exception:
            found = None
        if found:
            return {"file": found[0], "line": found[1]}
    return {}


def static_keys(name: str, profile: Any) -> Optional[StaticKeys]:
    """The profile's static keys, read per file as botocore reads them, or None."""
    for path, vals, method in key_sections(profile):
        if "aws_access_key_id" not in vals:
            continue
        access = vals.get("aws_access_key_id") or ""
        secret = vals.get("aws_secret_access_key")
        if not secret:
            raise PartialCredentialsError(
                "aws_access_key_id is set but aws_secret_access_key is missing.",
                file=path,
                profile=name,
                key="aws_secret_access_key",
                hint="Add the secret key next to the access key, or remove both.",
            )
        token_key = "aws_security_token" if vals.get("aws_security_token") else "aws_session_token"
        token = vals.get(token_key) or None
        problem = first_unusable(
            {"aws_access_key_id": access, "aws_secret_access_key": secret, token_key: token}
        )
        if problem is not None:
            key, _, why = problem.partition(" contains ")
            raise InvalidConfigError(
                f"the value contains {why} (not shown).",
                file=path,
                profile=name,
                key=key,
                hint="Write the key as AWS issued it: letters, digits, + / and =.",
            )
        return StaticKeys(
            profile=name,
            access_key=access,
            secret_key=secret,
            token=token,
            account_id=vals.get("aws_account_id") or None,
            file=path,
            method=method,
        )
    for path, vals, _method in key_sections(profile):
        if vals.get("aws_secret_access_key") and "aws_access_key_id" not in vals:
            raise PartialCredentialsError(
                "aws_secret_access_key is set but aws_access_key_id is missing.",
                file=path,
                profile=name,
                key="aws_access_key_id",
                hint="Add the access key next to the secret key, or remove both.",
            )
    return None


def has_static_keys(profile: Any) -> bool:
    return any(
        "aws_access_key_id" in vals or "aws_secret_access_key" in vals
        for _, vals, _method in key_sections(profile)
    )
