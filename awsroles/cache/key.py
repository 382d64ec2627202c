"""Where an entry lives: the AWS CLI's cache directory and botocore's file-name algorithm.

botocore names an entry ``<sha1 of the call's arguments as sorted-key JSON>.json``
(``BaseAssumeRoleCredentialFetcher._create_cache_key``); awsroles computes the same name, so
the AWS CLI finds the entries awsroles writes and awsroles finds the CLI's.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional

__all__ = ["cache_key", "sso_cache_key", "default_cache_dir", "check_key"]

#: Keys that vary per call and are never part of the cache key.
_PER_CALL_ARGS = ("TokenCode", "WebIdentityToken")


def cache_key(args: Mapping[str, Any]) -> str:
    """botocore's cache key for ``args``, the AssumeRole (or AssumeRoleWithWebIdentity)
    keyword arguments; an MFA session's are ``Action``, ``AccessKeyId``, ``SerialNumber``
    and ``DurationSeconds`` (:mod:`awsroles.resolver.mfa_session`).

    A falsy ``RoleSessionName`` is dropped, as botocore drops the name it generates in its
    place. ``TokenCode`` and ``WebIdentityToken`` are dropped too: botocore adds them only at
    call time. A ``Policy`` document is loaded and dumped again, so its keys sort too.
    """
    import hashlib
    import json

    if "RoleArn" not in args and args.get("Action") != "GetSessionToken":
        raise ValueError("cache_key: the AssumeRole arguments must include RoleArn")
    data = {k: v for k, v in args.items() if k not in _PER_CALL_ARGS}
    if "RoleSessionName" in data and not data["RoleSessionName"]:
        del data["RoleSessionName"]
    if "Policy" in data:
        policy = data["Policy"]
        if not isinstance(policy, (str, bytes, bytearray)):
            raise TypeError("cache_key: Policy must be a JSON document string")
        from .._untrusted import json_loads

        data["Policy"] = json_loads(policy)
    text = json.dumps(data, sort_keys=True)
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return digest.replace(":", "_").replace(os.sep, "_").replace("/", "_")


def sso_cache_key(
    start_url: str, role_name: str, account_id: str, session_name: Optional[str]
) -> str:
    """botocore's name for an SSO role's entry (``SSOCredentialFetcher._create_cache_key``,
    the AWS CLI v2's): the SHA-1 of the compact sorted-key JSON of ``roleName``,
    ``accountId`` and, for an ``sso-session`` profile, ``sessionName``, else ``startUrl``."""
    import hashlib
    import json

    args = {"roleName": role_name, "accountId": account_id}
    if session_name:
        args["sessionName"] = session_name
    else:
        args["startUrl"] = start_url
    text = json.dumps(args, sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha1(text.encode("utf-8")).hexdigest()
    return digest.replace(":", "_").replace(os.sep, "_").replace("/", "_")


def default_cache_dir(env: Mapping[str, str]) -> str:
    """The AWS CLI's ``~/.aws/cli/cache``, with ``~`` expanded from ``env`` as expanduser does."""
    from ..config.paths import expanduser_home

    return os.path.join(expanduser_home(env), ".aws", "cli", "cache")


def check_key(key: str) -> str:
    """``key`` when it is usable as a file name in the cache directory, else ValueError."""
    if not isinstance(key, str) or not key or key[0] == "." or any(c in key for c in "/\\\0"):
        raise ValueError(f"not a usable cache key: {key!r}")
    return key
