"""The ``aws login`` session cache, written for tests: ``~/.aws/login/cache/<sha256>.json``
with the fields the AWS CLI writes (``accessToken``, ``clientId``, ``refreshToken``,
``idToken``, ``dpopKey``), mode 0600.

    path = write_login_cache(home, "arn:aws:iam::111122223333:user/me",
                             access_key=..., secret_key=..., session_token=...,
                             account_id="111122223333", expires_at=now + 15 minutes,
                             refresh_token=..., dpop_key=new_dpop_key())

:func:`new_dpop_key` makes a P-256 key in the PEM form the CLI stores (SEC1
``EC PRIVATE KEY``); it needs ``cryptography``, as the provider does.
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import datetime, timezone
from typing import Any, Dict, Optional, Union

__all__ = [
    "SAME_DEVICE_CLIENT",
    "login_cache_path",
    "new_dpop_key",
    "write_login_cache",
    "read_login_cache",
]

#: The client id ``aws login`` registers as on the machine where the browser runs.
SAME_DEVICE_CLIENT = "arn:aws:signin:::devtools/same-device"
_TIME = "%Y-%m-%dT%H:%M:%SZ"
PathLike = Union[str, "os.PathLike[str]"]


def login_cache_path(
    home: Optional[PathLike], session: str, *, cache_dir: Optional[PathLike] = None
) -> str:
    """Where the session named ``session`` lives: ``cache_dir`` (``AWS_LOGIN_CACHE_DIRECTORY``)
    or ``<home>/.aws/login/cache``, then the SHA-256 of the name."""
    if cache_dir is None:
        if home is None:
            raise ValueError("login_cache_path: give home or cache_dir")
        cache_dir = os.path.join(os.fspath(home), ".aws", "login", "cache")
    digest = hashlib.sha256(session.encode("utf-8")).hexdigest()
    return os.path.join(os.fspath(cache_dir), digest + ".json")


def new_dpop_key() -> str:
    """A fresh P-256 private key as SEC1 PEM (``-----BEGIN EC PRIVATE KEY-----``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii")


def _fmt(when: Union[datetime, str]) -> str:
    if isinstance(when, str):
        return when
    if when.tzinfo is not None:
        when = when.astimezone(timezone.utc)
    return when.strftime(_TIME)


def write_login_cache(
    home: Optional[PathLike],
    session: str,
    *,
    access_key: str,
    secret_key: str,
    session_token: str,
    expires_at: Union[datetime, str],
    refresh_token: str,
    dpop_key: str,
    account_id: Optional[str] = None,
    client_id: str = SAME_DEVICE_CLIENT,
    id_token: Optional[str] = None,
    cache_dir: Optional[PathLike] = None,
    extra: Optional[Dict[str, Any]] = None,
) -> str:
    """Write the session file as ``aws login`` leaves it and return its path (directories
    made as needed; the file 0600). ``extra`` adds or overrides top-level fields (a
    ``tokenType``, or a broken value for a test)."""
    access: Dict[str, Any] = {
        "accessKeyId": access_key,
        "secretAccessKey": secret_key,
        "sessionToken": session_token,
    }
    if account_id is not None:
        access["accountId"] = account_id
    access["expiresAt"] = _fmt(expires_at)
    doc: Dict[str, Any] = {
        "accessToken": access,
        "clientId": client_id,
        "refreshToken": refresh_token,
    }
    if id_token is not None:
        doc["idToken"] = id_token
    doc["dpopKey"] = dpop_key
    doc.update(extra or {})
    path = login_cache_path(home, session, cache_dir=cache_dir)
    write_document(path, doc)
    return path


def write_document(path: str, doc: Any) -> None:
    """``json.dumps(doc)`` at ``path``, 0600 (a vector's cache file as it is written)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as f:
        f.write(json.dumps(doc))
    os.chmod(path, 0o600)


def read_login_cache(
    home: Optional[PathLike], session: str, *, cache_dir: Optional[PathLike] = None
) -> Dict[str, Any]:
    """The session document, as a test reads it back."""
    with open(login_cache_path(home, session, cache_dir=cache_dir), encoding="utf-8") as f:
        doc: Dict[str, Any] = json.load(f)
    return doc
