"""Credentials from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN."""

from __future__ import annotations

from ..credentials import Credentials, first_unusable
from ..errors import InvalidConfigError, PartialCredentialsError, RefreshError
from .base import Applies, NotApplicable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime
    from typing import Mapping, Optional, Union

    from ..context import Context
    from ..protocols import CredentialSource
    from ..refresh.policy import Mode

METHOD = "env"


def _get(env: Mapping[str, str], name: str) -> Optional[str]:
    """A variable's value; unset, empty and blank are all 'not set' (the SDK vectors)."""
    value = env.get(name)
    if value is None or not value.strip():
        return None
    return value


def read_env_credentials(env: Mapping[str, str]) -> Optional[Credentials]:
    access = _get(env, "AWS_ACCESS_KEY_ID")
    if access is None:
        return None
    secret = _get(env, "AWS_SECRET_ACCESS_KEY")
    if secret is None:
        raise PartialCredentialsError(
            "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is missing or empty.",
            key="AWS_SECRET_ACCESS_KEY",
            hint="Export both variables, or unset AWS_ACCESS_KEY_ID to use a profile.",
        )
    token_var = "AWS_SECURITY_TOKEN" if _get(env, "AWS_SECURITY_TOKEN") else "AWS_SESSION_TOKEN"
    token = _get(env, token_var)
    problem = first_unusable(
        {"AWS_ACCESS_KEY_ID": access, "AWS_SECRET_ACCESS_KEY": secret, token_var: token}
    )
    if problem is not None:
        raise InvalidConfigError(
            f"environment variable {problem} (value not shown).",
            key=problem.split(" ", 1)[0],
            hint="Export the key as AWS issued it: letters, digits, + / and =.",
        )
    expiry = None
    raw_expiry = _get(env, "AWS_CREDENTIAL_EXPIRATION")
    if raw_expiry is not None:
        expiry = _parse_expiry(raw_expiry)
    return Credentials(
        access_key=access,
        secret_key=secret,
        token=token,
        expiry=expiry,
        account_id=_get(env, "AWS_ACCOUNT_ID"),
        method=METHOD,
    )


def _parse_expiry(raw: str) -> datetime:
    from ..timestamps import parse_timestamp

    try:
        return parse_timestamp(raw)  # botocore crashes on naive values; we read them as UTC
    except ValueError:
        raise InvalidConfigError(
            f"AWS_CREDENTIAL_EXPIRATION {raw!r} is not a date and time.",
            key="AWS_CREDENTIAL_EXPIRATION",
            hint="Use ISO 8601, e.g. 2030-01-01T00:00:00Z.",
        ) from None


class EnvProvider:
    """botocore's ``env`` provider: AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY,
    AWS_SESSION_TOKEN (or AWS_SECURITY_TOKEN), AWS_CREDENTIAL_EXPIRATION, AWS_ACCOUNT_ID."""

    name = METHOD

    def find(self, ctx: Context) -> Union[Applies, NotApplicable]:
        if _get(ctx.env, "AWS_ACCESS_KEY_ID") is None:
            return NotApplicable(METHOD, "AWS_ACCESS_KEY_ID is not set")
        return Applies(METHOD, "AWS_ACCESS_KEY_ID is set", lambda: self.load(ctx))

    def load(self, ctx: Context) -> CredentialSource:
        """The credentials in the environment (refreshable, re-read from the environment,
        when AWS_CREDENTIAL_EXPIRATION is set). PartialCredentialsError when incomplete."""
        creds = read_env_credentials(ctx.env)
        if creds is None:
            raise PartialCredentialsError("AWS_ACCESS_KEY_ID is not set.", key="AWS_ACCESS_KEY_ID")
        if creds.expiry is None:
            return creds
        env = ctx.env

        def fetch(mode: Mode, current: Optional[Credentials]) -> Credentials:
            new = read_env_credentials(env)
            if new is None or new.expiry is None:
                raise PartialCredentialsError(
                    "the environment credentials expire but AWS_ACCESS_KEY_ID or "
                    "AWS_CREDENTIAL_EXPIRATION is no longer set.",
                    key="AWS_CREDENTIAL_EXPIRATION",
                )
            if new.expiry <= ctx.clock.now():
                raise RefreshError(
                    f"the environment credentials expired at {new.expiry.isoformat()} and "
                    "the environment holds no newer ones.",
                    key="AWS_CREDENTIAL_EXPIRATION",
                    hint="Export fresh AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                    "AWS_SESSION_TOKEN and AWS_CREDENTIAL_EXPIRATION.",
                )
            return new

        from ..refresh.sync import RefreshableCredentials

        return RefreshableCredentials(
            fetch,
            method=METHOD,
            clock=ctx.clock,
            initial=creds,
            background_refresh=False,
            label="environment credentials",
        )
