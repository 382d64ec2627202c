"""The functions behind ``awsroles.resolve`` and ``awsroles.explain``."""

from __future__ import annotations

from typing import Any, Optional, Sequence

from .context import Context
from .resolver.chain import CredentialChain, default_providers

__all__ = ["resolve", "explain", "make_context"]


def make_context(profile: Optional[str] = None, **options: Any) -> Context:
    return Context(profile, **options)


def resolve(
    profile: Optional[str] = None,
    *,
    providers: Optional[Sequence[Any]] = None,
    **options: Any,
) -> Any:
    """Credentials for ``profile`` (or the default chain when None).

    Returns :class:`awsroles.Credentials` for long-lived keys, or
    :class:`awsroles.RefreshableCredentials` for temporary ones; both have
    ``get_frozen_credentials()``. ``providers`` replaces the default chain (a list of objects
    with ``name``, ``load(ctx)`` and ``check(ctx)``). Other keyword options: ``env``,
    ``cache`` (a cache object, or None for no cache), ``prompter``, ``clock``, ``transport``,
    ``region``, ``sts_endpoint_url``, ``advisory_timeout``, ``mandatory_timeout``,
    ``background_refresh``, ``lock_timeout``, and ``role_options`` (a dict for the selected
    profile's role: ``policy``, ``policy_arns``, ``tags``, ``transitive_tag_keys``,
    ``source_identity``, ``duration_seconds``, ``role_session_name``, ``external_id``).
    """
    ctx = Context(profile, **options)
    chain = CredentialChain(providers if providers is not None else default_providers(ctx))
    creds = chain.resolve(ctx)
    if ctx.role_options and not getattr(ctx, "role_options_applied", False):
        from .errors import InvalidConfigError

        raise InvalidConfigError(
            "role_options were given, but the credentials came from the "
            f"{getattr(creds, 'method', 'first')} provider, not from a role profile; "
            "they would be ignored.",
            hint="Name a role profile (profile=...), or leave role_options out.",
        )
    return creds


def explain(
    profile: Optional[str] = None,
    *,
    providers: Optional[Sequence[Any]] = None,
    **options: Any,
) -> str:
    """A readable account of how ``profile`` resolves: files, chain, plan, cache entries.
    Secrets are never shown. Reads files and the cache; makes no network call."""
    from .resolver.report import render

    ctx = Context(profile, **options)
    return render(
        ctx, CredentialChain(providers if providers is not None else default_providers(ctx))
    )
