"""Base sources of a role chain other than static keys: credential_source and the profile's
own non-static credentials. Each returns a zero-argument callable giving current credentials,
called only when an STS call actually needs them."""

from __future__ import annotations

from typing import Any, Callable

from ..config.plan import NamedSource
from ..credentials import Credentials
from ..errors import CredentialRetrievalError


def named_source(source: NamedSource, ctx: Any) -> Callable[[], Credentials]:
    if source.name == "Environment":
        from .env import EnvProvider

        def from_env() -> Credentials:
            creds = EnvProvider().load(ctx)
            if creds is None:
                raise CredentialRetrievalError(
                    "credential_source = Environment, but AWS_ACCESS_KEY_ID is not set.",
                    provider="Environment",
                    profile=source.profile,
                    key="credential_source",
                    hint="Export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.",
                )
            return creds.get_frozen_credentials()

        return from_env
    return _unsupported(source.kind + " " + source.name, source.profile)


def other_source(base: Any, ctx: Any) -> Callable[[], Credentials]:
    return _unsupported(base.kind, base.profile)


def _unsupported(what: str, profile: str) -> Callable[[], Credentials]:
    def fail() -> Credentials:
        raise CredentialRetrievalError(
            f"{what} is not supported by this version of awsroles yet.",
            profile=profile,
            hint="Use static keys, credential_source = Environment, or botocore's own chain "
            "for this profile.",
        )

    return fail
