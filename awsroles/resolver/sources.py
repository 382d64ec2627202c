"""The base of a plan as a credential object: static keys, ``credential_source``, web
identity, ``credential_process``, SSO, ``login_session``. Each is lazy: nothing runs, reads or
calls out until its credentials are first needed, which for a role chain is only when STS must
be called."""

from __future__ import annotations

import threading

from .._fork import track as reset_after_fork
from ..config.model import (
    LoginSource,
    NamedSource,
    ProcessSource,
    SsoSource,
    StaticKeys,
    WebIdentitySource,
)
from ..errors import CredentialRetrievalError
from ..providers import web_identity
from ..providers.base import NotApplicable
from ..sts.params import cache_args
from .cached_fetch import CachedStsFetch, generated_session_name
from .link import Link

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Callable, Optional

    from ..config.model import BaseSource
    from ..context import Context
    from ..credentials import Credentials
    from ..protocols import CredentialSource

__all__ = ["base_link", "Lazy", "WebIdentityFetcher"]


class Lazy:
    """A credential object built on first use by ``load()`` (which returns Credentials or a
    RefreshableCredentials); afterwards every call goes to that object."""

    def __init__(self, load: Callable[[], CredentialSource], label: str, method: str) -> None:
        self._load = load
        self._label = label
        self.method = method
        self._obj: Optional[CredentialSource] = None
        self._lock = threading.Lock()
        reset_after_fork(self)

    def _after_fork(self) -> None:
        self._lock = threading.Lock()

    def get(self) -> CredentialSource:
        obj = self._obj
        if obj is None:
            with self._lock:
                obj = self._obj
                if obj is None:
                    obj = self._obj = self._load()
        return obj

    def get_frozen_credentials(self) -> Credentials:
        return self.get().get_frozen_credentials()

    @property
    def built(self) -> CredentialSource:
        """The credential object itself (built now if it was not yet)."""
        return self.get()

    def __repr__(self) -> str:
        return f"Lazy({self._label}, {self._obj!r})"


class WebIdentityFetcher(CachedStsFetch):
    """AssumeRoleWithWebIdentity through the shared cache."""

    method = web_identity.METHOD

    def __init__(self, source: WebIdentitySource, ctx: Context) -> None:
        super().__init__(cache_args(source), ctx, f"web identity for {source.role_arn}")
        self.source = source
        self.session_name = source.role_session_name or generated_session_name(ctx.clock)

    def _call_sts(self) -> Credentials:
        return self._keep(web_identity.assume_role(self._ctx, self.source, self.session_name))


def base_link(base: BaseSource, ctx: Context) -> Link:
    """The plan's base as the first link of its chain. Nothing is read, run or called until
    its credentials are first used."""
    if isinstance(base, WebIdentitySource):
        fetch = WebIdentityFetcher(base, ctx)
        label = f"web identity ({base.role_arn})"
        creds = ctx.refreshable(fetch, method=fetch.method, label=label, forget=fetch.forget)
        return Link(creds, fetch)
    return Link(_base_source(base, ctx))


def _base_source(base: BaseSource, ctx: Context) -> CredentialSource:
    """A credential object (with ``get_frozen_credentials``) for a base other than web
    identity (which :func:`base_link` makes)."""
    if isinstance(base, StaticKeys):
        return base.credentials()
    if isinstance(base, NamedSource):
        return Lazy(lambda: _named(base, ctx), f"credential_source {base.name}", base.name)
    if isinstance(base, ProcessSource):
        from ..providers.process import METHOD, process_credentials

        return Lazy(lambda: process_credentials(base, ctx), "credential_process", METHOD)
    if isinstance(base, SsoSource):
        from ..providers.sso import METHOD as SSO
        from .sso import cached_sso_credentials

        return Lazy(lambda: cached_sso_credentials(base, ctx), "sso", SSO)
    if isinstance(base, LoginSource):
        from ..providers.login import METHOD as LOGIN
        from ..providers.login import login_credentials

        return Lazy(lambda: login_credentials(base, ctx), "login", LOGIN)
    raise TypeError(f"unknown plan base {type(base).__name__}")


def _named(source: NamedSource, ctx: Context) -> CredentialSource:
    """The credentials of ``credential_source``: the provider of that name must supply them
    (where the default chain would go on, this is an error naming the profile)."""
    if source.name == "Ec2InstanceMetadata":
        from ..providers.imds import ImdsProvider

        return ImdsProvider().load_or_raise(ctx)  # raises the real reason, never None
    if source.name == "Environment":
        from ..providers.env import EnvProvider

        found = EnvProvider().find(ctx)
    else:
        from ..providers.container import ContainerProvider

        found = ContainerProvider().find(ctx)
    loaded = found if isinstance(found, NotApplicable) else found.load()
    if isinstance(loaded, NotApplicable):
        raise CredentialRetrievalError(
            f"credential_source = {source.name}, but no credentials came from it "
            f"({loaded.reason}).",
            provider=source.name,
            profile=source.profile,
            key="credential_source",
        )
    return loaded
