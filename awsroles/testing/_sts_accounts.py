"""What :class:`~awsroles.testing.fake_sts.FakeSTS` knows and decides: the principals (IAM users
and the credentials it issued), the role rules, MFA devices and web identity tokens, and the
answer to each action given a caller. The HTTP side, recorded calls and injected faults stay in
``fake_sts``; the XML and the error texts are in ``_sts_wire``."""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
from datetime import datetime, timedelta
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

from ._secrets import new_secret, remember
from ._sts_wire import (
    ROLE_ARN,
    _fail,
    _signature_ok,
    _validation,
    assume_role_xml,
    check_common,
    check_session_duration,
    check_token_code,
    issued_xml,
    session_xml,
    web_identity_xml,
)

__all__ = ["Accounts", "FakeRole", "Request"]

_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


class FakeRole(NamedTuple):
    external_id: Optional[str] = None
    mfa_serial: Optional[str] = None
    mfa_code: Optional[str] = None
    max_session_duration: int = 43200
    deny: bool = False


class _Principal(NamedTuple):
    access_key: str
    secret_key: str
    token: Optional[str]
    account: str
    arn: str
    user_id: str
    expires: Optional[float]  # epoch seconds, temporary credentials only
    mfa: bool = False  # an MFA session's credentials (GetSessionToken with a code)

    def __repr__(self) -> str:  # secret key and token stay out of assertion messages
        return f"_Principal({self.access_key!r}, {self.arn!r})"


class Request(NamedTuple):
    """The parts of a request the checks read (an HTTP handler has the same attributes)."""

    command: str
    path: str
    headers: Any


def _stable_id(prefix: str, text: str) -> str:
    digest = hashlib.sha1(text.encode()).digest()
    return prefix + "".join(_ALNUM[b % 32] for b in digest[:17])


class Accounts:
    """The server's identity state, safe to use from the server's many threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: Dict[str, _Principal] = {}
        self._roles: Dict[str, FakeRole] = {}
        self._mfa_codes: Dict[str, str] = {}
        self._web_tokens: Dict[str, Tuple[str, str, Optional[str]]] = {}

    # -- registration ------------------------------------------------------------------------

    def add_user(self, access_key: str, secret_key: str, account: str, name: str) -> None:
        remember(secret_key)
        user = _Principal(
            access_key,
            secret_key,
            None,
            account,
            f"arn:aws:iam::{account}:user/{name}",
            _stable_id("AIDA", f"{account}/{name}"),
            None,
        )
        with self._lock:
            self._keys[access_key] = user

    def add_role(self, role_arn: str, role: FakeRole) -> None:
        with self._lock:
            self._roles[role_arn] = role
            if role.mfa_serial is not None and role.mfa_code is not None:
                self._mfa_codes[role.mfa_serial] = role.mfa_code

    def add_mfa_device(self, serial: str, code: str) -> None:
        with self._lock:
            self._mfa_codes[serial] = code

    def expire(self, access_key: str, now: datetime) -> None:
        with self._lock:
            principal = self._keys[access_key]
            self._keys[access_key] = principal._replace(expires=now.timestamp())

    def add_web_identity_token(
        self, token: str, subject: str, audience: str, provider: Optional[str]
    ) -> None:
        remember(token)
        with self._lock:
            self._web_tokens[token] = (subject, audience, provider)

    # -- decisions ---------------------------------------------------------------------------

    def authenticate(
        self, h: Request, body: bytes, m: Optional[re.Match[str]], now: datetime
    ) -> _Principal:
        """The principal whose valid SigV4 signature the request carries, or the STS error."""
        if not h.headers.get("Authorization"):
            raise _fail("no_auth")
        if m is None:
            raise _fail("bad_auth")
        key, day, region, service, signed, signature = m.groups()
        with self._lock:
            principal = self._keys.get(key)
        token = h.headers.get("X-Amz-Security-Token")
        if principal is None or (principal.token is not None and token != principal.token):
            raise _fail("bad_key")
        if principal.expires is not None and now.timestamp() >= principal.expires:
            raise _fail("expired")
        amz_date = h.headers.get("X-Amz-Date") or ""
        if service != "sts":
            raise _fail("service")
        if not amz_date.startswith(day) or "host" not in signed.split(";"):
            raise _fail("date")
        if not _signature_ok(h, body, principal, region, signed.split(";"), amz_date, signature):
            raise _fail("signature")
        return principal

    def assume_role(
        self,
        params: Dict[str, str],
        caller: _Principal,
        now: datetime,
        strict: bool,
        lifetime: Optional[float] = None,
    ) -> str:
        role_arn, session, duration = check_common(params)
        code = check_token_code(params.get("TokenCode"))
        role = self._role(role_arn, strict) or FakeRole()
        denied = _fail("denied", value=caller.arn, role=role_arn)
        if role.deny or (
            role.external_id is not None and params.get("ExternalId") != role.external_id
        ):
            raise denied
        if role.mfa_serial is not None and not (caller.mfa and code is None):
            # an MFA session's credentials carry the MFA context: no code needed
            if params.get("SerialNumber") != role.mfa_serial or code is None:
                raise denied
            if role.mfa_code is not None and code != role.mfa_code:
                raise _fail("mfa")
        if ":assumed-role/" in caller.arn and duration > 3600:
            raise _fail("chaining")
        if duration > role.max_session_duration:
            raise _fail("max")
        seconds = duration if lifetime is None else lifetime
        return assume_role_xml(self._issue_role(role_arn, session, seconds, now), params)

    def get_session_token(self, params: Dict[str, str], caller: _Principal, now: datetime) -> str:
        """An MFA (or plain) session for an IAM user's long-lived keys; refused with session
        credentials, as real STS refuses it."""
        if caller.token is not None:
            raise _fail("session_creds")
        duration = check_session_duration(params)
        serial, code = params.get("SerialNumber"), check_token_code(params.get("TokenCode"))
        if (serial is None) != (code is None):
            raise _fail("mfa_both")
        if serial is not None:
            with self._lock:
                expected = self._mfa_codes.get(serial)
            if expected is not None and code != expected:
                raise _fail("mfa")
        expires = now + timedelta(seconds=duration)
        issued = self._new_key(
            lambda key: caller._replace(
                access_key=key,
                secret_key=new_secret(30),
                token=new_secret(96),
                expires=expires.timestamp(),
                mfa=serial is not None,
            )
        )
        return session_xml(issued, expires)

    def web_identity(self, params: Dict[str, str], now: datetime, strict: bool) -> str:
        role_arn, session, duration = check_common(params)
        token = params.get("WebIdentityToken") or ""
        with self._lock:
            claims = self._web_tokens.get(token) or self._web_tokens.get(token.strip())
        if claims is None:
            raise _fail("jwt")
        role = self._role(role_arn, strict) or FakeRole()
        if role.deny:
            raise _fail("web_denied")
        if duration > role.max_session_duration:
            raise _fail("max")
        subject, audience, provider = claims
        acct = role_arn.split(":")[4]
        provider = provider or f"arn:aws:iam::{acct}:oidc-provider/oidc.example.com"
        xml = self._issue_role(role_arn, session, duration, now)
        return web_identity_xml(xml, subject, audience, provider)

    # -- helpers -----------------------------------------------------------------------------

    def _role(self, role_arn: str, strict: bool) -> Optional[FakeRole]:
        with self._lock:
            role = self._roles.get(role_arn)
        if role is None and strict:
            role = FakeRole(deny=True)
        return role

    def _new_key(self, make: Callable[[str], _Principal]) -> _Principal:
        """Register ``make(key)`` under a fresh, unused ASIA access key."""
        with self._lock:
            while True:
                key = "ASIA" + "".join(secrets.choice(_ALNUM) for _ in range(16))
                if key not in self._keys:
                    break
            principal = self._keys[key] = make(key)
        return principal

    def _issue_role(self, role_arn: str, session: str, duration: float, now: datetime) -> str:
        """New credentials for a session of the role, as the ``Credentials`` XML."""
        match = ROLE_ARN.match(role_arn)
        if match is None:  # check_common refuses such an ARN before this is reached
            raise _validation(role_arn, "roleArn", "a role ARN")
        acct, role_name = match.groups()
        expires = now + timedelta(seconds=duration)
        issued = self._new_key(
            lambda key: _Principal(
                key,
                new_secret(30),
                new_secret(96),
                acct,
                f"arn:aws:sts::{acct}:assumed-role/{role_name}/{session}",
                f"{_stable_id('AROA', role_arn)}:{session}",
                expires.timestamp(),
            )
        )
        return issued_xml(issued, expires)
