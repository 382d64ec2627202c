"""MFA sessions (``awsroles_mfa_session_seconds = N`` on a role with ``mfa_serial``).

One ``GetSessionToken(SerialNumber, TokenCode, DurationSeconds=N)`` made with long-lived IAM
user keys gives credentials that carry the MFA context. Roles whose trust policy requires MFA
accept them without a code, so the role is assumed with the session's credentials and without
``SerialNumber``/``TokenCode``, and while the session lasts no refresh of the role (nor of any
role sharing the source keys and the device) needs a code, background refreshes included.

The session is kept in the shared cache like a role's entry (the AWS CLI's JSON shape), named
by the sha1 of the sorted-key JSON of ``{"Action": "GetSessionToken", "AccessKeyId": <source
key id>, "SerialNumber": ..., "DurationSeconds": N}``; the role's own entry keeps botocore's
name (``SerialNumber`` included), so the AWS CLI finds it and does not ask either.
"""

from __future__ import annotations

from ..config.validate import MFA_SESSION_KEY
from ..errors import InvalidConfigError
from .cached_fetch import CachedStsFetch
from .link import Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict

    from ..config.model import RoleHop
    from ..context import Context
    from ..credentials import Credentials

__all__ = ["SessionTokenFetcher", "session_link", "session_cache_args", "METHOD"]

METHOD = "mfa-session"


def session_cache_args(access_key: str, serial: str, seconds: int) -> Dict[str, Any]:
    """The arguments an MFA session's cache entry is named by."""
    return {
        "Action": "GetSessionToken",
        "AccessKeyId": access_key,
        "SerialNumber": serial,
        "DurationSeconds": seconds,
    }


class SessionTokenFetcher(CachedStsFetch):
    """GetSessionToken through the shared cache, for the MFA hop ``hop`` whose source is
    ``source`` (long-lived keys)."""

    method = METHOD
    lock_factor = 5  # a person may be typing the code while others wait

    def __init__(self, hop: RoleHop, source: Link, ctx: Context) -> None:
        super().__init__(None, ctx, f"profile '{hop.profile}' (MFA session, {hop.mfa_serial})")
        self.hop = hop
        self._source = source

    def _long_lived_source(self) -> Credentials:
        creds = self._source.credentials.get_frozen_credentials()
        if creds.token is not None or creds.expiry is not None:
            raise InvalidConfigError(
                f"{MFA_SESSION_KEY} needs long-lived IAM user keys as the role's source, but "
                "its source credentials are temporary (they carry a session token).",
                profile=self.hop.profile,
                key=MFA_SESSION_KEY,
                hint="Give the source profile (or the environment) an IAM user's access key, "
                "or remove the key.",
            )
        return creds

    def _cache_args(self) -> Dict[str, Any]:
        hop = self.hop
        assert hop.mfa_serial is not None and hop.mfa_session_seconds is not None
        source = self._long_lived_source()
        return session_cache_args(source.access_key, hop.mfa_serial, hop.mfa_session_seconds)

    def _call_sts(self) -> Credentials:
        from .mfa import get_token_code

        hop, ctx = self.hop, self._ctx
        assert hop.mfa_serial is not None
        source = self._long_lived_source()
        code = get_token_code(
            hop.mfa_serial,
            hop.profile,
            prompter=ctx.services.prompter,
            mfa_process=hop.mfa_process,
            ctx=ctx,
        )
        response = ctx.sts_client().get_session_token(
            source, hop.mfa_serial, code, hop.mfa_session_seconds
        )
        return self._keep(response)


def session_link(hop: RoleHop, source: Link, ctx: Context) -> Link:
    """The MFA session ``hop`` rides, as a link of its chain (between the source and the
    hop): refreshable credentials that ask for a code only when the session must be made."""
    fetcher = SessionTokenFetcher(hop, source, ctx)
    creds = ctx.refreshable(fetcher, method=METHOD, label=fetcher.label, forget=fetcher.forget)
    return Link(creds, fetcher)
