"""``awsroles.resolve`` and ``awsroles.explain``: what the caller chose becomes a
``Settings`` record and the services it talks to a
``Services`` object; the provider chain runs on both."""

from __future__ import annotations

from .context import DEFAULT_CACHE, DEFAULT_LOCK_TIMEOUT, Context, Services, Settings
from .errors import InvalidConfigError
from .resolver.chain import CredentialChain, default_providers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Mapping, Optional, Sequence, TextIO

    from .config.files import SharedConfig
    from .protocols import Clock, CredentialCache, CredentialSource, Prompter, Transport
    from .providers.base import Provider

__all__ = ["resolve", "explain"]


def resolve(
    profile: Optional[str] = None,
    *,
    region: Optional[str] = None,
    sts_endpoint_url: Optional[str] = None,
    role_options: Optional[Mapping[str, Any]] = None,
    advisory_timeout: Optional[float] = None,
    mandatory_timeout: Optional[float] = None,
    background_refresh: bool = True,
    lock_timeout: float = DEFAULT_LOCK_TIMEOUT,
    process_timeout: Optional[float] = None,
    env: Optional[Mapping[str, str]] = None,
    clock: Optional[Clock] = None,
    transport: Optional[Transport] = None,
    cache: Optional[CredentialCache] = DEFAULT_CACHE,
    prompter: Optional[Prompter] = None,
    process_stderr: Optional[TextIO] = None,
    config: Optional[SharedConfig] = None,
    providers: Optional[Sequence[Provider]] = None,
) -> CredentialSource:
    """Credentials for ``profile`` (None: the default chain: environment variables, then
    ``AWS_DEFAULT_PROFILE`` / ``AWS_PROFILE`` / ``default``, then the container and instance
    metadata).

    Returns ``awsroles.Credentials`` for long-lived keys, or
    ``awsroles.RefreshableCredentials`` for temporary ones; both have
    ``get_frozen_credentials()``.

    What to resolve: ``region`` and ``sts_endpoint_url`` (where STS calls go; by default the
    profile and environment decide); ``role_options``, AssumeRole options for the selected
    profile's role (``policy``, ``policy_arns``, ``tags``, ``transitive_tag_keys``,
    ``source_identity``, ``duration_seconds``, ``role_session_name``, ``external_id``).

    How to refresh: ``advisory_timeout`` and ``mandatory_timeout`` (the refresh windows in
    seconds; by default chosen from the credentials' lifetime, and 60 s);
    ``background_refresh`` (False: refresh inline on the caller's thread); ``lock_timeout``
    (seconds to wait for another process's refresh of the same cache entry);
    ``process_timeout`` (seconds a ``credential_process`` may run; None: 300; 0: no limit).

    What to talk to, for tests and special cases: ``env`` (instead of ``os.environ``),
    ``clock``, ``transport`` (HTTP), ``cache`` (a cache object, or None for no cache),
    ``prompter`` (asks for an MFA code; by default the terminal), ``process_stderr`` (where a
    ``credential_process`` writes its stderr), ``config`` (parsed shared files) and
    ``providers`` (instead of the default chain; see ``awsroles.providers.base.Provider``).
    """
    ctx = Context(
        Settings(
            profile=profile,
            region=region,
            sts_endpoint_url=sts_endpoint_url,
            role_options=role_options,
            advisory_timeout=advisory_timeout,
            mandatory_timeout=mandatory_timeout,
            background_refresh=background_refresh,
            lock_timeout=lock_timeout,
            process_timeout=process_timeout,
        ),
        Services(
            env=env,
            clock=clock,
            transport=transport,
            cache=cache,
            prompter=prompter,
            process_stderr=process_stderr,
            config=config,
        ),
    )
    chain = CredentialChain(default_providers(ctx) if providers is None else providers)
    resolution = chain.resolve(ctx)
    if ctx.settings.role_options and resolution.found.plan is None:
        raise InvalidConfigError(
            "role_options were given, but the credentials came from the "
            f"{resolution.found.provider} provider, not from a role profile; "
            "they would be ignored.",
            hint="Name a role profile (profile=...), or leave role_options out.",
        )
    return resolution.credentials


def explain(
    profile: Optional[str] = None,
    *,
    role_options: Optional[Mapping[str, Any]] = None,
    env: Optional[Mapping[str, str]] = None,
    clock: Optional[Clock] = None,
    cache: Optional[CredentialCache] = DEFAULT_CACHE,
    config: Optional[SharedConfig] = None,
    providers: Optional[Sequence[Provider]] = None,
) -> str:
    """A readable account of how ``profile`` resolves: the files, every provider's answer,
    the plan and its cache entries. Secrets are never shown. It reads files and the cache and
    makes no network call. The parameters mean what they mean for ``resolve()``."""
    from .resolver.report import render_report

    ctx = Context(
        Settings(profile=profile, role_options=role_options),
        Services(env=env, clock=clock, cache=cache, config=config),
    )
    return render_report(ctx, providers)[0]
