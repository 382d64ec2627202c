"""The AWS CLI v2's SSO token cache, written for tests: ``~/.aws/sso/cache/<sha1>.json``
exactly as ``aws sso login`` writes it (same keys, same bytes, mode 0600)."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional, Union

__all__ = ["write_token_cache", "token_cache_path", "When"]

_TIME = "%Y-%m-%dT%H:%M:%SZ"
When = Union[datetime, str]


def _fmt(when: When) -> str:
    if isinstance(when, str):
        return when
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime(_TIME)


def token_cache_path(home: Union[str, os.PathLike[str]], session_name_or_start_url: str) -> str:
    digest = hashlib.sha1(session_name_or_start_url.encode("utf-8")).hexdigest()
    return os.path.join(os.fspath(home), ".aws", "sso", "cache", digest + ".json")


def write_token_cache(
    home: Union[str, os.PathLike[str]],
    session_name_or_start_url: str,
    token: str,
    expires_at: When,
    *,
    start_url: Optional[str] = None,
    region: str = "us-east-1",
    refresh_token: Optional[str] = None,
    client_id: Optional[str] = None,
    client_secret: Optional[str] = None,
    registration_expires_at: Optional[When] = None,
) -> str:
    """Write ``<home>/.aws/sso/cache/<sha1>.json`` as the AWS CLI v2 writes it and return its
    path. For a legacy profile pass the start URL (it is the key and the ``startUrl``); for an
    sso-session pass the session name and ``start_url``. The client registration fields are
    written when ``client_id`` is given (``aws sso login`` for an sso-session always writes
    them). Same bytes as the CLI: ``json.dumps`` defaults, no newline, mode 0600."""
    if start_url is None:
        start_url = session_name_or_start_url
    doc: Dict[str, Any] = {
        "startUrl": start_url,
        "region": region,
        "accessToken": token,
        "expiresAt": _fmt(expires_at),
    }
    if client_id is not None:
        doc["clientId"] = client_id
        doc["clientSecret"] = client_secret or ""
        doc["registrationExpiresAt"] = _fmt(
            registration_expires_at or datetime.now(timezone.utc) + timedelta(days=90)
        )
    if refresh_token is not None:
        doc["refreshToken"] = refresh_token
    path = token_cache_path(home, session_name_or_start_url)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc))
    os.chmod(path, 0o600)
    return path
